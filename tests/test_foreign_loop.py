"""ForeignLoop, the seam of every catalyst that lives in another event loop, driven by hand.

A stand-in foreign loop records what the loop asks of it (``schedule``, ``arm``); the test plays
the foreign loop's part by calling ``batch()`` and ``timer_due()``. Runs on both twins (the
loop subclasses the selected one).
"""
from __future__ import annotations

import threading
from time import monotonic
from typing import Any

from tasktonic._switch import loop as _loop
from tasktonic.foreign import ForeignLoop


class StandIn(ForeignLoop):
    def __init__(self) -> None:
        super().__init__(self._error)
        self.scheduled = 0
        self.armed: list[float | None] = []
        self.errors: list[Exception] = []

    def _error(self, tonic: Any, entry: Any, exc: Exception) -> None:
        self.errors.append(exc)

    def schedule(self) -> None:
        self.scheduled += 1

    def arm(self, delay: float | None) -> None:
        self.armed.append(delay)


class Timer:
    """What the timer heap holds: fired with ``_tt_expire(now)``."""

    def __init__(self) -> None:
        self.fired: list[float] = []

    def _tt_expire(self, now: float) -> None:
        self.fired.append(now)


class Tonic:
    """Just enough of a tonic for a work order: a state index and a handler table."""

    _tt_state = 0

    def __init__(self) -> None:
        self.calls: list[tuple[Any, int]] = []


def _entry(name: str = "ttse__on_x") -> Any:
    def handler(tonic: Tonic, value: Any) -> None:
        tonic.calls.append((value, threading.get_ident()))
    return _loop.SparkleEntry(name, handler, {}, ())


def test_a_timer_that_fires_early_is_armed_again() -> None:
    loop = StandIn()
    loop.begin()
    timer = Timer()
    loop.timers.push(monotonic() + 3600.0, timer)
    loop.batch()
    assert loop.armed and loop.armed[-1] is not None  # armed for the deadline
    loop.timer_due()  # the foreign timer fired early: nothing is due yet
    assert not timer.fired
    assert len(loop.armed) == 2 and loop.armed[-1] is not None  # armed once more


def test_a_batch_runs_at_most_batch_limit_orders_then_asks_for_another() -> None:
    loop = StandIn()
    loop.batch_limit = 3
    loop.begin()
    tonic, entry = Tonic(), _entry()
    worker = threading.Thread(target=lambda: [loop.push_threadsafe(tonic, entry, (i,), {})
                                              for i in range(5)])
    worker.start()
    worker.join()
    scheduled = loop.scheduled
    loop.batch()
    assert [value for value, _ in tonic.calls] == [0, 1, 2]
    assert loop.scheduled == scheduled + 1  # more was ready: another batch, after the GUI's turn
    loop.batch()
    assert [value for value, _ in tonic.calls] == [0, 1, 2, 3, 4]
    assert loop.thread_id is None  # set only while a batch runs


def test_a_call_on_the_foreign_thread_outside_a_batch_is_not_copied_and_wakes() -> None:
    loop = StandIn()
    loop.begin()
    loop.batch()
    scheduled = loop.scheduled
    tonic, entry, data = Tonic(), _entry(), {"a": [1]}
    loop.push_threadsafe(tonic, entry, (data,), {})  # this thread is the foreign loop's
    assert loop.scheduled == scheduled + 1
    loop.batch()
    assert tonic.calls[0][0] is data


def test_a_call_from_another_thread_is_copied() -> None:
    loop = StandIn()
    loop.begin()
    tonic, entry, data = Tonic(), _entry(), {"a": [1]}
    worker = threading.Thread(target=loop.push_threadsafe, args=(tonic, entry, (data,), {}))
    worker.start()
    worker.join()
    loop.batch()
    assert tonic.calls[0][0] == data and tonic.calls[0][0] is not data
