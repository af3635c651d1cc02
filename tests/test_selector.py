"""The selector catalyst: tonics own sockets; readiness and cross-thread sparkles wake it."""
from __future__ import annotations

import socket
import threading

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
    """The ping is sent only once the selector thread has entered select() with no timeout,
    and that very select() call returns because of the wake byte the ping wrote."""
    armed = threading.Event()      # the Sleeper has started: the next select() is the idle one
    in_select = threading.Event()  # the selector thread is entering that select()
    selects = []                   # (timeout, woken by the wake socket) of the watched call
    holder = {}

    class Sleeper(ttTonic):
        def ttse__on_start(self):
            armed.set()            # nothing else is queued: the loop goes to sleep next

        def ttsc__ping(self, token, sent_while_sleeping):
            self.token = token
            self.sent_while_sleeping = sent_while_sleeping
            self.finish()

    def watch_select(selector):
        real_select = selector.select

        def select(timeout=None):
            watched = armed.is_set() and not in_select.is_set()
            if watched:
                in_select.set()
            ready = real_select(timeout)
            if watched:
                selects.append((timeout, any(key.data is None for key, _ in ready)))
            return ready

        selector.select = select

    def ping():
        sleeper = holder["sleeper"]
        sleeper.ttsc__ping({"n": 1}, in_select.wait(30))

    def starting():
        selector = ttSelectorCatalyst(name="net")
        watch_select(selector._tt_sparkle_loop.selector)  # before the Sleeper exists
        holder["sleeper"] = Sleeper(catalyst=selector)
        holder["pinger"] = threading.Thread(target=ping, name="pinger")
        holder["pinger"].start()

    run_app(starting, timeout=60)
    holder["pinger"].join(10)
    assert not holder["pinger"].is_alive()
    sleeper = holder["sleeper"]
    assert sleeper.sent_while_sleeping, "the selector thread never went to sleep in select()"
    assert sleeper.token == {"n": 1}
    # it slept without a timeout (nothing else could wake it) and the ping's wake byte did
    assert selects == [(None, True)]


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


# -- fair I/O ------------------------------------------------------------------------------
CHAIN_LIMIT = 5000


class BusyReader(ttTonic):
    """Runs a chain of sparkles on the selector catalyst while data waits on its socket.

    The chain goes on until the data event has run or ``CHAIN_LIMIT`` steps: where the chain
    was when the data arrived proves, by ordering alone, whether the loop polled its sockets
    during the chain.
    """

    def __init__(self, sock, **kwargs):
        super().__init__(**kwargs)
        self.sock = sock
        self.steps = 0
        self.step_at_data = None

    def ttse__on_start(self):
        self.sock.setblocking(False)
        self.catalyst.register(self.sock, EVENT_READ, self.ttse__on_readable)
        self.tts__step()

    def tts__step(self):
        self.steps += 1
        if self.step_at_data is None and self.steps < CHAIN_LIMIT:
            self.tts__step()  # else the chain ends: an idle loop selects, on_readable finishes

    def ttse__on_readable(self, sock, events):
        self.catalyst.unregister(sock)
        self.step_at_data = self.steps
        self.data = sock.recv(100)
        self.finish()


def _run_busy_reader(poll_every):
    ours, theirs = socket.socketpair()
    theirs.sendall(b"waiting")  # ready before the chain starts
    holder = {}

    def starting():
        selector = ttSelectorCatalyst(name="net", poll_every=poll_every)
        holder["reader"] = BusyReader(ours, catalyst=selector)

    try:
        run_app(starting, timeout=30)
    finally:
        ours.close()
        theirs.close()
    return holder["reader"]


def test_data_waiting_on_a_socket_is_delivered_while_a_chain_runs():
    reader = _run_busy_reader(poll_every=64)
    assert reader.data == b"waiting"
    # delivered during the chain, after at most one poll period (plus the pass it queued in)
    assert reader.step_at_data is not None and reader.step_at_data <= 2 * 64
    # the chain stopped because the data came: only the step queued before it ran after it
    assert reader.steps == reader.step_at_data + 1


def test_poll_every_zero_looks_at_sockets_only_when_idle():
    reader = _run_busy_reader(poll_every=0)
    assert reader.data == b"waiting"
    assert reader.step_at_data == CHAIN_LIMIT  # the whole chain ran first


def test_poll_every_is_validated():
    errors = []

    class Maker(ttTonic):
        def ttse__on_start(self):
            for value in (-1, 1.5, True):
                try:
                    ttSelectorCatalyst(name=f"bad{value}", poll_every=value)
                except (TypeError, ValueError) as exc:
                    errors.append((type(exc), str(exc)))
            self.finish()

    run_app(lambda: Maker(), timeout=30)
    assert [kind for kind, _ in errors] == [ValueError, TypeError, TypeError]
    assert all("poll_every of catalyst 'bad" in text for _, text in errors)
