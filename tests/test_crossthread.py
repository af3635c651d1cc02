"""Calls from other threads: arguments are copied, references stay references, nothing is lost."""
from __future__ import annotations

import threading

from tasktonic import ttCatalyst, ttShared, ttTonic
from tests.conftest import run_app


class Inbox(ttTonic):
    """Keeps what arrives; ``ttsc__check`` runs ``probe(received)`` and finishes."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.received = []
        self.report = {}

    def ttsc__take(self, *args, **kwargs):
        self.received.append((args, kwargs))

    def ttsc__check(self, probe):
        self.report.update(probe(self.received))
        self.finish()


def test_arguments_from_another_thread_are_deep_copies():
    payload = {"numbers": [1, 2], "nested": {"k": "v"}}
    shared = [0]
    cyclic = [1]
    cyclic.append(cyclic)
    inbox = {}

    def sender():
        tonic = inbox["tonic"]
        tonic.ttsc__take(payload, shared, shared, cyc=cyclic, again={"s": shared})
        payload["numbers"].append(3)  # after the call: must not reach the tonic
        payload["added"] = True
        shared.append("late")
        tonic.ttsc__check(probe)

    def probe(received):
        (args, kwargs), = received
        got, first, second = args
        return {
            "payload": got,
            "payload is copy": got is not payload,
            "shared once": first is second is kwargs["again"]["s"],
            "shared copy": first is not shared and first == [0],
            "cycle": kwargs["cyc"][1] is kwargs["cyc"] and kwargs["cyc"] is not cyclic,
        }

    def starting():
        inbox["tonic"] = tonic = Inbox()
        inbox["thread"] = threading.Thread(target=sender)  # a plain thread, not a catalyst
        inbox["thread"].start()
        inbox["report"] = tonic.report

    run_app(starting, timeout=10)
    inbox["thread"].join(10)
    assert not inbox["thread"].is_alive()
    report = inbox["report"]
    assert report["payload"] == {"numbers": [1, 2], "nested": {"k": "v"}}
    assert report["payload is copy"]
    assert report["shared once"]
    assert report["shared copy"]
    assert report["cycle"]


def test_tonics_callables_and_ttshared_arrive_by_reference():
    def function(x):
        return x

    big = {"frame": bytearray(1000)}
    wrapped = ttShared(big)
    sent = {}

    class Origin(ttTonic):
        def method(self):
            return self

        def ttse__on_start(self):
            sent.update(tonic=self, function=function, method=self.method,
                        lamb=lambda: 1, wrapped=wrapped)
            worker = ttCatalyst(name="worker")
            Relay(catalyst=worker).ttsc__relay(self, sent)

        def ttsc__received(self, got):
            sent["got"] = got
            self.finish()

    class Relay(ttTonic):
        def ttsc__relay(self, origin, objects):
            # runs in the worker's thread; it sends the same objects back to the main thread
            sent["relay got a copy"] = objects is not sent and objects == sent
            origin.ttsc__received(dict(objects))
            self.finish()

    run_app(Origin)
    got = sent["got"]
    assert sent["relay got a copy"]  # catalyst to catalyst copies the container too
    for key in ("tonic", "function", "method", "lamb", "wrapped"):
        assert got[key] is sent[key], key
    assert got["wrapped"].value is big and got["wrapped"]() is big


def test_same_thread_calls_are_not_copied():
    seen = {}

    class Local(ttTonic):
        def ttse__on_start(self):
            self.data = {"list": [1, 2]}
            self.ttsc__take(self.data, key=self.data["list"])

        def ttsc__take(self, data, key):
            seen["same"] = (data is self.data, key is self.data["list"])
            self.finish()

    run_app(Local)
    assert seen["same"] == (True, True)


# -- the big one -------------------------------------------------------------------------

SENDERS = 4
PER_SENDER = 50_000


class Sink(ttTonic):
    """Counts every arrival and checks the order per sender."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.last = [-1] * SENDERS
        self.count = [0] * SENDERS
        self.out_of_order = []

    def ttsc__put(self, sender_id, seq):
        if seq <= self.last[sender_id]:
            self.out_of_order.append((sender_id, self.last[sender_id], seq))
        self.last[sender_id] = seq
        self.count[sender_id] += 1
        if sum(self.count) == SENDERS * PER_SENDER:
            self.finish()


def test_four_threads_send_200000_sparkles_and_every_one_arrives_in_order():
    holder = {}

    def send(sink, sender_id, go):
        assert go.wait(10)
        put = sink.ttsc__put
        for seq in range(PER_SENDER):
            put(sender_id, seq)

    def starting():
        worker = ttCatalyst(name="worker")
        holder["sink"] = sink = Sink(catalyst=worker)
        go = threading.Event()
        holder["threads"] = threads = [
            threading.Thread(target=send, args=(sink, i, go), name=f"sender-{i}")
            for i in range(SENDERS)]
        for thread in threads:
            thread.start()
        go.set()

    run_app(starting, timeout=120)
    for thread in holder["threads"]:
        thread.join(10)
    assert not any(thread.is_alive() for thread in holder["threads"])
    sink = holder["sink"]
    assert sink.out_of_order == []
    assert sink.count == [PER_SENDER] * SENDERS
    assert sink.last == [PER_SENDER - 1] * SENDERS
    assert sink.finished
