"""Catalysts: threads, which catalyst a tonic runs on, and when catalysts end."""
from __future__ import annotations

import threading
import time

from tasktonic import ttCatalyst, ttFormula, ttLedger, ttTonic
from tests.conftest import run_app, run_formula


def catalyst_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("tasktonic:")]


class Where(ttTonic):
    """Reports the thread its sparkles run on, then finishes."""

    def __init__(self, report, **kwargs):
        super().__init__(**kwargs)
        self.report = report

    def ttse__on_start(self):
        self.report[self.name] = (threading.get_ident(), self.catalyst)
        self.finish()


def test_main_catalyst_runs_in_the_formula_thread_and_workers_in_their_own():
    seen = {}

    class Worker(ttCatalyst):
        def ttse__on_start(self):
            seen["worker"] = threading.get_ident()
            self.finish()

    def starting():
        seen["formula"] = threading.get_ident()
        Where(seen, name="on main")
        Worker()

    run_app(starting)
    main_ident, main_catalyst = seen["on main"]
    assert main_ident == seen["formula"]
    assert main_catalyst.name == "tt_main_catalyst"
    assert seen["worker"] != seen["formula"]
    assert seen["worker"] != threading.get_ident()


def test_a_custom_main_catalyst_is_id_zero_and_runs_in_the_formula_thread():
    seen = {}

    class MyMain(ttCatalyst):
        def ttse__on_start(self):
            seen["main"] = (threading.get_ident(), self.id, self.name)

    def starting():
        seen["formula"] = threading.get_ident()
        Where(seen, name="tonic")

    run_app(starting, main_catalyst=MyMain)
    ident, catalyst = seen["tonic"]
    assert type(catalyst) is MyMain
    assert seen["main"] == (seen["formula"], 0, "tt_main_catalyst")
    assert ident == seen["formula"]


def test_tonic_picks_explicit_catalyst_else_its_bases_else_main():
    seen = {}

    class Parent(ttTonic):
        def ttse__on_start(self):
            seen["parent"] = (threading.get_ident(), self.catalyst)
            Where(seen, name="child of parent")
            self.finish()

    def starting():
        # started once every tonic is on it: a worker finishes when its last tonic has
        # finished, which, running in parallel, could come before the next is created
        worker = ttCatalyst(name="worker", dont_start_yet=True)
        seen["worker"] = worker
        Where(seen, name="explicit", catalyst=worker)
        Parent(catalyst=worker)
        Where(seen, name="plain")
        Where(seen, name="context", context=Parent(name="p2", catalyst=worker))
        worker.start_sparkling()

    run_app(starting)
    worker = seen["worker"]
    main = seen["plain"][1]
    assert main.name == "tt_main_catalyst"
    assert seen["explicit"][1] is worker
    assert seen["parent"][1] is worker
    assert seen["child of parent"][1] is worker
    assert seen["context"][1] is worker
    assert seen["child of parent"][0] == seen["explicit"][0] != seen["plain"][0]


def test_a_catalyst_finishes_when_its_last_hosted_tonic_finishes():
    events = []

    class Worker(ttCatalyst):
        def ttse__on_finished(self):
            self.watcher.ttsc__worker_finished(sorted(t.name for t in self.hosted))

    class Job(ttTonic):
        def ttse__on_finished(self):
            self.base.ttsc__job_finished(self.name)

    class Watcher(ttTonic):
        def ttse__on_start(self):
            self.worker = Worker(name="worker")
            self.worker.watcher = self
            self.jobs = [Job(name="j1", catalyst=self.worker),
                         Job(name="j2", catalyst=self.worker)]
            self.jobs[0].finish()

        def ttsc__job_finished(self, name):
            events.append((name, self.worker.finished))
            if name == "j1":
                self.jobs[1].finish()

        def ttsc__worker_finished(self, hosted):
            events.append(("worker", hosted))
            self.finish()

    run_app(Watcher, timeout=10)
    # j1 gone: the worker still hosts j2; j2 gone: the worker finishes by itself
    assert [e[0] for e in events] == ["j1", "j2", "worker"]
    assert events[0] == ("j1", False)
    assert events[2] == ("worker", [])


def test_formula_returns_after_every_catalyst_thread_has_ended():
    seen = {}

    class SlowService(ttCatalyst):
        """A service does not keep the application alive; the main catalyst finishes it."""

        _tt_is_service = "slow_service"

        def ttse__on_finished(self):
            # the path under test: this thread runs on after the main catalyst has finished
            # (which the main thread does on its own, without waiting for this one)
            main, deadline = seen["main"], time.monotonic() + 10
            while not main.finished and time.monotonic() < deadline:
                time.sleep(0.001)
            seen["main finished before"] = main.finished
            time.sleep(0.3)  # a window in which a formula that did not wait would return
            seen["on_finished ended"] = True

    def starting():
        seen["main"] = ttLedger().main_catalyst
        SlowService()
        Where({}, name="short")

    run_app(starting)
    assert catalyst_threads() == []
    assert seen == {"main": seen["main"], "main finished before": True,
                    "on_finished ended": True}


def test_application_keeps_running_while_a_worker_is_busy():
    release = threading.Event()
    outcome = {}

    class Blocker(ttCatalyst):
        def ttsc__block(self, requester):
            requester.ttse__worker_blocked()
            outcome["released"] = release.wait(10)
            requester.ttse__worker_free()

    class Main(ttTonic):
        def ttse__on_start(self):
            self.ticks = 0
            self.worker = Blocker()
            self.worker.ttsc__block(self)

        def ttse__worker_blocked(self):
            self.tts__tick()

        def tts__tick(self):
            self.ticks += 1
            if self.ticks < 100:
                self.tts__tick()
            else:
                release.set()  # only reachable while the worker is still blocked

        def ttse__worker_free(self):
            outcome["ticks"] = self.ticks
            self.finish()

    run_app(Main, timeout=20)
    assert outcome == {"released": True, "ticks": 100}


# -- seed 002: MathWorker ----------------------------------------------------------------

def test_seed_002_math_worker_round_trip():
    seen = {}

    class MathWorker(ttCatalyst):
        def ttsc__crunch_numbers(self):
            seen["crunch thread"] = threading.get_ident()
            result = 42
            self.base.ttse__on_math_done(result)

    class MainApp(ttTonic):
        def ttse__on_start(self):
            seen["main thread"] = threading.get_ident()
            self.worker = MathWorker()
            self.worker.ttsc__crunch_numbers()
            seen["worker is infusion"] = self.worker in self.infusions

        def ttse__on_math_done(self, result):
            seen["result"] = (result, threading.get_ident())
            self.finish()

    class App(ttFormula):
        def creating_formula(self):
            return (("tasktonic/log/to", "off"),)

        def creating_starting_tonics(self):
            MainApp()

    run_formula(App)
    assert seen["result"] == (42, seen["main thread"])
    assert seen["crunch thread"] != seen["main thread"]
    assert seen["worker is infusion"]
    assert catalyst_threads() == []
    assert ttLedger().main_catalyst is None
