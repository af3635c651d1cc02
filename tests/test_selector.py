"""The selector catalyst: tonics own sockets; readiness and cross-thread sparkles wake it."""
from __future__ import annotations

import socket
import threading

import pytest

from tasktonic import ttTonic
from tasktonic.selector import EVENT_READ, ttSelectorCatalyst
from tests.conftest import run_app


class Reader(ttTonic):
    """Owns one end of a socket pair and reads until it has the whole message."""

    def __init__(self, sock, expected, **kwargs):
        super().__init__(**kwargs)
        self.sock = sock
        self.expected = expected
        self.received = b""
        self.threads = set()

    def ttse__on_start(self):
        self.sock.setblocking(False)
        self.catalyst.register(self.sock, EVENT_READ, self.ttse__on_readable)

    def ttse__on_readable(self, sock, events):
        self.threads.add(threading.get_ident())
        self.received += sock.recv(65536)
        if len(self.received) >= len(self.expected):
            self.catalyst.unregister(sock)
            self.finish()


def test_socket_data_arrives_as_a_sparkle_on_the_selector_thread():
    ours, theirs = socket.socketpair()
    message = bytes(range(256)) * 400  # 100 kB, arrives in several reads
    holder = {}

    def starting():
        selector = ttSelectorCatalyst(name="net")
        holder["reader"] = Reader(ours, message, catalyst=selector)
        holder["selector"] = selector
        threading.Thread(target=theirs.sendall, args=(message,), daemon=True).start()

    try:
        run_app(starting, timeout=30)
    finally:
        ours.close()
        theirs.close()
    reader = holder["reader"]
    assert reader.received == message
    assert reader.threads == {holder["selector"]._tt_thread.ident}


def test_a_sparkle_from_another_thread_wakes_a_loop_sleeping_in_select():
    arrived = threading.Event()

    class Sleeper(ttTonic):
        def ttsc__ping(self, token):
            self.token = token
            arrived.set()
            self.finish()

    holder = {}

    def starting():
        selector = ttSelectorCatalyst(name="net")
        holder["sleeper"] = Sleeper(catalyst=selector)
        # the selector thread has nothing to do: it sleeps in select() without a timeout
        threading.Thread(target=holder["sleeper"].ttsc__ping, args=({"n": 1},),
                         daemon=True).start()

    run_app(starting, timeout=30)
    assert arrived.is_set() and holder["sleeper"].token == {"n": 1}


def test_register_rejects_what_is_not_a_sparkle_or_an_event_mask():
    errors = []

    class Picky(ttTonic):
        def ttse__on_start(self):
            a, b = socket.socketpair()
            for args in ((a, EVENT_READ, print), (a, 0, self.ttse__on_readable),
                         (a, 99, self.ttse__on_readable)):
                try:
                    self.catalyst.register(*args)
                except (TypeError, ValueError) as exc:
                    errors.append(type(exc))
            a.close()
            b.close()
            self.finish()

        def ttse__on_readable(self, sock, events):
            pass

    run_app(lambda: Picky(catalyst=ttSelectorCatalyst()), timeout=30)
    assert errors == [TypeError, ValueError, ValueError]
