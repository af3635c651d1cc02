"""Bounded catalysts in an application: each overflow policy on a real catalyst, the lifecycle
passing a full queue, the formula's defaults, ``stats()``, and bad settings.

A ``Sink`` on a bounded worker catalyst is held inside a sparkle (``ttsc__hold`` waits for a
gate) so that the test fills the worker's queue knowing nothing is taken from it; the gate
opens when the test has seen what it wants. Results travel back in a ``ttShared`` dict and are
asserted in the test thread, after the application has ended.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from tasktonic import QueueStats, ttCatalyst, ttQueueFull, ttShared, ttTonic
from tasktonic.flow import OVERFLOW_POLICIES
from tests.conftest import run_app

TIMEOUT = 10.0


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.001)


class Sink(ttTonic):
    """Takes values; can be held inside a sparkle until a gate opens."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.got: list[Any] = []

    def ttsc__hold(self, holding: ttShared, gate: ttShared) -> None:
        holding.value.set()
        assert gate.value.wait(TIMEOUT), "the test never opened the gate"

    def ttsc__take(self, value: Any) -> None:
        self.got.append(value)

    def ttsc__report(self, out: ttShared) -> None:
        out.value["got"] = list(self.got)
        out.value["state"] = self.state
        self.finish()

    def ttse_b__on_enter(self) -> None:
        self.got.append("entered b")


class Held:
    """A sink on a bounded worker, held: its queue fills and nothing is taken until open()."""

    def __init__(self, **bound: Any) -> None:
        self.worker = ttCatalyst(name="worker", **bound)
        self.sink = Sink(name="sink", catalyst=self.worker)
        self.holding = threading.Event()
        self.gate = threading.Event()

    def hold(self) -> None:
        self.sink.ttsc__hold(ttShared(self.holding), ttShared(self.gate))
        assert self.holding.wait(TIMEOUT)

    def open(self) -> None:
        self.gate.set()

    def open_and_drain(self) -> None:
        """Open the gate and wait until the worker has taken everything queued."""
        self.open()
        wait_until(lambda: self.worker.stats().queued == 0, "the worker drains")


def drive(build: Callable[[], Held], script: Callable[[Held, dict], None]) -> dict:
    """Run an application whose worker is built by ``build`` and driven by ``script`` from a
    plain thread; return what the script and the sink's report put in ``out``."""
    out: dict[str, Any] = {}
    failures: queue.Queue = queue.Queue()

    def starting() -> None:
        held = build()

        def driver() -> None:
            try:
                script(held, out)
            except BaseException as exc:  # the test re-raises it
                failures.put(exc)
                held.open()
                held.sink.finish()

        threading.Thread(target=driver, name="driver").start()

    run_app(starting, timeout=30)
    if not failures.empty():
        raise failures.get()
    return out


def test_block_waits_for_room_and_loses_nothing() -> None:
    def script(held: Held, out: dict) -> None:
        held.hold()
        for value in range(4):
            held.sink.ttsc__take(value)
        fifth = threading.Thread(target=held.sink.ttsc__take, args=(4,))
        fifth.start()
        wait_until(lambda: held.worker.stats().blocked == 1, "the fifth sender waits")
        out["full"] = held.worker.stats()
        held.open()
        fifth.join(TIMEOUT)
        assert not fifth.is_alive()
        held.sink.ttsc__report(ttShared(out))

    out = drive(lambda: Held(max_queue=4, overflow="block"), script)
    assert out["got"] == [0, 1, 2, 3, 4]
    full = out["full"]
    assert (full.queued, full.blocked, full.dropped, full.max_queue, full.overflow) == (
        4, 1, 0, 4, "block")


def test_raise_tells_the_sender_which_catalyst_tonic_and_sparkle() -> None:
    def script(held: Held, out: dict) -> None:
        held.hold()
        for value in range(2):
            held.sink.ttsc__take(value)
        try:
            held.sink.ttsc__take(2)
        except ttQueueFull as exc:
            out["error"] = str(exc)
        held.open_and_drain()
        held.sink.ttsc__report(ttShared(out))

    out = drive(lambda: Held(max_queue=2, overflow="raise"), script)
    assert out["got"] == [0, 1]
    assert out["error"] == ("tasktonic: catalyst 'worker' is full (max_queue=2): ttsc__take "
                            "for tonic 'sink' refused (overflow='raise')")


@pytest.mark.parametrize("overflow, kept", [("drop_newest", [0, 1, 2]),
                                            ("drop_oldest", [3, 4, 5])])
def test_drop_policies_count_what_they_drop(overflow: str, kept: list[int]) -> None:
    def script(held: Held, out: dict) -> None:
        held.hold()
        for value in range(6):
            held.sink.ttsc__take(value)
        out["full"] = held.worker.stats()
        held.open_and_drain()
        held.sink.ttsc__report(ttShared(out))

    out = drive(lambda: Held(max_queue=3, overflow=overflow), script)
    assert out["got"] == kept
    assert out["full"].dropped == 3 and out["full"].queued == 3


def test_finish_and_state_changes_pass_a_full_catalyst() -> None:
    def script(held: Held, out: dict) -> None:
        held.hold()
        for value in range(2):
            held.sink.ttsc__take(value)
        held.sink.to_state("b")   # queued as a system sparkle: passes the bound
        held.sink.ttsc__take("dropped")
        held.sink.finish()        # so does finish
        out["full"] = held.worker.stats()
        held.open()

    out = drive(lambda: Held(max_queue=2, overflow="drop_newest"), script)
    full = out["full"]
    assert full.queued == 4 and full.dropped == 1  # two takes, the transition, the finish


def test_signal_tells_the_sending_tonic_high_then_low() -> None:
    out: dict[str, Any] = {}

    class Sender(ttTonic):
        def __init__(self, held: Held, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.held = held
            self.events: list[tuple[str, str]] = []

        def ttse__on_start(self) -> None:
            self.held.hold()  # the worker is held: what we send stays queued
            for value in range(6):
                self.held.sink.ttsc__take(value)
            self.held.open()

        def ttse__on_queue_high(self, catalyst: Any) -> None:
            self.events.append(("high", catalyst.name))

        def ttse__on_queue_low(self, catalyst: Any) -> None:
            self.events.append(("low", catalyst.name))
            out["events"] = list(self.events)
            self.held.sink.ttsc__report(ttShared(out))
            self.finish()

    def starting() -> None:
        Sender(Held(max_queue=4, overflow="signal"))

    run_app(starting, timeout=30)
    assert out["events"] == [("high", "worker"), ("low", "worker")]
    assert out["got"] == [0, 1, 2, 3, 4, 5]  # 'signal' queues everything


def test_the_formula_sets_the_default_bound_and_a_catalyst_may_differ() -> None:
    seen: dict[str, QueueStats] = {}

    class Probe(ttTonic):
        def ttse__on_start(self) -> None:
            seen["main"] = self.catalyst.stats()
            default = ttCatalyst(name="default")
            own = ttCatalyst(name="own", max_queue=7, overflow="raise")
            seen["default"], seen["own"] = default.stats(), own.stats()
            for tonic in default, own, self:
                tonic.finish()

    run_app(Probe, settings=(("tasktonic/queue/max", 100),
                             ("tasktonic/queue/overflow", "drop_oldest")))
    assert (seen["main"].max_queue, seen["main"].overflow) == (100, "drop_oldest")
    assert (seen["default"].max_queue, seen["default"].overflow) == (100, "drop_oldest")
    assert (seen["own"].max_queue, seen["own"].overflow) == (7, "raise")


def test_an_unbounded_catalyst_counts_too() -> None:
    seen: dict[str, Any] = {}

    class Counter(ttTonic):
        def ttse__on_start(self) -> None:
            seen["worker"] = ttCatalyst(name="counted")
            Ticker(catalyst=seen["worker"])

        def ttse__ticked(self) -> None:
            self.finish()

    class Ticker(ttTonic):
        def ttse__on_start(self) -> None:
            for _ in range(10):
                self.ttsc__tick()
            self.ttsc__done()

        def ttsc__tick(self) -> None:
            pass

        def ttsc__done(self) -> None:
            self.base.ttse__ticked()
            self.finish()

    run_app(Counter)
    stats = seen["worker"].stats()  # read once the catalyst has finished: every pass counted
    assert stats.max_queue is None and stats.overflow is None and stats.dropped == 0
    assert stats.queued == 0 and stats.high_water >= 10
    assert stats.run >= 11  # on_start, ten ticks, then the finishing


@pytest.mark.parametrize("kwargs, message", [
    ({"max_queue": 0}, "max_queue of catalyst 'bad' must be an int >= 1"),
    ({"max_queue": 2.5}, "max_queue of catalyst 'bad' must be an int >= 1"),
    ({"max_queue": True}, "max_queue of catalyst 'bad' must be an int >= 1"),
    ({"max_queue": 4, "overflow": "spill"}, "overflow of catalyst 'bad' must be one of"),
    ({"max_queue": 4, "block_timeout": -1}, "block_timeout of catalyst 'bad' must be"),
    ({"max_queue": 4, "block_timeout": float("inf")}, "block_timeout of catalyst 'bad'"),
])
def test_bad_bound_settings_are_refused_naming_the_catalyst(kwargs: dict, message: str) -> None:
    outcome: dict[str, Any] = {}

    class Creator(ttTonic):
        def ttse__on_start(self) -> None:
            try:
                ttCatalyst(name="bad", **kwargs)
            except ValueError as exc:
                outcome["error"] = str(exc)
            self.finish()

    run_app(Creator)
    assert message in outcome["error"]


def test_a_bad_formula_default_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="overflow of catalyst 'default for every catalyst'"):
        run_app(lambda: None, settings=(("tasktonic/queue/overflow", "spill"),))


def test_a_catalyst_with_its_own_queue_refuses_max_queue() -> None:
    outcome: dict[str, Any] = {}

    class OwnQueue(ttCatalyst):
        def new_catalyst_queue(self) -> Any:
            return queue.SimpleQueue()

    class Creator(ttTonic):
        def ttse__on_start(self) -> None:
            try:
                OwnQueue(name="own", max_queue=3)
            except TypeError as exc:
                outcome["error"] = str(exc)
            self.finish()

    run_app(Creator)
    assert "catalyst 'own' has its own catalyst queue" in outcome["error"]


def test_lifecycle_sparkles_are_system_and_user_sparkles_are_not() -> None:
    entries = Sink._tt_sparkles
    for name in ("ttsc__finish", "ttse__on_start", "ttse__on_queue_high", "ttse__on_queue_low",
                 "_ttss__call", "_ttss__transition"):
        assert entries[name].system, name
    for name in ("ttsc__take", "ttsc__hold", "ttse__on_enter", "ttsc__to_state"):
        assert not entries[name].system, name
    assert set(OVERFLOW_POLICIES) == {"block", "drop_newest", "drop_oldest", "raise", "signal"}
