"""The distiller: step-by-step runs, stop conditions, traces and contracts."""
from __future__ import annotations

import threading

import pytest

from tasktonic import ttCatalyst, ttLedger, ttTimerSingleShot, ttTonic
from tasktonic.distiller import (
    DistillerStep,
    check_contract,
    ttDistiller,
    ttDistillerFormula,
)


class Pump(ttTonic):
    def ttse__on_start(self):
        self.to_state("idle")

    def ttsc_idle__start(self, speed=1):
        self.speed = speed
        self.to_state("pumping")

    def ttsc_pumping__stop(self):
        self.to_state("idle")


def test_sparkle_runs_only_when_told_and_records_steps():
    dist = ttDistiller()
    pump = Pump(name="pump")
    pump.ttsc__start(speed=3)
    assert pump.get_active_state() == "--" and pump.state is None  # nothing ran yet
    steps = dist.run_steps()
    assert [(s.tonic_name, s.sparkle, s.state) for s in steps] == [
        ("pump", "ttse__on_start", "idle"),
        ("pump", "to_state", "idle"),
        ("pump", "ttsc__start", "pumping"),
        ("pump", "to_state", "pumping"),
    ]
    assert steps[2].kwargs == {"speed": 3} and pump.speed == 3
    assert all(isinstance(s, DistillerStep) for s in steps)
    assert dist.trace == steps
    dist.finish_distiller()
    assert ttLedger().main_catalyst is None


def test_stop_conditions_count_state_and_sparkle():
    dist = ttDistiller()
    pump = Pump(name="pump")
    for _ in range(3):
        pump.ttsc__start()
        pump.ttsc__stop()
    assert len(dist.run_steps(sparkle_count=1)) == 2  # on_start and the transition it caused
    assert dist.run_steps(till_state_in="pumping")[-1].state == "pumping"
    assert dist.run_steps(till_sparkle_in=["ttsc__stop"])[0].sparkle == "ttsc__stop"
    assert dist.run_steps(sparkle_count=0) == []
    dist.finish_distiller()


def test_contract_passes_in_order_and_fails_with_the_trace():
    dist = ttDistiller()
    pump = Pump(name="pump")
    pump.ttsc__start()
    steps = dist.run_steps(contract=["pump.ttse__on_start", "pump@idle", "ttsc__start", "@pumping"])
    with pytest.raises(AssertionError, match="(?s)'pump@idle' not found.*ttsc__start"):
        check_contract(steps, ["ttsc__start", "pump@idle"])  # right steps, wrong order
    with pytest.raises(TypeError):
        check_contract(steps, [42])
    dist.finish_distiller()


class Waiter(ttTonic):
    """Keeps an hour-long timer pending; ``ttsc__soon`` adds a short one. Notes each firing."""

    def __init__(self, fired: list, **kwargs):
        super().__init__(**kwargs)
        self.fired = fired

    def ttse__on_start(self):
        ttTimerSingleShot(3600, name="hour")  # pending for the whole test

    def ttsc__soon(self):
        ttTimerSingleShot(0.02, name="soon")

    def ttse__on_timer(self, info):
        self.fired.append(info["name"])


def test_timeout_waits_for_timers_and_bad_arguments_raise():
    fired: list = []
    dist = ttDistiller()
    waiter = Waiter(fired)
    steps = dist.run_steps()  # no timeout: does not wait for the pending timer
    assert [s.sparkle for s in steps] == ["ttse__on_start"]
    assert fired == []
    waiter.ttsc__soon()
    dist.run_steps(till_sparkle_in="ttse__on_timer", timeout=10.0)  # waits for it
    assert fired == ["soon"]
    with pytest.raises(TypeError):
        dist.run_steps(sparkle_count=-1)
    with pytest.raises(TypeError):
        dist.run_steps(timeout="soon")
    with pytest.raises(TypeError):
        dist.run_steps(till_state_in=3)
    dist.finish_distiller()


class Echo(ttTonic):
    def ttsc__ping(self, who):
        who.ttse__on_pong(threading.get_ident())


class Asker(ttTonic):
    """Pings an Echo on a worker catalyst of its own; notes the thread the answer came from."""

    def ttse__on_start(self):
        self.worker = ttCatalyst(name="worker")
        Echo(catalyst=self.worker).ttsc__ping(self)

    def ttse__on_pong(self, thread_id):
        self.pong_thread = thread_id


def test_worker_catalyst_calls_reach_the_distiller():
    dist = ttDistiller()
    asker = Asker(name="asker")
    dist.run_steps(till_sparkle_in="ttse__on_pong", timeout=10.0)
    assert asker.pong_thread != threading.get_ident()
    dist.finish_distiller()


def test_distiller_formula_builds_the_application_without_running_it():
    class App(ttDistillerFormula):
        def creating_starting_tonics(self):
            Pump(name="pump")

    app = App()
    pump = ttLedger().get_tonic_by_name("pump")
    assert pump.get_active_state() == "--"
    app.distiller.run_steps(contract=["pump@idle"])
    app.distiller.finish_distiller()


def test_second_distiller_while_one_runs_is_refused():
    dist = ttDistiller()
    with pytest.raises(RuntimeError, match="already running"):
        ttDistiller()
    dist.finish_distiller()
