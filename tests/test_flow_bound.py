"""The queue bound on its own (``tasktonic/flow.py`` with each loop twin), without catalysts.

Every test takes ``lm``: the pure loop module and the compiled one, in one process, as the loop
contract tests do. The test thread plays the catalyst's thread (``loop.thread_id``) and takes
orders with ``step()``; senders are plain threads, so the blocking paths are real. Waits are
for events or for a counter the bound keeps (``blocked``), each with a generous deadline that
a passing test never reaches.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from tasktonic.flow import QueueBound, ttQueueFull
from tests.conftest import twin

TIMEOUT = 10.0


@pytest.fixture(params=["pure", "compiled"])
def lm(request: Any) -> ModuleType:
    return twin(request.param, "loop")


class FakeTonic:
    _tt_by_reference = True

    def __init__(self, name: str = "sink") -> None:
        self.name = name
        self._tt_state = 0
        self._tt_state_name = None


class FakeCatalyst:
    name = "bounded"


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.001)


class Rig:
    """A loop with a bound, a recording sparkle, a system sparkle, and a consumer (the test)."""

    def __init__(self, lm: ModuleType, max_queue: int, overflow: str,
                 block_timeout: float | None = None) -> None:
        self.got: list[Any] = []
        self.errors: list[Exception] = []
        self.loop = lm.SparkleLoop(lambda tonic, entry, exc: self.errors.append(exc))
        self.loop.thread_id = threading.get_ident()  # the test thread is the loop's thread
        self.bound = QueueBound(FakeCatalyst(), max_queue, overflow, block_timeout)
        self.loop.set_bound(self.bound)
        self.tonic = FakeTonic()
        self.take = lm.SparkleEntry("ttsc__take", lambda t, x: self.got.append(x), {}, ())
        self.system = lm.SparkleEntry("_ttss__mark", lambda t, x: self.got.append(("sys", x)),
                                      {}, (), True)

    def send(self, value: Any) -> None:
        """A send from another thread (the dispatch's path for a foreign thread)."""
        self.loop.push_threadsafe(self.tonic, self.take, (value,), {})

    def send_own(self, value: Any, entry: Any = None) -> None:
        """A send from the loop's own thread (the dispatch's path inside a sparkle)."""
        self.loop.push((self.tonic, entry or self.take, (value,), {}))

    def run_all(self) -> None:
        while self.loop.step() is not None:
            pass


def in_thread(func: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = func()
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def test_system_orders_pass_a_full_bound(lm: ModuleType) -> None:
    rig = Rig(lm, 2, "raise")
    rig.send(1)
    rig.send(2)
    rig.send_own("finish", rig.system)
    rig.loop.push_threadsafe(rig.tonic, rig.system, ("late",), {})
    assert len(rig.loop) == 4
    with pytest.raises(ttQueueFull):
        rig.send(3)
    rig.run_all()
    assert rig.got == [1, 2, ("sys", "finish"), ("sys", "late")]


def test_raise_names_the_catalyst_the_tonic_and_the_sparkle(lm: ModuleType) -> None:
    rig = Rig(lm, 1, "raise")
    rig.send(1)
    with pytest.raises(ttQueueFull) as caught:
        rig.send(2)
    text = str(caught.value)
    assert "'bounded'" in text and "'sink'" in text and "ttsc__take" in text
    assert (caught.value.catalyst, caught.value.tonic, caught.value.sparkle) == (
        "bounded", "sink", "ttsc__take")
    with pytest.raises(ttQueueFull):
        rig.send_own(3)  # the loop's own thread gets the same answer
    rig.run_all()
    assert rig.got == [1]
    assert rig.bound.dropped == 0


def test_drop_newest_counts_and_logs_one_warning_per_burst(
        lm: ModuleType, caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig(lm, 4, "drop_newest")
    with caplog.at_level(logging.WARNING, logger="tasktonic"):
        for value in range(10):
            rig.send(value)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "'bounded' is full" in warnings[0]
        assert "ttsc__take for tonic 'sink'" in warnings[0]
        rig.run_all()
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert rig.got == [0, 1, 2, 3]
    assert rig.bound.dropped == 6
    assert len(warnings) == 2 and "dropped 6 orders" in warnings[1]
    assert rig.loop.low_watch == -1  # the burst is over: the loop stops asking


def test_drop_oldest_keeps_the_newest_and_never_drops_system_orders(lm: ModuleType) -> None:
    rig = Rig(lm, 4, "drop_oldest")
    rig.send_own("first", rig.system)
    for value in range(6):
        rig.send(value)
    rig.run_all()
    assert rig.got == [("sys", "first"), 3, 4, 5]
    assert rig.bound.dropped == 3


def test_drop_oldest_with_only_system_orders_waiting_drops_the_new_one(lm: ModuleType) -> None:
    rig = Rig(lm, 2, "drop_oldest")
    rig.send_own("a", rig.system)
    rig.send_own("b", rig.system)
    rig.send(1)
    rig.run_all()
    assert rig.got == [("sys", "a"), ("sys", "b")]
    assert rig.bound.dropped == 1


def test_a_blocked_sender_is_released_when_the_queue_drains(lm: ModuleType) -> None:
    rig = Rig(lm, 4, "block")
    for value in range(4):
        rig.send(value)
    thread, outcome = in_thread(lambda: rig.send(4))
    wait_until(lambda: rig.bound.blocked == 1, "the fifth sender waits")
    assert rig.got == [] and len(rig.loop) == 4
    rig.run_all()  # taking orders drains to the low water mark: the sender's order follows
    thread.join(TIMEOUT)
    assert not thread.is_alive() and "error" not in outcome
    rig.run_all()
    assert rig.got == [0, 1, 2, 3, 4]
    assert rig.bound.blocked == 0 and rig.bound.dropped == 0


def test_a_blocked_sender_returns_when_the_loop_closes(
        lm: ModuleType, caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig(lm, 2, "block")
    rig.send(0)
    rig.send(1)
    thread, outcome = in_thread(lambda: rig.send(2))
    wait_until(lambda: rig.bound.blocked == 1, "the third sender waits")
    with caplog.at_level(logging.DEBUG, logger="tasktonic"):
        rig.loop.close()
        thread.join(TIMEOUT)
    assert not thread.is_alive() and "error" not in outcome
    assert len(rig.loop) == 0 and rig.got == []
    dropped = [r.getMessage() for r in caplog.records if "dropped ttsc__take" in r.getMessage()]
    assert len(dropped) == 3  # two queued, one from the released sender


def test_block_timeout_raises(lm: ModuleType) -> None:
    rig = Rig(lm, 1, "block", block_timeout=0.05)
    rig.send(0)
    thread, outcome = in_thread(lambda: rig.send(1))
    thread.join(TIMEOUT)
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), ttQueueFull)
    assert "block_timeout=0.05" in str(outcome["error"])
    assert rig.bound.blocked == 0
    rig.run_all()
    assert rig.got == [0]


def test_block_admits_over_the_bound_on_the_own_thread_and_before_the_loop_runs(
        lm: ModuleType) -> None:
    rig = Rig(lm, 1, "block")
    rig.send(0)
    rig.send_own(1)  # the loop's own thread never waits for itself
    rig.send(2)  # nor does a foreign-thread call made on it
    rig.loop.thread_id = None  # a loop that does not run yet: nobody would make room
    rig.send(3)
    assert len(rig.loop) == 4 and rig.bound.blocked == 0
    rig.loop.thread_id = threading.get_ident()
    rig.run_all()
    assert rig.got == [0, 1, 2, 3]


def test_two_catalysts_blocking_on_each_other_is_an_error_not_a_deadlock(
        lm: ModuleType) -> None:
    a = Rig(lm, 1, "block")
    b = Rig(lm, 1, "block")
    a.send(0)
    b.send(0)
    b_is_running = threading.Event()

    def b_thread() -> None:  # the thread of catalyst b, sending to full a
        b.loop.thread_id = threading.get_ident()
        b_is_running.set()
        a.send(1)

    thread, outcome = in_thread(b_thread)
    assert b_is_running.wait(TIMEOUT)
    wait_until(lambda: a.bound.blocked == 1, "b's thread waits for a")
    a.loop.thread_id = threading.get_ident()  # this thread is a's: it must not wait for b
    with pytest.raises(ttQueueFull, match="deadlock"):
        b.send(1)
    a.run_all()  # a drains: b's thread goes on
    thread.join(TIMEOUT)
    assert not thread.is_alive() and "error" not in outcome
    a.run_all()
    assert a.got == [0, 1]


def test_counters_ran_and_high_water(lm: ModuleType) -> None:
    rig = Rig(lm, 8, "raise")
    for value in range(5):
        rig.send(value)
    rig.run_all()
    assert rig.loop.ran == 5
    assert rig.loop.high_water == 5
    assert len(rig.loop) == 0


@pytest.mark.parametrize("overflow", ["block", "drop_oldest", "drop_newest"])
def test_many_senders_against_a_running_loop_lose_nothing_unaccounted(
        lm: ModuleType, overflow: str) -> None:
    """Four senders, 3,000 orders each, into a bound of 16 while the loop runs: every order
    is run or counted as dropped, each sender's orders run in the order sent, and (except
    for 'block', which may only admit while there is room) the queue never held more than
    the bound plus one order per sender in flight."""
    senders, per_sender, bound_size = 4, 3000, 16
    got: list[tuple[int, int]] = []
    loop = lm.SparkleLoop(lambda tonic, entry, exc: got.append(("error", exc)))  # type: ignore
    bound = QueueBound(FakeCatalyst(), bound_size, overflow)
    loop.set_bound(bound)
    tonic = FakeTonic()
    take = lm.SparkleEntry("ttsc__take", lambda t, who, n: got.append((who, n)), {}, ())
    stop = lm.SparkleEntry("_ttss__stop", lambda t: loop.stop(), {}, (), True)
    runner = threading.Thread(target=loop.run)
    runner.start()
    wait_until(lambda: loop.thread_id is not None, "the loop runs")

    def send(who: int) -> None:
        for n in range(per_sender):
            loop.push_threadsafe(tonic, take, (who, n), {})

    threads = [threading.Thread(target=send, args=(who,)) for who in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 3)
        assert not thread.is_alive()
    loop.push_threadsafe(tonic, stop, (), {})
    runner.join(TIMEOUT)
    assert not runner.is_alive()
    assert all(len(item) == 2 and isinstance(item[0], int) for item in got), got[:3]
    assert len(got) + bound.dropped == senders * per_sender
    for who in range(senders):
        mine = [n for w, n in got if w == who]
        assert mine == sorted(mine)
    if overflow == "block":
        assert bound.dropped == 0
    assert loop.high_water <= bound_size + 1  # the stop order passes the bound
