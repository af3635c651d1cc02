"""The loop contract (the module docstring of ``tasktonic/_pure/loop.py``), run against both twins.

Every test takes ``lm``: the pure loop module and the compiled one, in one process. The
compiled twin is skipped when it is not built, unless ``TASKTONIC_REQUIRE_EXTENSIONS`` is set:
then its absence fails. The tonics are small fakes (``_tt_state``, ``_tt_state_name``, ``name``)
and the sparkles real ``SparkleEntry`` objects of the twin under test, so the loop is tested on
its own, without catalysts, ledger or dispatch.

Nothing here sleeps and hopes: cross-thread steps wait on Events with a generous timeout and
assert that the event was set. Where a test must show that something does *not* happen (a wait
that must keep sleeping), it waits a bounded time for the wrong outcome: a correct loop can never
fail that check, a faulty one fails it unless the machine stalls for the whole bound.
"""
from __future__ import annotations

import gc
import logging
import signal
import sys
import threading
import types
import weakref
from collections.abc import Callable
from time import monotonic
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import twin

#: Generous bound for anything another thread must do (never reached by a passing test).
TIMEOUT = 10.0
#: How long a check waits for something that must NOT happen (a faulty twin does it at once).
NEGATIVE = 0.5

TWINS = ["pure", "compiled"]


@pytest.fixture(params=TWINS)
def lm(request: Any) -> ModuleType:
    return twin(request.param, "loop")


# -- fakes and helpers -----------------------------------------------------------------------

class FakeTonic:
    """What the loop reads of a tonic: its state index and name, and its name for messages."""

    _tt_by_reference = True  # like real tonics: sent by reference, never copied

    def __init__(self, name: str = "tonic", state: int = 0, state_name: str | None = None):
        self.name = name
        self._tt_state = state
        self._tt_state_name = state_name

    def __repr__(self) -> str:
        return f"<FakeTonic {self.name}>"


class Payload:
    """A plain object that can be weakly referenced (copied by ``copy.deepcopy``)."""

    def __init__(self, value: Any = 0) -> None:
        self.value = value

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Payload) and other.value == self.value

    __hash__ = None  # type: ignore[assignment]


class Boom(BaseException):
    """A BaseException that is not an Exception: it must leave ``run``."""


class Errors(list):
    """An ``on_error`` that records ``(tonic, entry, exc)``."""

    def __call__(self, tonic: Any, entry: Any, exc: Exception) -> None:
        self.append((tonic, entry, exc))


def entry(lm: ModuleType, name: str, generic: Callable | None,
          by_state: dict | None = None, states: tuple = ()) -> Any:
    return lm.SparkleEntry(name, generic, dict(by_state or {}), tuple(states))


def new_loop(lm: ModuleType, errors: Callable | None = None, cls: type | None = None) -> Any:
    return (cls or lm.SparkleLoop)(errors if errors is not None else Errors())


def run_all(loop: Any) -> list:
    """Step until nothing is ready; the WorkOrders ``step`` returned."""
    done = []
    while True:
        order = loop.step()
        if order is None:
            return done
        done.append(order)


class Background:
    """Run ``target(*args)`` in a daemon thread; ``done`` is set when it returns or raises."""

    def __init__(self, target: Callable, *args: Any) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

        def body() -> None:
            try:
                self.result = target(*args)
            except BaseException as exc:  # handed to the test
                self.error = exc
            finally:
                self.done.set()

        self.thread = threading.Thread(target=body, daemon=True, name="loop-contract")
        self.thread.start()

    def finished(self, timeout: float = TIMEOUT) -> bool:
        if not self.done.wait(timeout):
            return False
        self.thread.join(TIMEOUT)
        return True


def sleepy(lm: ModuleType) -> type:
    """A loop subclass whose ``block`` reports, before the real ``block``, that it sleeps."""

    class SleepyLoop(lm.SparkleLoop):
        def __init__(self, on_error: Callable) -> None:
            super().__init__(on_error)
            self.sleeping = threading.Event()
            self.blocks = 0
            self.on_block: Callable | None = None

        def block(self, timeout: float | None) -> None:
            self.blocks += 1
            if self.on_block is not None:
                self.on_block(self)
            self.sleeping.set()
            super().block(timeout)

    return SleepyLoop


def stopper(lm: ModuleType, loop: Any, log: list | None = None) -> Any:
    """An entry whose handler stops ``loop`` (and notes it in ``log``)."""
    def handler(tonic: Any) -> None:
        if log is not None:
            log.append("stop")
        loop.stop()
    return entry(lm, "ttsc__stop", handler)


def debug_lines(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "tasktonic" and r.levelno == logging.DEBUG]


# == module shape ===========================================================================

def test_public_names(lm):
    assert set(lm.__all__) == {"WorkOrder", "SparkleEntry", "SparkleLoop", "FINISHED_LOOP"}
    order = lm.WorkOrder("t", "s", (1,), {"k": 2})
    assert (order.tonic, order.sparkle, order.args, order.kwargs) == ("t", "s", (1,), {"k": 2})


def test_sparkle_entry_table_per_state(lm):
    def generic(tonic):
        pass

    def busy(tonic):
        pass

    e = entry(lm, "ttsc__go", generic, {"busy": busy}, ("idle", "busy", "done"))
    assert e.name == "ttsc__go" and e.generic is generic and e.by_state == {"busy": busy}
    assert e.table == (generic, generic, busy, generic, None)
    assert repr(e) == "<sparkle ttsc__go>"
    only = entry(lm, "ttse__ping", None, {"idle": busy}, ("idle", "busy"))
    assert only.table == (None, busy, None, None)
    weakref.ref(e)  # entries can be weakly referenced in both twins


# == push, push_threadsafe ===================================================================

def test_push_from_own_thread_runs_in_order(lm):
    ran = []
    e = entry(lm, "ttsc__go", lambda tonic, *a, **k: ran.append((tonic.name, a, k)))
    loop = new_loop(lm)
    t = FakeTonic("a")
    arg = [1]
    loop.push((t, e, (arg,), {}))
    loop.push((t, e, (2,), {"k": 3}))
    loop.push((t, e, (), {}))
    assert len(loop) == 3
    assert ran == []                       # push only queues
    done = run_all(loop)
    assert ran == [("a", ([1],), {}), ("a", (2,), {"k": 3}), ("a", (), {})]
    assert ran[0][1][0] is arg             # own thread: no copy
    assert done == [(t, e, (arg,), {}), (t, e, (2,), {"k": 3}), (t, e, (), {})]
    assert all(isinstance(o, lm.WorkOrder) for o in done)
    assert len(loop) == 0


def test_run_runs_pushed_orders_until_stop(lm):
    ran = []
    loop = new_loop(lm)
    e = entry(lm, "ttsc__go", lambda tonic, n: ran.append(n))
    t = FakeTonic()
    for n in range(5):
        loop.push((t, e, (n,), {}))
    loop.push((t, stopper(lm, loop, ran), (), {}))
    loop.run()
    assert ran == [0, 1, 2, 3, 4, "stop"]
    assert len(loop) == 0


def test_push_threadsafe_copies_arguments_and_keeps_each_senders_order(lm):
    senders, per_sender = 4, 60
    received: list = []
    sent: dict = {}
    loop = new_loop(lm)
    e = entry(lm, "ttsc__take",
              lambda tonic, sender, seq, data, **kw: received.append((sender, seq, data, kw)))
    t = FakeTonic("inbox")
    runner = Background(loop.run)
    start = threading.Barrier(senders)

    def send(sender: int) -> None:
        start.wait(TIMEOUT)
        for seq in range(per_sender):
            data = {"items": [sender, seq], "payload": Payload(seq)}
            sent[sender, seq] = data
            loop.push_threadsafe(t, e, (sender, seq, data), {"note": [seq]})
            data["items"].append("changed after sending")  # must not reach the handler

    threads = [threading.Thread(target=send, args=(k,), daemon=True) for k in range(senders)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
            assert not thread.is_alive()
        loop.push_threadsafe(t, stopper(lm, loop), (), {})
        assert runner.finished(), "run() did not end after stop"
    finally:
        loop.stop()
    assert runner.error is None, runner.error
    assert len(received) == senders * per_sender
    for k in range(senders):
        seqs = [seq for sender, seq, _data, _kw in received if sender == k]
        assert seqs == list(range(per_sender)), f"sender {k}: orders out of order"
    for sender, seq, data, kw in received:
        original = sent[sender, seq]
        assert data is not original and data["items"] is not original["items"]
        assert data["items"] == [sender, seq]
        assert data["payload"] == Payload(seq) and data["payload"] is not original["payload"]
        assert kw == {"note": [seq]}


def test_push_threadsafe_passes_tonics_by_reference(lm):
    got = []
    loop = new_loop(lm)
    e = entry(lm, "ttsc__take", lambda tonic, other: got.append(other))
    other = FakeTonic("other")
    loop.push_threadsafe(FakeTonic(), e, (other,), {})
    run_all(loop)
    assert got == [other] and got[0] is other


def test_push_threadsafe_copy_failure_names_sparkle_and_tonic(lm):
    loop = new_loop(lm)
    e = entry(lm, "ttsc__take", lambda tonic, *a, **k: None)
    t = FakeTonic("worker")
    with pytest.raises(TypeError) as info:
        loop.push_threadsafe(t, e, ({"lock": threading.Lock()},), {})
    message = str(info.value)
    assert "ttsc__take" in message and "'worker'" in message
    assert info.value.__cause__ is not None
    with pytest.raises(TypeError) as info:
        loop.push_threadsafe(t, e, (), {"lock": [threading.Lock()]})
    assert "ttsc__take" in str(info.value) and "'worker'" in str(info.value)
    assert info.value.__cause__ is not None
    assert len(loop) == 0                  # nothing queued


def test_len_counts_the_ready_orders(lm):
    loop = new_loop(lm)
    e = entry(lm, "ttsc__go", lambda tonic: None)
    t = FakeTonic()
    assert len(loop) == 0
    loop.push((t, e, (), {}))
    loop.push_threadsafe(t, e, (), {})
    assert len(loop) == 2
    loop.step()
    assert len(loop) == 1
    loop.drain()
    assert len(loop) == 0


# == waiting and waking ======================================================================

def test_a_wake_before_the_wait_is_not_lost(lm):
    loop = new_loop(lm)
    loop.wake()
    waiter = Background(loop.wait, None)
    try:
        assert waiter.finished(), "wait() slept through a wake that came before it"
    finally:
        loop.wake()  # let a faulty wait end


def test_wait_returns_at_once_when_an_order_is_ready(lm):
    loop = new_loop(lm)
    loop.push((FakeTonic(), entry(lm, "ttsc__go", lambda tonic: None), (), {}))
    waiter = Background(loop.wait, None)
    try:
        assert waiter.finished(), "wait() slept although an order was ready"
    finally:
        loop.wake()
    assert len(loop) == 1                  # waiting runs nothing


def test_wait_returns_at_once_when_stopped(lm):
    loop = new_loop(lm)
    loop.stop()
    loop.wait(None)
    waiter = Background(loop.wait, None)
    try:
        assert waiter.finished(), "wait() slept on a stopped loop"
    finally:
        loop.wake()


@pytest.mark.parametrize("timeout", [0, 0.0, -1.0, -1e9])
def test_wait_with_a_timeout_already_passed_returns_at_once(lm, timeout):
    loop = new_loop(lm)
    waiter = Background(loop.wait, timeout)
    try:
        assert waiter.finished(), f"wait({timeout!r}) did not return"
    finally:
        loop.wake()
    assert waiter.error is None, waiter.error


def test_wakes_do_not_pile_up(lm):
    """Several wakes before one sleep wake that sleep only: the next sleep sleeps."""
    loop = new_loop(lm)
    loop.wake()
    loop.wake()
    loop.stop()                            # stop wakes too
    loop.stop()
    loop.block(None)                       # consumes every wake so far
    waiter = Background(loop.block, None)
    try:
        assert not waiter.done.wait(NEGATIVE), "block() returned without a new wake"
    finally:
        loop.wake()
    assert waiter.finished(), "block() slept through a wake"


def test_push_threadsafe_wakes_a_sleeping_loop(lm):
    ran = []
    loop = new_loop(lm, cls=sleepy(lm))
    runner = Background(loop.run)
    try:
        assert loop.sleeping.wait(TIMEOUT), "the loop never went to sleep"
        assert len(loop) == 0
        loop.push_threadsafe(FakeTonic(), stopper(lm, loop, ran), (), {})
        assert runner.finished(), "push_threadsafe did not wake the sleeping loop"
    finally:
        loop.stop()
    assert runner.error is None, runner.error
    assert ran == ["stop"]


def test_stop_from_another_thread_ends_a_sleeping_run(lm):
    loop = new_loop(lm, cls=sleepy(lm))
    runner = Background(loop.run)
    assert loop.sleeping.wait(TIMEOUT), "the loop never went to sleep"
    loop.stop()
    assert runner.finished(), "stop() from another thread did not end run()"
    assert runner.error is None, runner.error


def test_stop_from_another_thread_ends_run_after_the_current_order(lm):
    ran = []
    inside, release = threading.Event(), threading.Event()

    def slow(tonic):
        ran.append("slow")
        inside.set()
        assert release.wait(TIMEOUT)

    loop = new_loop(lm)
    t = FakeTonic()
    later = entry(lm, "ttsc__later", lambda tonic: ran.append("later"))
    loop.push((t, entry(lm, "ttsc__slow", slow), (), {}))
    loop.push((t, later, (), {}))
    runner = Background(loop.run)
    try:
        assert inside.wait(TIMEOUT), "the first order never ran"
        loop.stop()
    finally:
        release.set()
    assert runner.finished(), "run() did not end after stop"
    assert runner.error is None, runner.error
    assert ran == ["slow"]                 # ended after the current order
    assert len(loop) == 1                  # the next one is still queued


def test_stop_from_a_handler_ends_run_after_that_order(lm):
    ran = []
    loop = new_loop(lm)
    t = FakeTonic()
    loop.push((t, stopper(lm, loop, ran), (), {}))
    loop.push((t, entry(lm, "ttsc__later", lambda tonic: ran.append("later")), (), {}))
    loop.run()
    assert ran == ["stop"]
    assert len(loop) == 1


def test_stop_before_run_returns_at_once(lm):
    loop = new_loop(lm)
    ran = []
    loop.push((FakeTonic(), entry(lm, "ttsc__go", lambda tonic: ran.append(1)), (), {}))
    loop.stop()
    loop.run()
    assert ran == [] and len(loop) == 1


@pytest.mark.skipif(not hasattr(signal, "pthread_kill") or sys.platform == "win32",
                    reason="needs POSIX signals")
def test_a_signal_in_the_main_thread_interrupts_the_wait(lm):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers run in the main thread only")

    class Interrupted(Exception):
        pass

    armed = True
    handled = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        handled.set()
        if armed:
            raise Interrupted

    loop = new_loop(lm, cls=sleepy(lm))
    main = threading.main_thread().ident
    done = threading.Event()

    def send() -> None:
        if not loop.sleeping.wait(TIMEOUT):
            return
        # A signal that lands between the "sleeping" mark and the real sleep runs its handler
        # before the sleep (or not at all, like CPython's own lock waits): send again until the
        # main thread reports back.
        for _ in range(int(TIMEOUT / 0.2)):
            signal.pthread_kill(main, signal.SIGUSR1)
            if done.wait(0.2):
                return
        loop.wake()                        # never interrupted: let the test fail, not hang

    previous = signal.signal(signal.SIGUSR1, handler)
    sender = threading.Thread(target=send, daemon=True)
    try:
        sender.start()
        with pytest.raises(Interrupted):
            loop.wait(None)
        assert handled.is_set()
    finally:
        armed = False
        done.set()
        sender.join(TIMEOUT)
        for _ in range(100):               # let a late signal reach the disarmed handler
            pass
        signal.signal(signal.SIGUSR1, previous)
    assert loop.current is None


# == step, drain, close, FINISHED_LOOP =======================================================

def test_step_runs_one_order_with_its_extras_and_returns_it(lm):
    ran = []
    loop = new_loop(lm)
    t = FakeTonic("a")
    extra = entry(lm, "_ttss__extra", lambda tonic, n: ran.append(("extra", n)))

    def first(tonic, n, key=None):
        ran.append(("first", n, key))
        loop.push_extra(tonic, extra, (n,))

    e1 = entry(lm, "ttsc__first", first)
    e2 = entry(lm, "ttsc__second", lambda tonic: ran.append(("second",)))
    loop.push((t, e1, (1,), {"key": "k"}))
    loop.push((t, e2, (), {}))
    order = loop.step()
    assert isinstance(order, lm.WorkOrder)
    assert order == (t, e1, (1,), {"key": "k"})
    assert (order.tonic, order.sparkle, order.args, order.kwargs) == (t, e1, (1,), {"key": "k"})
    assert ran == [("first", 1, "k"), ("extra", 1)]
    assert loop.current is None and loop.current_tonic is None
    assert loop.step() == (t, e2, (), {})
    assert ran[-1] == ("second",)
    assert loop.step() is None


def test_drain_removes_and_returns_queued_orders_without_closing(lm):
    ran = []
    loop = new_loop(lm)
    e = entry(lm, "ttsc__go", lambda tonic, *a, **k: ran.append(a))
    a, b = FakeTonic("a"), FakeTonic("b")
    loop.push((a, e, (1,), {}))
    loop.push_threadsafe(b, e, (2,), {"k": 1})
    loop.push_threadsafe(a, e, (), {})
    orders = loop.drain()
    assert orders == [(a, e, (1,), {}), (b, e, (2,), {"k": 1}), (a, e, (), {})]
    assert all(isinstance(o, lm.WorkOrder) for o in orders)
    assert orders[2].kwargs == {}
    assert len(loop) == 0 and not loop.closed and ran == []
    assert loop.drain() == []
    loop.push_threadsafe(a, e, (3,), {})   # still open
    run_all(loop)
    assert ran == [(3,)]


def test_close_drops_queued_and_later_orders_with_a_debug_line(lm, caplog):
    caplog.set_level(logging.DEBUG, logger="tasktonic")
    ran = []
    loop = new_loop(lm)
    e = entry(lm, "ttsc__go", lambda tonic, *a: ran.append(a))
    a, b = FakeTonic("a"), FakeTonic("b")
    loop.push((a, e, (1,), {}))
    loop.push_threadsafe(b, e, (2,), {})
    assert not loop.closed
    loop.close()
    assert loop.closed
    assert len(loop) == 0
    assert loop.thread_id is None          # no thread owns it: every sender takes the safe path
    assert debug_lines(caplog) == [f"dropped ttsc__go for finished tonic {a!r}",
                                   f"dropped ttsc__go for finished tonic {b!r}"]
    caplog.clear()

    def send() -> weakref.ref:
        payload = Payload(7)               # only this frame and the loop could hold it
        loop.push_threadsafe(a, e, (payload, [payload]), {"p": payload})
        return weakref.ref(payload)

    sender = Background(send)
    assert sender.finished() and sender.error is None, sender.error
    loop.push_threadsafe(b, e, (), {})
    assert debug_lines(caplog) == [f"dropped ttsc__go for finished tonic {a!r}",
                                   f"dropped ttsc__go for finished tonic {b!r}"]
    assert len(loop) == 0 and loop.drain() == [] and loop.step() is None
    gc.collect()
    assert sender.result() is None, "a closed loop kept the arguments of a dropped order"
    assert ran == []


def test_finished_loop_is_closed_and_drops(lm, caplog):
    caplog.set_level(logging.DEBUG, logger="tasktonic")
    finished = lm.FINISHED_LOOP
    assert isinstance(finished, lm.SparkleLoop)
    assert finished.closed and len(finished) == 0 and finished.thread_id is None
    ran = []
    t = FakeTonic("late")
    finished.push_threadsafe(t, entry(lm, "ttse__x", lambda tonic: ran.append(1)), (1,), {})
    assert len(finished) == 0 and ran == []
    assert debug_lines(caplog) == [f"dropped ttse__x for finished tonic {t!r}"]


# == routing by state ========================================================================

def test_handler_is_chosen_by_the_state_index(lm):
    ran = []
    e = entry(lm, "ttsc__go", lambda tonic: ran.append("generic"),
              {"busy": lambda tonic: ran.append("busy")}, ("idle", "busy"))
    loop = new_loop(lm)
    for state in (0, 1, 2):
        loop.push((FakeTonic(state=state), e, (), {}))
    run_all(loop)
    assert ran == ["generic", "generic", "busy"]


def test_no_handler_for_a_state_runs_nothing_silently(lm, caplog):
    caplog.set_level(logging.DEBUG, logger="tasktonic")
    traced = []
    e = entry(lm, "ttse__ping", None, {"idle": lambda tonic: traced.append("idle")}, ("idle",))
    loop = new_loop(lm)
    loop.tracer = lambda *order: traced.append("trace")
    loop.push((FakeTonic(state=0), e, (), {}))
    assert loop.step() is not None
    assert traced == [] and debug_lines(caplog) == []


@pytest.mark.parametrize("state", [3, 99, -5])
def test_a_state_outside_the_table_is_an_index_error(lm, state):
    e = entry(lm, "ttsc__go", lambda tonic: None, {}, ("idle",))   # table of 3 slots
    t = FakeTonic(state=state)
    loop = new_loop(lm)
    loop.push((t, e, (), {}))
    with pytest.raises(IndexError):
        loop.step()
    loop.push((t, e, (), {}))
    with pytest.raises(IndexError):
        loop.run()
    assert loop.current is None
    with pytest.raises(IndexError):
        loop.run_now(t, e, ())


def test_state_minus_one_drops_with_a_debug_line(lm, caplog):
    caplog.set_level(logging.DEBUG, logger="tasktonic")
    ran = []
    traced = []
    e = entry(lm, "ttsc__go", lambda tonic: ran.append(1), {"idle": lambda tonic: ran.append(2)},
              ("idle",))
    assert e.table[-1] is None
    done = FakeTonic("done", state=-1)
    loop = new_loop(lm)
    loop.tracer = lambda *order: traced.append(order)
    loop.push((done, e, (), {}))
    assert loop.step() == (done, e, (), {})            # step still reports the order
    loop.push((done, e, (), {}))
    loop.push((FakeTonic(), stopper(lm, loop), (), {}))
    loop.run()
    loop.run_now(done, e, ())
    assert ran == []
    assert [order[1].name for order in traced] == ["ttsc__stop"]   # dropped: not traced
    assert debug_lines(caplog) == [f"dropped ttsc__go for finished tonic {done!r}"] * 3


def test_an_entry_of_any_type_with_a_table_is_routed(lm):
    """The handler is ``entry.table[tonic._tt_state]``: the entry need not be this twin's."""
    ran = []

    class PlainEntry:
        name = "ttsc__plain"
        table = (lambda tonic, n: ran.append(("generic", n)),
                 lambda tonic, n: ran.append(("idle", n)), None)

    foreign = twin("pure", "loop").SparkleEntry("ttsc__foreign",
                                                lambda tonic, n: ran.append(("foreign", n)),
                                                {}, ())
    loop = new_loop(lm)
    loop.push((FakeTonic(), PlainEntry(), (1,), {}))
    loop.push_threadsafe(FakeTonic(state=1), PlainEntry(), (2,), {})
    loop.push((FakeTonic(), foreign, (3,), {}))
    run_all(loop)
    loop.run_now(FakeTonic(), PlainEntry(), (4,))
    # the own queue's orders (1, 3) first, then the inbox's (2): the loop moves the inbox
    # behind its own queue
    assert ran == [("generic", 1), ("foreign", 3), ("idle", 2), ("generic", 4)]


# == errors ==================================================================================

def test_an_exception_goes_to_on_error_and_the_loop_goes_on(lm):
    errors = Errors()
    ran = []
    seen_current = []

    def bad(tonic, n):
        raise ValueError(n)

    def on_error(tonic, entry_, exc):
        seen_current.append(loop.current)
        errors(tonic, entry_, exc)

    loop = new_loop(lm, on_error)
    e_bad = entry(lm, "ttsc__bad", bad)
    e_ok = entry(lm, "ttsc__ok", lambda tonic: ran.append("ok"))
    t = FakeTonic("a")
    loop.push((t, e_bad, (1,), {}))
    loop.push((t, e_ok, (), {}))
    loop.push((t, e_bad, (2,), {}))
    loop.push((t, stopper(lm, loop, ran), (), {}))
    loop.run()
    assert ran == ["ok", "stop"]
    assert [(tt, ee, type(x), x.args) for tt, ee, x in errors] == [
        (t, e_bad, ValueError, (1,)), (t, e_bad, ValueError, (2,))]
    assert seen_current == [(t, e_bad, (1,), {}), (t, e_bad, (2,), {})]


def test_a_base_exception_leaves_run(lm):
    errors = Errors()
    ran = []
    loop = new_loop(lm, errors)

    def fatal(tonic):
        ran.append("fatal")
        raise Boom()

    t = FakeTonic()
    loop.push((t, entry(lm, "ttsc__fatal", fatal), (), {}))
    loop.push((t, entry(lm, "ttsc__next", lambda tonic: ran.append("next")), (), {}))
    with pytest.raises(Boom):
        loop.run()
    assert ran == ["fatal"] and errors == []
    assert loop.current is None and loop.current_tonic is None
    assert len(loop) == 1                  # the rest stays queued
    loop.push((t, entry(lm, "ttsc__fatal", fatal), (), {}))
    assert loop.step() is not None         # "next"
    with pytest.raises(Boom):
        loop.step()
    assert ran == ["fatal", "next", "fatal"] and errors == []
    assert loop.current is None and len(loop) == 0


# == tracer ==================================================================================

def test_tracer_is_called_before_each_order_with_the_order(lm):
    events = []
    loop = new_loop(lm)
    loop.tracer = lambda tonic, entry_, args, kwargs: events.append(
        ("trace", tonic, entry_, args, kwargs))
    e = entry(lm, "ttsc__go", lambda tonic, *a, **k: events.append(("run", a, k)))
    t = FakeTonic()
    loop.push((t, e, (1, [2]), {"k": 3}))
    loop.push_threadsafe(t, e, (), {})
    run_all(loop)
    assert events == [("trace", t, e, (1, [2]), {"k": 3}), ("run", (1, [2]), {"k": 3}),
                      ("trace", t, e, (), {}), ("run", (), {})]


def test_no_tracer_no_trace(lm):
    ran = []
    loop = new_loop(lm)
    assert loop.tracer is None
    loop.push((FakeTonic(), entry(lm, "ttsc__go", lambda tonic: ran.append(1)), (), {}))
    loop.push((FakeTonic(), stopper(lm, loop), (), {}))
    loop.run()
    assert ran == [1]


def test_a_tracer_set_or_cleared_by_a_handler_applies_from_the_next_order(lm):
    """``tracer`` is read for each order, also within one pass of ``run``."""
    traced = []
    loop = new_loop(lm)
    t = FakeTonic()

    def tracer(tonic, entry_, args, kwargs):
        traced.append(entry_.name)

    def switch_on(tonic):
        loop.tracer = tracer

    def switch_off(tonic):
        loop.tracer = None

    e_on = entry(lm, "ttsc__on", switch_on)
    e_off = entry(lm, "ttsc__off", switch_off)
    e_x = entry(lm, "ttsc__x", lambda tonic: None)
    for e in (e_x, e_on, e_x, e_off, e_x):
        loop.push((t, e, (), {}))
    loop.push((t, stopper(lm, loop), (), {}))
    loop.run()
    assert traced == ["ttsc__x", "ttsc__off"]


# == push_extra, run_now =====================================================================

def test_push_extra_runs_right_after_the_current_order_before_the_next(lm):
    ran = []
    loop = new_loop(lm)
    t = FakeTonic("a")
    currents = []

    def make(name, extras=()):
        def handler(tonic, *args):
            ran.append((name, args))
            currents.append(loop.current)
            for extra, extra_args in extras:
                loop.push_extra(tonic, extra, extra_args)
        return entry(lm, name, handler)

    f = make("_ttss__f")
    e2 = make("_ttss__e2")
    e1 = make("_ttss__e1", [(f, (9,))])
    a = make("ttsc__a", [(e1, (1,)), (e2, (2,))])
    b = make("ttsc__b")
    loop.push((t, a, (), {}))
    loop.push((t, b, (), {}))
    loop.push((t, stopper(lm, loop), (), {}))
    loop.run()
    assert ran == [("ttsc__a", ()), ("_ttss__e1", (1,)), ("_ttss__e2", (2,)), ("_ttss__f", (9,)),
                   ("ttsc__b", ())]
    assert currents == [(t, a, (), {}), (t, e1, (1,), {}), (t, e2, (2,), {}), (t, f, (9,), {}),
                        (t, b, (), {})]


def test_extras_are_routed_traced_and_their_errors_handled(lm):
    errors = Errors()
    traced = []
    ran = []
    loop = new_loop(lm, errors)
    loop.tracer = lambda tonic, entry_, args, kwargs: traced.append((entry_.name, args, kwargs))
    t = FakeTonic(state=1, state_name="idle")

    def bad(tonic):
        raise RuntimeError("extra")

    e_bad = entry(lm, "_ttss__bad", bad, {}, ("idle",))
    e_routed = entry(lm, "_ttss__routed", lambda tonic: ran.append("generic"),
                     {"idle": lambda tonic: ran.append("idle")}, ("idle",))

    def first(tonic):
        loop.push_extra(tonic, e_bad, ())
        loop.push_extra(tonic, e_routed, ())

    loop.push((t, entry(lm, "ttsc__first", first, {}, ("idle",)), (), {}))
    run_all(loop)
    assert ran == ["idle"]
    assert traced == [("ttsc__first", (), {}), ("_ttss__bad", (), {}), ("_ttss__routed", (), {})]
    assert [(tt, ee.name, str(x)) for tt, ee, x in errors] == [(t, "_ttss__bad", "extra")]


def test_run_now_runs_inside_the_current_order_and_restores_current(lm, caplog):
    caplog.set_level(logging.DEBUG, logger="tasktonic")
    errors = Errors()
    events = []
    loop = new_loop(lm, errors)
    loop.tracer = lambda tonic, entry_, args, kwargs: events.append(("trace", entry_.name, args))
    a = FakeTonic("a")
    b = FakeTonic("b", state=1, state_name="idle")
    done = FakeTonic("done", state=-1)

    def hook_generic(tonic, n):
        events.append(("generic", n))

    def hook_idle(tonic, n):
        events.append(("idle", n, loop.current, loop.current_tonic))

    def hook_bad(tonic):
        raise KeyError("hook")

    hook = entry(lm, "ttse__hook", hook_generic, {"idle": hook_idle}, ("idle",))
    bad = entry(lm, "ttse__bad", hook_bad)

    def outer(tonic):
        events.append(("outer", "before"))
        loop.run_now(b, hook, (5,))
        events.append(("outer", "after hook", loop.current, loop.current_tonic))
        loop.run_now(a, bad, ())
        events.append(("outer", "after bad", loop.current, loop.current_tonic))
        loop.run_now(done, hook, (6,))
        events.append(("outer", "end"))

    e_outer = entry(lm, "ttsc__outer", outer)
    loop.push((a, e_outer, (), {}))
    run_all(loop)
    order = (a, e_outer, (), {})
    assert events == [
        ("trace", "ttsc__outer", ()),
        ("outer", "before"),
        ("trace", "ttse__hook", (5,)),
        ("idle", 5, (b, hook, (5,), {}), b),
        ("outer", "after hook", order, a),
        ("trace", "ttse__bad", ()),
        ("outer", "after bad", order, a),
        ("outer", "end"),
    ]
    assert [(tt, ee, type(x)) for tt, ee, x in errors] == [(a, bad, KeyError)]
    assert debug_lines(caplog) == [f"dropped ttse__hook for finished tonic {done!r}"]
    # outside any order: runs, and leaves nothing current
    loop.run_now(a, hook, (7,))
    assert events[-1] == ("generic", 7)
    assert loop.current is None and loop.current_tonic is None


def test_run_now_lets_a_base_exception_through_and_restores_current(lm):
    loop = new_loop(lm)
    seen = []

    def fatal(tonic):
        raise Boom()

    e_fatal = entry(lm, "ttse__fatal", fatal)

    def outer(tonic):
        try:
            loop.run_now(tonic, e_fatal, ())
        except Boom:
            seen.append(loop.current)

    t = FakeTonic()
    e_outer = entry(lm, "ttsc__outer", outer)
    loop.push((t, e_outer, (), {}))
    run_all(loop)
    assert seen == [(t, e_outer, (), {})]


def test_run_extra_called_by_a_handler_restores_current(lm):
    """``run_extra`` is public: after it, the calling order is current again."""
    loop = new_loop(lm)
    seen = []
    extra = entry(lm, "_ttss__extra", lambda tonic: seen.append(("extra", loop.current)))

    def handler(tonic):
        loop.push_extra(tonic, extra, ())
        loop.run_extra()
        seen.append(("after", loop.current, loop.current_tonic))

    t = FakeTonic()
    e = entry(lm, "ttsc__go", handler)
    loop.push((t, e, (), {}))
    run_all(loop)
    assert seen == [("extra", (t, extra, (), {})), ("after", (t, e, (), {}), t)]


def test_extras_queued_outside_an_order_run_after_the_next_order_even_a_dropped_one(lm):
    ran = []
    loop = new_loop(lm)
    t = FakeTonic("a")
    extra = entry(lm, "_ttss__extra", lambda tonic: ran.append("extra"))
    loop.push_extra(t, extra, ())          # no order is running: it waits for the next one
    assert ran == []
    loop.push((FakeTonic("done", state=-1), entry(lm, "ttsc__x", lambda tonic: None), (), {}))
    loop.push((t, stopper(lm, loop, ran), (), {}))
    loop.run()
    assert ran == ["extra", "stop"]
    loop.push_extra(t, extra, ())
    loop.push((FakeTonic("done", state=-1), entry(lm, "ttsc__x", lambda tonic: None), (), {}))
    loop.step()
    assert ran == ["extra", "stop", "extra"]


# == current, current_tonic ==================================================================

def test_current_during_a_handler_and_none_when_idle(lm):
    seen = []
    loop = new_loop(lm)
    assert loop.current is None and loop.current_tonic is None

    def handler(tonic, *args, **kwargs):
        seen.append((loop.current, loop.current_tonic))

    e = entry(lm, "ttsc__go", handler)
    a, b = FakeTonic("a"), FakeTonic("b")
    loop.push((a, e, (1,), {"k": 2}))
    loop.push((b, e, (), {}))
    loop.push((a, stopper(lm, loop), (), {}))
    loop.run()
    assert seen == [((a, e, (1,), {"k": 2}), a), ((b, e, (), {}), b)]
    assert all(isinstance(order, lm.WorkOrder) for order, _ in seen)
    assert loop.current is None and loop.current_tonic is None   # run() returned
    loop.push((a, e, (), {}))
    loop.step()
    assert loop.current is None and loop.current_tonic is None   # step() returned


def test_a_waiting_loop_keeps_no_order_alive(lm):
    """While the loop waits, ``current`` is None and nothing holds the last order's parts."""
    loop = new_loop(lm, cls=sleepy(lm))
    refs: list = []
    at_sleep: list = []
    slept_after = threading.Event()

    def handler(tonic, payload, more=None):
        refs.extend([weakref.ref(tonic), weakref.ref(payload), weakref.ref(more)])

    def on_block(lp):
        if refs and not slept_after.is_set():   # the first sleep after the order ran
            gc.collect()
            at_sleep.extend([lp.current, lp.current_tonic, [r() is None for r in refs]])
            slept_after.set()

    loop.on_block = on_block
    e = entry(lm, "ttsc__go", handler)
    runner = Background(loop.run)
    try:
        assert loop.sleeping.wait(TIMEOUT), "the loop never went to sleep"
        # the tonic and the copies of the arguments: only the queued order holds them
        loop.push_threadsafe(FakeTonic("short-lived"), e, (Payload(1),), {"more": Payload(2)})
        assert slept_after.wait(TIMEOUT), "the loop never went back to sleep"
    finally:
        loop.stop()
    assert runner.finished()
    assert runner.error is None, runner.error
    current, current_tonic, dead = at_sleep
    assert current is None and current_tonic is None
    assert dead == [True, True, True], (
        "an idle loop keeps the last order alive (tonic, arg, kwarg): "
        + str([not d for d in dead]))


# == timers ==================================================================================

class FakeTimer:
    """A timer as the loop sees it: ``_tt_expire(now)`` when its deadline has passed."""

    def __init__(self, name: str, log: list, action: Callable | None = None) -> None:
        self.name = name
        self.log = log
        self.action = action

    def _tt_expire(self, now: float) -> None:
        self.log.append((self.name, now))
        if self.action is not None:
            self.action(now)


def test_fire_due_fires_the_due_timers_earliest_first(lm):
    fired = []
    loop = new_loop(lm)
    loop.timers.push(3.0, FakeTimer("c", fired))
    loop.timers.push(1.0, FakeTimer("a", fired))
    loop.timers.push(2.0, FakeTimer("b", fired))
    loop.timers.push(2.0, FakeTimer("b2", fired))
    assert loop.fire_due(0.5) == 0 and fired == []
    assert loop.fire_due(2.0) == 3
    assert fired == [("a", 2.0), ("b", 2.0), ("b2", 2.0)]
    assert loop.fire_due(2.5) == 0
    assert loop.timers.next_deadline() == 3.0
    assert loop.fire_due(10.0) == 1 and fired[-1] == ("c", 10.0)


def test_run_fires_a_timer_at_its_deadline(lm):
    fired = []
    loop = new_loop(lm, cls=sleepy(lm))
    deadline = monotonic() + 0.05
    loop.timers.push(deadline, FakeTimer("t", fired, lambda now: loop.stop()))
    runner = Background(loop.run)
    assert runner.finished(), "the timer never fired"
    assert runner.error is None, runner.error
    assert len(fired) == 1
    name, now = fired[0]
    assert now >= deadline                 # never early


def test_a_timer_wakes_a_loop_sleeping_with_no_orders(lm):
    fired = []
    loop = new_loop(lm, cls=sleepy(lm))
    runner = Background(loop.run)
    try:
        assert loop.sleeping.wait(TIMEOUT), "the loop never went to sleep"
        # a timer added from another thread must come with a wake (as the catalyst's timers
        # do, by queueing their start on the loop's thread): queue an order that adds it
        def add(tonic):
            loop.timers.push(monotonic() + 0.01, FakeTimer("t", fired, lambda now: loop.stop()))
        loop.push_threadsafe(FakeTonic(), entry(lm, "ttsc__add", add), (), {})
        assert runner.finished(), "the timer added by an order never fired"
    finally:
        loop.stop()
    assert runner.error is None, runner.error
    assert [name for name, _ in fired] == ["t"]


def test_timers_fire_after_the_pass_and_their_sparkles_run_next(lm):
    events = []
    loop = new_loop(lm)
    t = FakeTonic()
    e_order = entry(lm, "ttsc__order", lambda tonic, n: events.append(("order", n)))
    e_back = entry(lm, "ttsc__back", lambda tonic: (events.append(("back",)), loop.stop()))

    def expire(now):
        loop.push((t, e_back, (), {}))     # the timer queues its sparkle

    loop.timers.push(0.0, FakeTimer("due", events, expire))
    loop.push((t, e_order, (1,), {}))
    loop.push((t, e_order, (2,), {}))
    loop.run()
    assert [ev[0] for ev in events] == ["order", "order", "due", "back"]


def test_nothing_is_current_while_timers_fire(lm):
    seen = []
    loop = new_loop(lm)
    t = FakeTonic()
    loop.timers.push(0.0, FakeTimer("due", seen,
                                    lambda now: seen.append((loop.current, loop.current_tonic))))
    e = entry(lm, "ttsc__order", lambda tonic: None)
    extra = entry(lm, "_ttss__extra", lambda tonic: None)
    loop.push((t, entry(lm, "ttsc__with_extra", lambda tonic: loop.push_extra(tonic, extra, ())),
               (), {}))
    loop.push((t, e, (), {}))
    loop.timers.push(0.0, FakeTimer("stop", seen, lambda now: loop.stop()))
    loop.run()
    assert seen[1] == (None, None)


# == arguments the ring does not hold as they come ==========================================

def test_args_that_are_not_a_tuple_and_kwargs_that_are_a_mapping_run_alike(lm):
    """Out of the usual shape (a list of arguments, a mapping of keywords): the handler gets
    the same call from both twins (the compiled one must never read them as a tuple/dict)."""
    ran = []
    loop = new_loop(lm)
    e = entry(lm, "ttsc__go", lambda tonic, *a, **k: ran.append((a, k)))
    t = FakeTonic()
    loop.push((t, e, [1, 2, 3], types.MappingProxyType({"k": 4})))
    loop.push([t, e, (5,), {}])            # an order that is a list
    loop.push_threadsafe(t, e, [6, [7]], types.MappingProxyType({"m": [8]}))
    loop.push_threadsafe(t, e, [], types.MappingProxyType({}))
    loop.push_threadsafe(t, e, [9], {})

    def outer(tonic):
        loop.run_now(tonic, e, [10, 11])
        loop.push_extra(tonic, e, [12])

    loop.push((t, entry(lm, "ttsc__outer", outer), (), {}))
    run_all(loop)
    # the own queue's orders first (outer's run_now and extra inside it), then the inbox's
    assert ran == [((1, 2, 3), {"k": 4}), ((5,), {}), ((10, 11), {}), ((12,), {}),
                   ((6, [7]), {"m": [8]}), ((), {}), ((9,), {})]


# == the garbage collector sees queued orders ================================================

@pytest.mark.parametrize("how", ["push", "push_threadsafe", "kwargs", "extra"])
def test_a_cycle_through_a_queued_order_is_collected(lm, how):
    gc.collect()

    def build():
        loop = new_loop(lm, lambda tonic, entry_, exc: None)
        tonic = FakeTonic("cyclic")
        tonic._tt_loop = loop              # tonic -> loop -> queued order -> tonic
        e = entry(lm, "ttsc__go", lambda tonic, *a, **k: None)
        if how == "push":
            loop.push((tonic, e, ([tonic],), {}))
        elif how == "push_threadsafe":
            loop.push_threadsafe(tonic, e, ({"me": tonic},), {})
        elif how == "kwargs":
            loop.push_threadsafe(FakeTonic("other"), e, (), {"me": tonic})
        else:
            loop.push_extra(tonic, e, (tonic,))
        return weakref.ref(tonic), weakref.ref(loop), (len(loop) == 1) or how == "extra"

    tonic_ref, loop_ref, queued = build()
    assert queued
    assert tonic_ref() is not None, "the cycle did not hold"
    gc.collect()
    assert tonic_ref() is None, "the collector did not see the queued order"
    assert loop_ref() is None
