"""ttDistiller: a main catalyst for tests that runs sparkles only when told, and records them.

A production catalyst runs freely; the distiller runs in the test's own thread and only when the
test says so. Two APIs drive it.

**The TaskTonic 0.2.4 API** (code written for 0.2.4 runs with ``from tasktonic import *``)::

    class App(ttFormula):
        def creating_main_catalyst(self):
            ttDistiller()

        def creating_starting_tonics(self):
            Pump(name='pump')

    App()                                   # returns once the starting tonics exist
    dist = ttLedger().get_tonic_by_name('tt_main_catalyst')
    status = dist.sparkle(till_state_in=['idle'])
    dist.finish_distiller()                 # or dist.teardown_test_environment()

A ``ttDistiller`` created in ``creating_main_catalyst()`` of a plain ``ttFormula`` makes the
formula return right after ``creating_starting_tonics()``; the application (ledger, tonics,
settings) stays alive until ``finish_distiller()`` or ``teardown_test_environment()``. A
``ttDistiller()`` created outside a formula starts a test application of its own (logging off).

``sparkle(sparkle_count, timeout, till_state_in, till_sparkle_in, contract)`` runs queued
sparkles until a stop condition and returns a *status* dict:

* ``status``: ``'running'`` (the application is still alive) or ``'catalyst finished'``.
* ``start@`` / ``end@``: ``time.time()`` when the call began and ended.
* ``stop_condition``: a list of why it stopped, in the order found: ``'sparkle_count'``,
  ``'timeout'``, ``'sparkle_trigger: [name]'``, ``'state_trigger: [state]'``,
  ``'contract_met'``, ``'catalyst finished'``, or ``'idle'`` (no timeout given and nothing left
  to run now; 0.2.4 had no such case, see below).
* ``sparkle_trace``: one dict per sparkle run: ``id`` (tonic id), ``tonic`` (name),
  ``sparkle`` (method name; a state transition shows as ``'to_state'`` with the state name as
  its argument), ``args`` (tuple), ``kwargs`` (dict), ``at_enter`` and ``at_exit``, each
  ``{'@': time.time(), 'state': state name or '--' (no active state),
  'probes': {attribute: snapshot}}``.
* ``contract_details`` (only when the contract has ``tonics``): ``match_count``,
  ``target_count`` and ``matched_tonics`` (``{name: [reasons]}``).

A *contract* is a dict; the keyword arguments override its keys:

* ``timeout``: seconds to run at most (see waiting, below).
* ``till_state_in``: a state name or a list of them: stop once the tonic that just ran is in
  one of them.
* ``till_sparkle_in``: a sparkle name or a list of them: stop after a sparkle so named ran.
* ``probes``: tonic attribute names; each trace entry snapshots those the tonic has
  (``copy.deepcopy``, or ``repr`` when it cannot be copied) before and after the sparkle.
* ``tonics``: ``{tonic name: rules}`` where rules may hold ``till_state_in`` (that tonic is in
  one of these states), ``till_sparkle_in`` (that tonic just ran one of these sparkles),
  ``stop_on_probe`` (``{attribute: value}``: that attribute equals the value) and ``probes``
  (the probes for that tonic, instead of the contract's ``probes``). A tonic *matches* once,
  when any of its rules holds after a sparkle, and stays matched for the rest of the call.
* ``stop_match_count``: how many tonics of ``tonics`` must have matched to stop with
  ``'contract_met'``: an int (default 1) or ``'all'``.

``sparkle_count`` counts queued sparkles; the state transitions a sparkle causes run with it
(they are never cut off) and show in the trace, but do not count. ``steps=`` is accepted as
another name for it (0.2.4's documentation uses it).

Waiting: with a ``timeout`` the distiller waits for timers and for calls from other threads
(worker catalysts) until a stop condition or the timeout. Without a timeout it never waits: it
runs what is ready and what timers make due, then stops with ``'idle'`` (0.2.4 waited up to an
hour there; a test that needs to wait says how long). A list (or str) contract is the step-list
contract of ``check_contract``, checked on the call's trace (AssertionError when broken).

``stat_print(statuses, filter=None)`` prints status dicts (one, a list, ``{note: status}`` or
``(note, status)`` pairs); ``filter`` is a tonic id or a list of ids.
``run_until_state(tonic, target_state)``, ``run_until_sparkle(tonic, target_sparkle)`` and
``inject_sparkle(sparkle_method, *args, **kwargs)`` are the shorthands 0.2.4's documentation
shows.

**The step-list API**: ``run_steps(...)`` takes the same stop arguments (a list contract) and
returns ``DistillerStep``s: which tonic, which sparkle, with which arguments, and the tonic's
state afterwards. A *contract* there is an ordered list of steps that must appear in that
trace; a missing step raises AssertionError with the trace::

    dist = ttDistiller()
    counter = Counter(name="counter")
    dist.run_steps(contract=["counter.ttse__on_start", "counter@counting"])
    dist.finish_distiller()

Worker catalysts created in a distilled application still run in their own threads.
"""
from __future__ import annotations

import copy
import numbers
import time
from collections.abc import Iterable
from time import monotonic
from typing import Any, NamedTuple, TextIO, cast

from . import _context, lifecycle
from ._switch import loop as _loop
from .catalyst import join_catalyst_threads, ttCatalyst
from .formula import prepare_settings, ttFormula
from .ledger import MAIN_CATALYST_NAME, ttLedger
from .tonic import ttTonic

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


DEFAULT_STOP_MATCH_COUNT = 1
_CONTRACT_KEYS = frozenset(("timeout", "till_state_in", "till_sparkle_in", "probes", "tonics",
                            "stop_match_count"))
_RULE_KEYS = frozenset(("till_state_in", "till_sparkle_in", "stop_on_probe", "probes"))


def _check_count(sparkle_count: Any) -> None:
    if sparkle_count is not None and (isinstance(sparkle_count, bool)
                                      or not isinstance(sparkle_count, int)
                                      or sparkle_count < 0):
        raise TypeError(f"tasktonic: sparkle_count must be an int >= 0, got {sparkle_count!r}")


def _check_timeout(timeout: Any) -> None:
    if timeout is not None and (isinstance(timeout, bool)
                                or not isinstance(timeout, numbers.Real) or timeout < 0):
        raise TypeError(f"tasktonic: timeout must be a number >= 0, got {timeout!r}")


def _snapshot(value: Any) -> Any:
    """A probe's value as it is now: later changes to the attribute do not reach it."""
    try:
        return copy.deepcopy(value)
    except Exception:
        return repr(value)


def _probe(tonic: Any, names: Iterable[str]) -> dict:
    found = {}
    for name in names:
        try:
            value = getattr(tonic, name)
        except AttributeError:
            continue  # a probe the tonic does not have (yet) is left out
        found[name] = _snapshot(value)
    return found


def _timestamped(at: float, tonic: Any, probes: frozenset) -> dict:
    return {"@": at, "state": tonic.get_active_state(), "probes": _probe(tonic, probes)}


class _Contract:
    """A 0.2.4 contract dict, checked and with the keyword arguments applied."""

    def __init__(self, contract: Any, sparkle_count: Any, timeout: Any, till_state_in: Any,
                 till_sparkle_in: Any) -> None:
        if contract is None:
            contract = {}
        if not isinstance(contract, dict):
            raise TypeError(f"tasktonic: a contract is a dict, got {type(contract).__name__}")
        unknown = set(contract) - _CONTRACT_KEYS
        if unknown:
            raise TypeError(f"tasktonic: unknown contract keys {sorted(unknown)}; a contract "
                            f"holds {sorted(_CONTRACT_KEYS)}")
        _check_count(sparkle_count)
        self.sparkle_count = sparkle_count
        self.timeout = contract.get("timeout") if timeout is None else timeout
        _check_timeout(self.timeout)
        self.states = _names(contract.get("till_state_in") if till_state_in is None
                             else till_state_in, "till_state_in")
        self.sparkles = _names(contract.get("till_sparkle_in") if till_sparkle_in is None
                               else till_sparkle_in, "till_sparkle_in")
        self.probes = _names(contract.get("probes"), "probes")
        tonics = contract.get("tonics") or {}
        if not isinstance(tonics, dict):
            raise TypeError(f"tasktonic: contract 'tonics' is a dict of tonic name to rules, "
                            f"got {type(tonics).__name__}")
        self.rules: dict[str, dict] = {}
        for name, rules in tonics.items():
            if not isinstance(rules, dict) or set(rules) - _RULE_KEYS:
                raise TypeError(f"tasktonic: contract 'tonics'[{name!r}] is a dict with keys "
                                f"from {sorted(_RULE_KEYS)}, got {rules!r}")
            on_probe = rules.get("stop_on_probe") or {}
            if not isinstance(on_probe, dict):
                raise TypeError(f"tasktonic: 'stop_on_probe' of {name!r} is a dict of "
                                f"attribute to value, got {on_probe!r}")
            self.rules[name] = {
                "till_state_in": _names(rules.get("till_state_in"), "till_state_in"),
                "till_sparkle_in": _names(rules.get("till_sparkle_in"), "till_sparkle_in"),
                "stop_on_probe": dict(on_probe),
                "probes": (self.probes if rules.get("probes") is None
                           else _names(rules["probes"], "probes")),
            }
        target = contract.get("stop_match_count", DEFAULT_STOP_MATCH_COUNT)
        if target == "all":
            target = len(self.rules)
        elif isinstance(target, bool) or not isinstance(target, int) or target < 1:
            raise TypeError(f"tasktonic: stop_match_count is an int >= 1 or 'all', "
                            f"got {target!r}")
        self.target = target

    def probes_of(self, tonic_name: str) -> frozenset:
        rules = self.rules.get(tonic_name)
        return self.probes if rules is None else rules["probes"]

    def evaluate(self, entry: dict, status: dict, reasons: list) -> None:
        """After one trace entry: append the stop reasons it meets (each once)."""
        if entry["sparkle"] in self.sparkles:
            reasons.append(f"sparkle_trigger: [{entry['sparkle']}]")
        state = entry["at_exit"]["state"]
        if state in self.states:
            reasons.append(f"state_trigger: [{state}]")
        if not self.rules:
            return
        details = status["contract_details"]
        matched = details["matched_tonics"]
        ledger = ttLedger()
        for name, rules in self.rules.items():
            if name in matched:
                continue
            found = ledger.get_tonic_by_name(name)
            if found is None:
                continue
            tonic = cast(ttTonic, found)  # contract rules name tonics
            why = []
            if tonic.state is not None and tonic.state in rules["till_state_in"]:
                why.append(f"state: {tonic.state!r}")
            if name == entry["tonic"] and entry["sparkle"] in rules["till_sparkle_in"]:
                why.append(f"sparkle: {entry['sparkle']!r}")
            for attribute, expected in rules["stop_on_probe"].items():
                if hasattr(tonic, attribute) and getattr(tonic, attribute) == expected:
                    why.append(f"probe: {attribute} == {expected!r}")
            if why:
                matched[name] = why
                details["match_count"] += 1
        if details["match_count"] >= details["target_count"] and "contract_met" not in reasons:
            reasons.append("contract_met")


class ttDistiller(ttCatalyst):
    """The main catalyst of a test application, driven step by step from the test."""

    #: ``sparkle()`` here is 0.2.4's stepping API, not the catalyst's loop (ttCatalyst.sparkle).
    _tt_sparkle_is_the_loop = False
    #: The fast loop: a distiller overrides no extension point, so it has no catalyst queue.
    _tt_sparkle_loop: _loop.SparkleLoop

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
        self.distilled_formula: ttFormula | None = None
        super()._tt_pre_init(base)
        _context.bind_loop(self._tt_sparkle_loop)

    def __init__(self, name: str = MAIN_CATALYST_NAME, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def start_sparkling(self) -> None:
        """A distiller never runs freely: the test calls ``sparkle``."""

    def _tt_formula_hand_over(self, formula: ttFormula) -> None:
        """Called by ``ttFormula.__init__`` instead of running the loop: build and return."""
        try:
            formula.creating_starting_tonics()
        except BaseException:
            self.teardown_test_environment()
            raise
        self.distilled_formula = formula
        lifecycle.application_started(self)
        ttLedger().update_formula("tasktonic/project/status", "main_running")

    # -- running -------------------------------------------------------------------------------
    def _drive(self, sparkle_count: int | None, timeout: float | None,
               on_order: Any, after_step: Any) -> str | None:
        """Run steps: ``on_order(order)`` before each order run, ``after_step()`` after each
        step, returning (an order ran, stop now). Returns the loop's own stop reason, or None."""
        loop = self._tt_sparkle_loop
        deadline = None if timeout is None else monotonic() + timeout
        previous_tracer = loop.tracer
        loop.tracer = lambda *order: on_order(WorkOrder(*order))
        _context.bind_loop(loop)
        count = 0
        try:
            while True:
                if sparkle_count is not None and count >= sparkle_count:
                    return "sparkle_count"
                if self.finished:
                    return "catalyst finished"
                ran = loop.step()
                if ran is None:
                    if loop.fire_due(monotonic()):
                        continue
                    if deadline is None:
                        return "idle"
                    now = monotonic()
                    if now >= deadline:
                        return "timeout"
                    next_timer = loop.timers.next_deadline()
                    wake_at = deadline if next_timer is None else min(next_timer, deadline)
                    loop.wait(max(0.0, wake_at - now))
                    continue
                ran_order, stop = after_step()
                if ran_order:  # not so for an order to a finished tonic, or with no handler
                    count += 1
                if stop:
                    return None
                if deadline is not None and monotonic() >= deadline:
                    return "timeout"
        finally:
            loop.tracer = previous_tracer

    # Not ttCatalyst.sparkle (the loop a catalyst's thread runs) but 0.2.4's stepping API of
    # the same name, hence another signature: a distiller has no thread of its own
    # (_tt_sparkle_is_the_loop = False).
    def sparkle(self, sparkle_count: int | None = None,  # type: ignore[override]
                timeout: float | None = None,
                till_state_in: Any = None, till_sparkle_in: Any = None,
                contract: dict | Iterable[str] | None = None, *,
                steps: int | None = None) -> dict:
        """Run queued sparkles until a stop condition; return the status dict (0.2.4's API).

        See the module docstring for the status and contract shapes and the stop conditions.
        """
        if steps is not None:
            if sparkle_count is not None:
                raise TypeError("tasktonic: give sparkle_count or steps, not both")
            sparkle_count = steps
        step_contract = None
        if isinstance(contract, (str, list, tuple)):  # the step-list contract
            step_contract, contract = contract, None
        terms = _Contract(contract, sparkle_count, timeout, till_state_in, till_sparkle_in)
        status: dict[str, Any] = {"status": "running", "start@": time.time(),
                                  "sparkle_trace": []}
        if terms.rules:
            status["contract_details"] = {"match_count": 0, "target_count": terms.target,
                                          "matched_tonics": {}}
        trace = status["sparkle_trace"]
        steps_ran: list[DistillerStep] = []
        reasons: list[str] = []
        open_entry: list = []  # [entry, tonic] of the order running now
        step_entries: list = []  # (entry, tonic) of the step running now, once ended

        def close() -> None:
            if open_entry:
                entry, tonic = open_entry
                open_entry.clear()
                entry["at_exit"] = _timestamped(time.time(), tonic,
                                                terms.probes_of(entry["tonic"]))
                step_entries.append((entry, tonic))
                terms.evaluate(entry, status, reasons)

        def on_order(order: WorkOrder) -> None:
            close()  # the previous order of this step has ended
            tonic, name, args = order.tonic, order.sparkle.name, order.args
            if name == "_ttss__transition":  # shown as the user wrote it
                name, args = "to_state", (tonic.state_names[args[0] - 1] if args[0] else -1,)
            entry = {"id": tonic.id, "tonic": tonic.name, "sparkle": name, "args": tuple(args),
                     "kwargs": dict(order.kwargs)}
            entry["at_enter"] = _timestamped(time.time(), tonic, terms.probes_of(tonic.name))
            trace.append(entry)
            open_entry[:] = [entry, tonic]

        def after_step() -> tuple[bool, bool]:
            close()
            ran = bool(step_entries)
            steps_of_step()
            return ran, bool(reasons)

        def steps_of_step() -> None:
            # a DistillerStep holds the tonic's state once the whole step (its transitions
            # included) has run
            for entry, tonic in step_entries:
                steps_ran.append(DistillerStep(len(self.trace) + len(steps_ran), entry["id"],
                                               entry["tonic"], entry["sparkle"], entry["args"],
                                               entry["kwargs"], tonic.state))
            step_entries.clear()

        try:
            stopped = self._drive(terms.sparkle_count, terms.timeout, on_order, after_step)
        finally:
            close()
            steps_of_step()
            self.trace.extend(steps_ran)
        if stopped is not None and stopped not in reasons:
            reasons.append(stopped)
        if self.finished:
            status["status"] = "catalyst finished"
            if "catalyst finished" not in reasons:
                reasons.append("catalyst finished")
        status["stop_condition"] = reasons
        status["end@"] = time.time()
        if step_contract is not None:
            check_contract(steps_ran, step_contract)
        return status

    def run_steps(self, sparkle_count: int | None = None, timeout: float | None = None,
                  till_state_in: Any = None, till_sparkle_in: Any = None,
                  contract: Iterable[str] | None = None) -> list[DistillerStep]:
        """Run queued sparkles until a stop condition; return the steps that ran.

        Stops after ``sparkle_count`` queued sparkles, when a tonic reaches a state in
        ``till_state_in``, after a sparkle named in ``till_sparkle_in``, after ``timeout``
        seconds, or when nothing is ready. Without a timeout it never waits: pending timers
        and other threads' calls are only waited for when a timeout is given. ``contract`` is
        a step list (``check_contract``).
        """
        if isinstance(contract, dict):
            raise TypeError("tasktonic: run_steps takes a step-list contract; a contract dict "
                            "goes to sparkle()")
        before = len(self.trace)
        self.sparkle(sparkle_count, timeout, till_state_in, till_sparkle_in)
        steps = self.trace[before:]
        if contract is not None:
            check_contract(steps, contract)
        return steps

    def run_until_state(self, tonic: Any, target_state: str,
                        timeout: float | None = None) -> dict:
        """Sparkle until ``tonic`` is in ``target_state`` (0.2.4's documented shorthand)."""
        return self.sparkle(timeout=timeout, contract={
            "tonics": {tonic.name: {"till_state_in": [target_state]}}})

    def run_until_sparkle(self, tonic: Any, target_sparkle: str,
                          timeout: float | None = None) -> dict:
        """Sparkle until ``tonic`` has run ``target_sparkle`` (0.2.4's documented shorthand)."""
        return self.sparkle(timeout=timeout, contract={
            "tonics": {tonic.name: {"till_sparkle_in": [target_sparkle]}}})

    def inject_sparkle(self, sparkle_method: Any, *args: Any, **kwargs: Any) -> None:
        """Queue a call of a bound sparkle method, as if another tonic made it."""
        if not getattr(getattr(sparkle_method, "__func__", None), "_tt_sparkle_method", False):
            raise TypeError(f"tasktonic: inject_sparkle takes a bound sparkle method "
                            f"(tonic.ttse__x), got {sparkle_method!r}")
        sparkle_method(*args, **kwargs)

    # -- ending --------------------------------------------------------------------------------
    def finish_distiller(self, timeout: float = 5.0, contract: dict | None = None) -> dict:
        """Finish every tonic, run the finishing sparkles, and end the test application.

        Returns the status of the finishing sparkles (a contract may stop them early; the
        rest then finishes in ``teardown_test_environment``, which this calls last).
        """
        self.finish()
        status = self.sparkle(timeout=timeout, contract=contract)
        if not self.finished and status["stop_condition"] == ["timeout"]:
            dump = ttLedger().sdump()
            self.teardown_test_environment()
            raise RuntimeError("tasktonic: the distilled application did not finish within "
                               f"{timeout}s; still alive:\n{dump}")
        self.teardown_test_environment()
        return status

    def teardown_test_environment(self) -> None:
        """Stop worker catalysts, unbind this thread and reset the ledger for the next test."""
        if not self.finished:
            self.finish()
            self.sparkle(timeout=5.0)
        join_catalyst_threads(5.0)
        _context.bind_loop(None)
        ttLedger().reset()

    # -- printing ------------------------------------------------------------------------------
    def stat_print(self, statuses: Any, filter: int | list | None = None,
                   stream: TextIO | None = None) -> None:
        """Print status dicts; ``filter`` keeps the entries of one tonic id or a list of ids."""
        if isinstance(filter, bool) or not (filter is None or isinstance(filter, (int, list))):
            raise TypeError(f"tasktonic: stat_print's filter is a tonic id or a list of ids, "
                            f"got {filter!r}")
        ids = None if filter is None else ({filter} if isinstance(filter, int) else set(filter))
        print("=== Sparkling ===", file=stream)
        for note, status in _named_statuses(statuses):
            if note:
                print(f"--- {note} ---", file=stream)
            for entry in status.get("sparkle_trace", []):
                if ids is not None and entry["id"] not in ids:
                    continue
                enter, leave = entry["at_enter"], entry.get("at_exit", entry["at_enter"])
                print(f"{entry['id']:03d} - {entry['tonic']}.{entry['sparkle']}"
                      f"{tuple(entry['args'])!r} {entry['kwargs']!r}\n"
                      f"   state {enter['state']} -> {leave['state']}, "
                      f"{leave['@'] - enter['@']:.6f}s", file=stream)
                for probe in sorted(set(enter["probes"]) | set(leave["probes"])):
                    print(f"   {probe}: {enter['probes'].get(probe, '-')!r} -> "
                          f"{leave['probes'].get(probe, '-')!r}", file=stream)
            print(f">> stopped: {status.get('stop_condition', [])}, "
                  f"{status.get('end@', 0) - status.get('start@', 0):.3f}s, "
                  f"status {status.get('status', 'unknown')}", file=stream)

    def print_steps(self, steps: Iterable[DistillerStep] | None = None,
                    filter: str | None = None, stream: TextIO | None = None) -> None:
        """Print steps (all so far by default), optionally only those of one tonic name."""
        for step in (self.trace if steps is None else steps):
            if filter is None or step.tonic_name == filter:
                print(step, file=stream)


def _named_statuses(statuses: Any) -> list:
    """``[(note or None, status)]`` from a status, a list of them, a dict or (note, status)."""
    if isinstance(statuses, dict):
        if "sparkle_trace" in statuses:
            return [(None, statuses)]
        return list(statuses.items())
    if isinstance(statuses, tuple) and len(statuses) == 2 and isinstance(statuses[1], dict) \
            and (statuses[0] is None or isinstance(statuses[0], str)):
        return [statuses]
    if isinstance(statuses, (list, tuple)):
        return [s if isinstance(s, tuple) else (None, s) for s in statuses]
    raise TypeError(f"tasktonic: stat_print takes status dicts, got {type(statuses).__name__}")


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
        main._tt_formula_hand_over(self)

    def creating_formula(self) -> Any:
        return (("tasktonic/log/to", "off"),)

    def creating_main_catalyst(self) -> None:
        ttDistiller()
