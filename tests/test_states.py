"""The state machine: routing by active state, to_state timing, hooks, errors."""
from __future__ import annotations

import threading

import pytest

from tasktonic import ttCatalyst, ttTonic
from tests.conftest import run_app


class Router(ttTonic):
    """ttsc__work routes to the busy handler in 'busy', else to the generic one."""

    _tt_states = ("idle",)

    def __init__(self, events: list, **kwargs):
        super().__init__(**kwargs)
        self.events = events

    def ttsc_busy__work(self):
        self.events.append(("busy", self.get_active_state()))

    def ttsc__work(self):
        self.events.append(("generic", self.get_active_state()))

    def ttsc_busy__only_busy(self):
        self.events.append(("only busy", self.get_active_state()))


def test_routing_specific_then_generic_then_nothing():
    events = []

    class Driver(Router):
        def ttse__on_start(self):
            self.ttsc__work()          # no active state: generic
            self.ttsc__only_busy()     # no active state, no generic: nothing
            self.ttsc__go_busy()

        def ttsc__go_busy(self):
            self.to_state("busy")
            self.ttsc__work()          # specific
            self.ttsc__only_busy()     # specific
            self.ttsc__go_idle()

        def ttsc__go_idle(self):
            self.to_state("idle")
            self.ttsc__work()          # idle has no specific handler: generic
            self.ttsc__only_busy()     # nothing
            self.finish()

    run_app(lambda: Driver(events))
    assert events == [("generic", "--"), ("busy", "busy"), ("only busy", "busy"),
                      ("generic", "idle")]


def test_to_state_hooks_run_right_after_the_current_sparkle():
    events = []

    class Machine(ttTonic):
        def ttse__on_start(self):
            self.to_state("a")

        def ttsc__go(self):
            events.append("go")
            self.ttsc__queued_by_self()
            self.to_state("b")
            events.append(("go end", self.get_active_state()))

        def ttsc__queued_by_self(self):
            events.append("queued by self")
            self.finish()

        def ttsc__queued_by_other(self):
            events.append("queued by other")

        def ttse_a__on_exit(self):
            events.append(("exit a", self.get_active_state()))

        def ttse__on_exit(self):
            events.append(("generic exit", self.get_active_state()))

        def ttse_b__on_enter(self):
            events.append(("enter b", self.get_active_state()))

        def ttse__on_enter(self):
            events.append(("generic enter", self.get_active_state()))

    class Other(ttTonic):
        def ttse__on_start(self):
            machine = Machine()
            machine.ttsc__go()
            machine.ttsc__queued_by_other()
            self.finish()

    run_app(Other)
    start = events.index("go")
    assert ("generic enter", "a") in events[:start]
    # queued_by_other was queued before go ran, queued_by_self during it: both after the hooks;
    # finishing then leaves state b (its exit hook runs before on_finished)
    assert events[start:] == ["go", ("go end", "a"), ("exit a", "a"), ("enter b", "b"),
                              "queued by other", "queued by self", ("generic exit", "b")]


def test_to_state_in_init_takes_effect_before_on_start():
    events = []

    class Early(ttTonic):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.to_state("ready")
            events.append("init end")

        def ttse_ready__on_enter(self):
            events.append("enter ready")

        def ttse__on_start(self):
            events.append(("on_start", self.get_active_state()))
            self.finish()

    run_app(Early)
    assert events == ["init end", "enter ready", ("on_start", "ready")]


def test_unknown_state_raises_value_error_naming_valid_states():
    outcome = []

    def starting():
        tonic = Router([])
        with pytest.raises(ValueError) as info:
            tonic.to_state("sleeping")
        outcome.append(str(info.value))
        with pytest.raises(TypeError):
            tonic.to_state(3)
        outcome.append(tonic.get_active_state())
        tonic.finish()

    run_app(starting)
    message, state = outcome
    assert "sleeping" in message
    assert "'busy'" in message and "'idle'" in message
    assert state == "--"  # no state active: TaskTonic 0.2.4's marker


def test_unknown_state_inside_a_sparkle_raises_there():
    caught = []

    class Strict(Router):
        def ttse__on_start(self):
            try:
                self.to_state("nowhere")
            except ValueError as exc:
                caught.append(exc)
            self.finish()

    run_app(lambda: Strict([]))
    assert len(caught) == 1 and "'busy'" in str(caught[0])


def test_declared_state_without_handlers():
    seen = []

    class Declared(ttTonic):
        _tt_states = ("idle", "parked")

        def ttse__on_start(self):
            self.to_state("parked")
            self.ttsc__check()

        def ttsc__check(self):
            seen.append(self.get_active_state())
            self.finish()

    assert {"idle", "parked"} <= set(Declared._tt_state_names)
    run_app(Declared)
    assert seen == ["parked"]


def test_no_active_state_never_uses_state_handlers():
    events = []

    class Hooks(ttTonic):
        def ttse_on__on_enter(self):
            events.append("enter on")

        def ttse_on__on_start(self):
            events.append("state on_start")

        def ttse__on_start(self):
            events.append(("generic on_start", self.get_active_state()))
            self.ttsc__ask()

        def ttsc_on__ask(self):
            events.append("state ask")

        def ttsc__ask(self):
            events.append("generic ask")
            self.finish()

    run_app(Hooks)
    assert events == [("generic on_start", "--"), "generic ask"]


def test_force_reenter_and_get_active_state():
    events = []

    class Reenter(ttTonic):
        def ttse__on_start(self):
            events.append(("start", self.get_active_state()))
            self.to_state("a")
            self.ttsc__same()

        def ttsc__same(self):
            events.append("same")
            self.to_state("a")                      # already there: nothing
            self.ttsc__forced()

        def ttsc__forced(self):
            events.append("forced")
            self.to_state("a", force_reenter=True)  # exit and enter again
            self.ttsc__done()

        def ttsc__done(self):
            events.append(("done", self.get_active_state()))
            self.finish()

        def ttse_a__on_enter(self):
            events.append("enter a")

        def ttse_a__on_exit(self):
            events.append("exit a")

    run_app(Reenter)
    assert events == [("start", "--"), "enter a", "same", "forced", "exit a", "enter a",
                      ("done", "a"), "exit a"]  # the last exit: finishing leaves the state


def test_to_state_from_another_thread_runs_the_hooks_on_the_tonics_thread():
    seen = {}

    class Remote(ttTonic):
        def ttse__on_start(self):
            seen["own thread"] = threading.get_ident()

        def ttse_b__on_enter(self):
            seen["enter b"] = (threading.get_ident(), self.get_active_state())
            self.finish()

    def starting():
        seen["caller"] = threading.get_ident()
        Remote(catalyst=ttCatalyst(name="worker")).to_state("b")

    run_app(starting)
    assert seen["enter b"] == (seen["own thread"], "b")
    assert seen["own thread"] != seen["caller"]


def test_to_state_minus_one_stops_the_state_machine_and_a_name_starts_it_again():
    """TaskTonic 0.2.4: to_state(-1) leaves the active state (its exit hook runs, deferred
    like any transition) and no state is active until the next to_state(name)."""
    events = []

    class Machine(ttTonic):
        def ttse__on_start(self):
            self.to_state("a")
            self.ttsc__stop_it()

        def ttsc__stop_it(self):
            self.to_state(-1)
            events.append(("deferred", self.get_active_state()))
            self.ttsc__ask()

        def ttsc_a__ask(self):
            events.append("a handler")

        def ttsc__ask(self):
            events.append(("generic", self.get_active_state(), self.state))
            self.ttsc__to_state("a")  # the sparkle form starts it again
            self.ttsc__check()

        def ttsc__check(self):
            events.append(("again", self.get_current_state_name()))
            self.finish()

        def ttse_a__on_enter(self):
            events.append("enter a")

        def ttse_a__on_exit(self):
            events.append("exit a")

    run_app(Machine)
    assert events == ["enter a", ("deferred", "a"), "exit a", ("generic", "--", None),
                      "enter a", ("again", "a"), "exit a"]


def test_finishing_leaves_the_active_state_after_the_infusions_and_before_on_finished():
    """Seed 001 §4.2 / seed 000 §6: a finishing tonic stops its state machine: once its
    infusions have finished, the exit hook of its state runs, then ttse__on_finished, with no
    state active from then on."""
    events = []

    class Child(ttTonic):
        def ttse__on_finished(self):
            events.append("child finished")

    class Machine(ttTonic):
        def ttse__on_start(self):
            Child()
            self.to_state("running")
            self.ttsc__stop()

        def ttsc__stop(self):
            self.finish()

        def ttse_running__on_exit(self):
            events.append(("exit running", self.get_active_state()))

        def ttse__on_exit(self):
            events.append("generic exit must not run: the state's own hook exists")

        def ttse__on_finished(self):
            events.append(("finished", self.get_active_state(), self.state))

    run_app(Machine)
    assert events == ["child finished", ("exit running", "running"), ("finished", "--", None)]
