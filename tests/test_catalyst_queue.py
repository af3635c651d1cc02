"""The catalyst's extension points (seed 002, sections 3 and 5A): ``new_catalyst_queue()``
and ``sparkle()``. Run on both twins by ``make test``."""
from __future__ import annotations

import queue
import selectors
import socket
import threading

from tasktonic import ttCatalyst, ttTimerSingleShot, ttTonic
from tasktonic._switch import loop as switch_loop
from tasktonic.queue_loop import WAKE_ORDER, CatalystWorkOrder, QueueLoop
from tests.conftest import run_app


# -- new_catalyst_queue() ----------------------------------------------------------------------
class RecordingQueue(queue.SimpleQueue):
    """A notifying queue (like the document's MyNotifyingQueue): it records every put (with the
    putting thread) and every get's timeout."""

    def __init__(self):
        super().__init__()
        self.puts = []
        self.get_timeouts = []
        self.notified = threading.Event()

    def put(self, item, block=True, timeout=None):
        self.puts.append((threading.get_ident(), item))  # list.append is atomic
        super().put(item, block, timeout)
        self.notified.set()

    def get(self, block=True, timeout=None):
        self.get_timeouts.append(timeout)
        return super().get(block, timeout)


class QueueCatalyst(ttCatalyst):
    def new_catalyst_queue(self):
        return RecordingQueue()


class Worker(ttTonic):
    """Runs on a QueueCatalyst: a job from another thread, a sparkle to itself, state
    transitions (extra sparkles), a timer, then a reply to the app and the end."""

    def __init__(self, events, **kwargs):
        super().__init__(**kwargs)
        self.events = events

    def ttse__on_start(self):
        self.events.append(("start", self.catalyst.on_own_thread()))
        self.to_state("idle")

    def ttse_idle__on_enter(self):
        self.events.append("enter idle")

    def ttse_idle__on_exit(self):
        self.events.append("exit idle")

    def ttsc_idle__job(self, payload, tag=None):
        self.payload = payload
        self.events.append(("job", list(payload), tag, self.catalyst.on_own_thread()))
        self.ttsc__own(len(payload))  # from the catalyst's own thread

    def ttsc__own(self, n):
        self.events.append(("own", n))
        self.to_state("waiting")

    def ttse_waiting__on_enter(self):
        self.events.append("enter waiting")
        ttTimerSingleShot(0.001, name="nap")

    def ttse__on_nap(self, info):
        self.events.append(("timer", self._tt_state_name))
        self.app.ttse__on_done(len(self.events))
        self.finish()


class App(ttTonic):
    def __init__(self, worker, payload, **kwargs):
        super().__init__(**kwargs)
        self.worker = worker
        self.payload = payload
        self.done = None

    def ttse__on_start(self):
        self.thread = threading.get_ident()
        self.worker.app = self
        self.worker.ttsc__job(self.payload, tag="t")  # from the main catalyst's thread

    def ttse__on_done(self, count):
        self.done = count
        self.finish()


def test_an_overridden_catalyst_queue_carries_every_work_order_and_the_app_exits():
    events = []
    holder = {}

    def starting():
        catalyst = QueueCatalyst(name="queued")
        worker = Worker(events, catalyst=catalyst)
        holder.update(catalyst=catalyst, worker=worker, payload=[1, 2, 3])
        holder["app"] = App(worker, holder["payload"])

    run_app(starting, timeout=30)
    catalyst, worker, app = holder["catalyst"], holder["worker"], holder["app"]
    plain = app.catalyst  # the formula's main catalyst: a ttCatalyst that overrides nothing

    # the extension point is used; a catalyst that overrides nothing keeps the fast loop
    q = catalyst.catalyst_queue
    assert isinstance(q, RecordingQueue)
    assert isinstance(catalyst.sparkle_loop, QueueLoop)
    assert type(plain) is ttCatalyst and plain.catalyst_queue is None
    assert type(plain.sparkle_loop) is switch_loop.SparkleLoop

    assert events == [("start", True), "enter idle", ("job", [1, 2, 3], "t", True),
                      ("own", 3), "exit idle", "enter waiting", ("timer", "waiting")]
    assert app.done == len(events)
    assert worker.payload == [1, 2, 3] and worker.payload is not holder["payload"]

    orders = [item for _thread, item in q.puts if item is not WAKE_ORDER]
    assert all(type(item) is CatalystWorkOrder for item in orders)
    assert CatalystWorkOrder._fields == ("tonic", "sparkle", "args", "kwargs", "source")
    by_name = {}
    for thread, item in q.puts:
        if item is not WAKE_ORDER:
            by_name.setdefault(item.sparkle.name, []).append((thread, item))
    # every sparkle the worker ran (not the extras: on_enter/on_exit run inside the transition)
    for name in ("ttse__on_start", "ttsc__job", "ttsc__own"):
        assert len(by_name.get(name, [])) == 1, name
    worker_thread = catalyst._tt_thread.ident
    (job_thread, job), = by_name["ttsc__job"]
    assert job_thread == app.thread != worker_thread
    assert job.tonic is worker and job.source is app and job.kwargs == {"tag": "t"}
    assert job.args == ([1, 2, 3],) and job.args[0] is not holder["payload"]  # copied before put
    (own_thread, own), = by_name["ttsc__own"]
    assert own_thread == worker_thread and own.source is worker and own.args == (3,)
    # the timer's expiry: its delivery is queued (through put) on the worker's catalyst
    (nap_thread, nap), = [(thread, item) for thread, item in by_name["_ttss__call"]
                          if getattr(item.args[0], "__self__", None) is not None
                          and item.args[0].__self__.name == "nap"]
    assert nap_thread == worker_thread and nap.tonic is worker
    # the loop waited in get(): with a timeout while the timer was pending
    assert any(t is not None and t > 0 for t in q.get_timeouts)
    assert catalyst.finished and catalyst.sparkling is False


class Pinger(ttTonic):
    """On a plain catalyst: answers the main (queue) catalyst's tonic from another thread."""

    def ttsc__ping(self, back, n):
        back(n + 1)
        self.finish()


class MainTonic(ttTonic):
    def __init__(self, log, **kwargs):
        super().__init__(**kwargs)
        self.log = log

    def ttse__on_start(self):
        self.other = ttCatalyst(name="other")
        self.pinger = Pinger(catalyst=self.other)
        self.pinger.ttsc__ping(self.ttse__on_pong, 1)
        self.to_state("waiting")

    def ttse_waiting__on_enter(self):
        self.log.append("waiting")

    def ttse_waiting__on_pong(self, n):
        self.log.append(("pong", n, threading.get_ident() == self.catalyst._tt_thread_ident))
        ttTimerSingleShot(0.001, name="bye")

    def ttse__on_bye(self, info):
        self.log.append("bye")
        self.finish()


class MainQueueCatalyst(QueueCatalyst):
    def _tt_pre_init(self, base):
        super()._tt_pre_init(base)
        self._tt_thread_ident = threading.get_ident()


def test_the_main_catalyst_can_have_its_own_queue():
    log = []
    holder = {}

    def main_catalyst():
        holder["main"] = MainQueueCatalyst()

    def starting():
        holder["tonic"] = MainTonic(log)

    run_app(starting, timeout=30, main_catalyst=main_catalyst)
    assert log == ["waiting", ("pong", 2, True), "bye"]
    q = holder["main"].catalyst_queue
    orders = [item for _t, item in q.puts if item is not WAKE_ORDER]
    names = [(item.sparkle.name, item.source) for item in orders]
    pinger = holder["tonic"].pinger
    assert ("ttse__on_pong", pinger) in names  # from the other catalyst's thread, through put
    assert [item for item in orders if item.sparkle.name == "_ttss__call"
            and getattr(getattr(item.args[0], "__self__", None), "name", None) == "bye"]


# -- sparkle(): the document's SelectorHandler, as written ------------------------------------
# Seed 002 section 5A, with `from TaskTonic import ttCatalyst` as `from tasktonic import *` and
# the undefined `next_timer_expire` as the documented `self.next_timer_expire()`.
from tasktonic import *  # noqa: E402,F401,F403


class SelectorHandler(ttCatalyst):
    def new_catalyst_queue(self):
        class MyNotifyingQueue(queue.SimpleQueue):
            def __init__(self, catalyst, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.catalyst = catalyst

            def put(self, item):
                super().put(item)
                try:
                    # Wake up the OS selector by writing to an internal socket pair
                    self.catalyst._queue_filled_notify_channel.send(b'1')
                except Exception:
                    pass

        return MyNotifyingQueue(self)

    def sparkle(self):
        self.sparkling = True
        while self.sparkling:
            # Block at the OS level, not the queue level!
            events = self.selector.select(timeout=self.next_timer_expire())

            for _key, _mask in events:
                # Handle incoming network I/O events...
                pass

            # Check the queue for standard TaskTonic sparkles afterwards
            try:
                instance, sparkle, args, kwargs, source = self.catalyst_queue.get_nowait()
                instance._execute_sparkle(sparkle, *args, **kwargs)
            except queue.Empty:
                pass
# -- end of the document's example ------------------------------------------------------------


class DispatchingSelector(selectors.DefaultSelector):
    """What the example leaves out ("Handle incoming network I/O events..."): select() calls
    each ready key's data as ``data(fileobj, mask)``."""

    def select(self, timeout=None):
        events = super().select(timeout)
        for key, mask in events:
            key.data(key.fileobj, mask)
        return events


class EchoHandler(SelectorHandler):
    """The example's catalyst with its selector and notify channel set up."""

    def __init__(self, **kwargs):
        self.selector = DispatchingSelector()
        notify_r, self._queue_filled_notify_channel = socket.socketpair()
        notify_r.setblocking(False)
        self.notify_r = notify_r
        # one byte per queued order; one select round takes one order: consume one byte a round
        self.selector.register(notify_r, selectors.EVENT_READ, lambda sock, mask: sock.recv(1))
        super().__init__(**kwargs)

    def close_channels(self):
        self.selector.close()
        self.notify_r.close()
        self._queue_filled_notify_channel.close()


class Echo(ttTonic):
    """Owns one end of a socket pair on the EchoHandler: answers b"ping" with b"pong:ping"."""

    def __init__(self, sock, log, **kwargs):
        super().__init__(**kwargs)
        self.sock = sock
        self.log = log
        self.received = b""

    def ttse__on_start(self):
        self.sock.setblocking(False)
        self.catalyst.selector.register(self.sock, selectors.EVENT_READ, self.ttse__on_readable)
        self.to_state("listening")

    def ttsc__hello(self, who):
        self.log.append(("hello", who, self.catalyst.on_own_thread()))

    def ttse_listening__on_readable(self, sock, mask):
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return  # level-triggered: readiness queued again before the first read
        self.received += data
        if len(self.received) >= 4:
            self.catalyst.selector.unregister(sock)
            self.to_state("answering")

    def ttse_answering__on_enter(self):
        self.log.append(("received", self.received))
        ttTimerSingleShot(0.001, name="answer")

    def ttse_answering__on_answer(self, info):
        self.sock.sendall(b"pong:" + self.received)
        self.log.append("answered")
        self.finish()


def test_the_documents_selector_handler_runs_a_socketpair_round_trip():
    ours, theirs = socket.socketpair()
    log = []
    holder = {}

    def peer():
        theirs.settimeout(30)  # a guard only: the reply ends the wait
        theirs.sendall(b"ping")
        reply = b""
        while len(reply) < len(b"pong:ping"):
            chunk = theirs.recv(4096)
            if not chunk:
                break
            reply += chunk
        holder["reply"] = reply

    def starting():
        handler = EchoHandler(name="selector handler")
        holder["handler"] = handler
        holder["echo"] = Echo(ours, log, catalyst=handler)
        holder["echo"].ttsc__hello("main")  # from another thread: the notify byte wakes select
        thread = threading.Thread(target=peer, daemon=True)
        holder["peer"] = thread
        thread.start()

    try:
        run_app(starting, timeout=30)
        holder["peer"].join(30)
    finally:
        ours.close()
        theirs.close()
        if "handler" in holder:
            holder["handler"].close_channels()
    handler = holder["handler"]
    assert holder["reply"] == b"pong:ping"
    assert log == [("hello", "main", True), ("received", b"ping"), "answered"]
    assert isinstance(handler.catalyst_queue, queue.SimpleQueue)
    assert type(handler.catalyst_queue).__name__ == "MyNotifyingQueue"
    assert handler.finished and not handler.sparkling
    assert not handler._tt_thread.is_alive() or handler._tt_thread.join(30) is None


# -- errors, stop from another thread, misuse ---------------------------------------------------
class Faulty(ttTonic):
    def __init__(self, log, **kwargs):
        super().__init__(**kwargs)
        self.log = log

    def ttse__on_start(self):
        self.ttsc__explode(7)

    def ttsc__explode(self, n):
        raise ValueError(f"boom {n}")

    def on_sparkle_error(self, sparkle, error):
        self.log.append((sparkle, str(error), self.catalyst.on_own_thread()))
        self.finish()
        return True


def test_a_sparkle_error_on_a_queue_catalyst_goes_to_the_tonics_error_handling():
    log = []
    holder = {}

    def starting():
        holder["catalyst"] = QueueCatalyst(name="queued")
        Faulty(log, catalyst=holder["catalyst"])

    run_app(starting, timeout=30)
    assert log == [("ttsc__explode", "boom 7", True)]
    assert holder["catalyst"].finished


def test_stop_from_another_thread_ends_a_get_that_waits_without_timeout():
    class SignallingQueue(RecordingQueue):
        def __init__(self):
            super().__init__()
            self.waiting = threading.Event()

        def get(self, block=True, timeout=None):
            if timeout is None:
                self.waiting.set()
            return super().get(block, timeout)

    q = SignallingQueue()
    loop = QueueLoop(q, lambda tonic, entry, exc: None)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    assert q.waiting.wait(30)  # the loop is (about to be) blocked in get() with no timeout
    loop.stop()
    thread.join(30)  # a guard only: the stop's WAKE_ORDER ends the get at once
    assert not thread.is_alive()
    assert [item for _t, item in q.puts] == [WAKE_ORDER]
    loop.close()
    assert loop.closed and loop.drain() == []


def test_execute_sparkle_outside_a_catalyst_queue_loop_is_refused():
    import pytest

    class Lonely(ttTonic):
        pass

    errors = []

    def starting():
        tonic = Lonely()
        try:
            tonic._execute_sparkle(tonic._tt_sparkles["ttse__on_start"])
        except RuntimeError as exc:
            errors.append(str(exc))
        tonic.finish()

    run_app(starting, timeout=30)
    assert len(errors) == 1 and "_execute_sparkle" in errors[0]
    with pytest.raises(TypeError, match="runs its own loop"):
        from tasktonic.selector import ttSelectorCatalyst

        class Bad(ttSelectorCatalyst):
            def new_catalyst_queue(self):
                return queue.SimpleQueue()

        def bad_starting():
            Bad()

        run_app(bad_starting, timeout=30)
