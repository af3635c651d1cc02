"""ttDistiller: a main catalyst for tests that runs sparkles only when told, and records them.

A production catalyst runs freely; the distiller runs in the test's own thread and only
inside ``sparkle(...)``, which runs queued sparkles until a stop condition (a count, a state
reached, a sparkle run, a timeout, or nothing left to do) and returns the steps it ran: which
tonic, which sparkle, with which arguments, and the tonic's state afterwards. A *contract* is an
ordered list of steps that must appear in that trace; a missing step raises AssertionError
with the trace, so a pytest test reads as the behaviour it expects::

    dist = ttDistiller()
    counter = Counter(name="counter")
    dist.sparkle(contract=["counter.ttse__on_start", "counter@counting"])
    dist.finish_distiller()

Worker catalysts created in a distilled application still run in their own threads.
"""
from __future__ import annotations

import numbers
from time import monotonic
from typing import Any, Iterable, NamedTuple, TextIO

from . import _context, lifecycle
from ._switch import loop as _loop
from .catalyst import join_catalyst_threads, ttCatalyst
from .formula import prepare_settings, ttFormula
from .ledger import MAIN_CATALYST_NAME, ttLedger

WorkOrder = _loop.WorkOrder

__all__ = ["ttDistiller", "ttDistillerFormula", "DistillerStep", "check_contract"]


class DistillerStep(NamedTuple):
    """One sparkle the distiller ran."""

    number: int  # position in the distiller's whole trace
    tonic_id: int
    tonic_name: str
    sparkle: str
    args: tuple
    kwargs: dict
    state: str | None  # the tonic's state once the step had run

    def __str__(self) -> str:
        shown = ", ".join([repr(a) for a in self.args]
                          + [f"{k}={v!r}" for k, v in self.kwargs.items()])
        return f"#{self.number} {self.tonic_name}.{self.sparkle}({shown}) @{self.state}"


def _names(value: Any, what: str) -> frozenset:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset((value,))
    try:
        names = frozenset(value)
    except TypeError:
        raise TypeError(f"tasktonic: {what} must be a str or an iterable of str, got "
                        f"{type(value).__name__}") from None
    if not all(isinstance(n, str) for n in names):
        raise TypeError(f"tasktonic: {what} must hold str names, got {sorted(map(repr, names))}")
    return names


def _matches(step: DistillerStep, expected: str) -> bool:
    who, at, state = expected.partition("@")
    if at:
        return step.state == state and (not who or step.tonic_name == who)
    tonic, dot, sparkle = expected.rpartition(".")
    return step.sparkle == sparkle and (not dot or step.tonic_name == tonic)


def check_contract(steps: Iterable[DistillerStep], contract: Iterable[str]) -> None:
    """Assert that ``contract`` occurs in ``steps`` in order (other steps may come between).

    Each expectation is ``'sparkle'``, ``'tonic_name.sparkle'``, ``'tonic_name@state'`` (the
    tonic is in that state after a step) or ``'@state'`` (any tonic).
    """
    if isinstance(contract, str):
        contract = [contract]
    steps = list(steps)
    position = 0
    for expected in contract:
        if not isinstance(expected, str):
            raise TypeError(f"tasktonic: contract steps are str, got {expected!r}")
        while position < len(steps) and not _matches(steps[position], expected):
            position += 1
        if position == len(steps):
            trace = "\n".join(f"  {step}" for step in steps) or "  (nothing ran)"
            raise AssertionError(f"distiller contract broken: {expected!r} not found in order "
                                 f"in the trace:\n{trace}")
        position += 1


class ttDistiller(ttCatalyst):
    """The main catalyst of a test application, driven step by step from the test."""

    def _tt_pre_init(self, base: Any) -> None:
        ledger = ttLedger()
        if not ledger.main_expected:
            if ledger.main_catalyst is not None:
                raise RuntimeError("tasktonic: a ttDistiller is the main catalyst of its own "
                                   f"application; {ledger.main_catalyst!r} is already running")
            ledger.reset()
            prepare_settings(ledger, (("tasktonic/log/to", "off"),))
            ledger.expect_main_catalyst()
        self.trace: list[DistillerStep] = []
        super()._tt_pre_init(base)
        _context.bind_loop(self._tt_sparkle_loop)

    def __init__(self, name: str = MAIN_CATALYST_NAME, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def start_sparkling(self) -> None:
        """A distiller never runs freely: the test calls ``sparkle``."""

    def sparkle(self, sparkle_count: int | None = None, timeout: float | None = None,
                till_state_in: Any = None, till_sparkle_in: Any = None,
                contract: Iterable[str] | None = None) -> list[DistillerStep]:
        """Run queued sparkles until a stop condition; return the steps that ran.

        Stops after ``sparkle_count`` queued sparkles, when a tonic reaches a state in
        ``till_state_in``, after a sparkle named in ``till_sparkle_in``, after ``timeout``
        seconds, or when nothing is ready. Without a timeout it never waits: pending timers
        and other threads' calls are only waited for when a timeout is given.
        """
        if sparkle_count is not None and (isinstance(sparkle_count, bool)
                                          or not isinstance(sparkle_count, int)
                                          or sparkle_count < 0):
            raise TypeError(f"tasktonic: sparkle_count must be an int >= 0, got {sparkle_count!r}")
        if timeout is not None and (isinstance(timeout, bool)
                                    or not isinstance(timeout, numbers.Real) or timeout < 0):
            raise TypeError(f"tasktonic: timeout must be a number >= 0, got {timeout!r}")
        states = _names(till_state_in, "till_state_in")
        sparkles = _names(till_sparkle_in, "till_sparkle_in")
        loop = self._tt_sparkle_loop
        ran: list[tuple] = []
        steps: list[DistillerStep] = []
        deadline = None if timeout is None else monotonic() + timeout
        previous_tracer = loop.tracer
        loop.tracer = lambda *order: ran.append(WorkOrder(*order))
        _context.bind_loop(loop)
        count = 0
        try:
            while sparkle_count is None or count < sparkle_count:
                if loop.step() is None:
                    if loop.fire_due(monotonic()):
                        continue
                    if deadline is None:
                        break
                    now = monotonic()
                    if now >= deadline:
                        break
                    next_timer = loop.timers.next_deadline()
                    wake_at = deadline if next_timer is None else min(next_timer, deadline)
                    loop.wait(max(0.0, wake_at - now))
                    continue
                if ran:  # an order for a finished tonic, or with no handler, is no step
                    count += 1
                stop = False
                for tonic, entry, args, kwargs in ran:
                    name = entry.name
                    if name == "_ttss__transition":  # shown as the user wrote it
                        name, args = "to_state", (tonic.state_names[args[0] - 1],)
                    step = DistillerStep(len(self.trace) + len(steps), tonic.id, tonic.name,
                                         name, args, dict(kwargs), tonic.state)
                    steps.append(step)
                    stop = stop or step.sparkle in sparkles or step.state in states
                ran.clear()
                if stop or (deadline is not None and monotonic() >= deadline):
                    break
        finally:
            loop.tracer = previous_tracer
        self.trace.extend(steps)
        if contract is not None:
            check_contract(steps, contract)
        return steps

    def finish_distiller(self, timeout: float = 5.0,
                         contract: Iterable[str] | None = None) -> list[DistillerStep]:
        """Finish every tonic, run the finishing sparkles, and end the test application."""
        self.finish()
        steps: list[DistillerStep] = []
        deadline = monotonic() + timeout
        while not self.finished:
            left = deadline - monotonic()
            if left <= 0:
                raise RuntimeError("tasktonic: the distilled application did not finish within "
                                   f"{timeout}s; still alive:\n{ttLedger().sdump()}")
            steps += self.sparkle(timeout=min(left, 0.05))
        if contract is not None:
            check_contract(steps, contract)
        self.teardown_test_environment()
        return steps

    def teardown_test_environment(self) -> None:
        """Stop worker catalysts, unbind this thread and reset the ledger for the next test."""
        if not self.finished:
            self.finish()
            deadline = monotonic() + 5.0
            while not self.finished and monotonic() < deadline:
                self.sparkle(timeout=0.05)
        join_catalyst_threads(5.0)
        _context.bind_loop(None)
        ttLedger().reset()

    def stat_print(self, statuses: Iterable[DistillerStep] | None = None,
                   filter: str | None = None, stream: TextIO | None = None) -> None:
        """Print steps (all so far by default), optionally only those of one tonic name."""
        for step in (self.trace if statuses is None else statuses):
            if filter is None or step.tonic_name == filter:
                print(step, file=stream)


class ttDistillerFormula(ttFormula):
    """A formula whose main catalyst is a distiller: it builds the application and returns.

    ``formula.distiller`` then drives it from the test.
    """

    distiller: ttDistiller

    def __init__(self) -> None:
        ledger = self._begin()
        main = self._create_main_catalyst(ledger)
        if not isinstance(main, ttDistiller):
            raise RuntimeError("tasktonic: ttDistillerFormula needs a ttDistiller as main "
                               f"catalyst, got {main!r}")
        self.distiller = main
        self.creating_starting_tonics()
        lifecycle.application_started(main)

    def creating_formula(self) -> Any:
        return (("tasktonic/log/to", "off"),)

    def creating_main_catalyst(self) -> None:
        ttDistiller()
