"""The lifecycle under pressure: creation racing finishing, failed constructors, services.

Each race is forced, not hoped for: the threads meet at a barrier placed exactly where the
two paths cross, and every scenario is repeated many times so both orders happen.
"""
from __future__ import annotations

import gc
import logging
import threading
import weakref

import pytest

from tasktonic import ttCatalyst, ttLedger, ttShared, ttStore, ttTimerRepeat, ttTonic
from tests.conftest import run_app

WAIT = 10.0  # seconds an Event may take before the test calls it a failure (never a timing)


def wait_for(event: threading.Event, what: str) -> None:
    assert event.wait(WAIT), f"never happened: {what}"


# -- 1. hosting vs finishing --------------------------------------------------------------
def _create_while_the_last_tonic_completes() -> dict:
    """A plain thread builds a tonic on a worker catalyst while the worker's last tonic
    completes; the constructor is held open until that completion has been processed."""
    outcome: dict = {}
    last_finished = threading.Event()

    class Newcomer(ttTonic):
        def __init__(self, worker, **kwargs):
            super().__init__(catalyst=worker, **kwargs)
            wait_for(last_finished, "the worker's last tonic finishing")
            probed = threading.Event()
            worker.ttsc__probe(ttShared(probed))  # runs only if the worker is still alive
            outcome["worker alive while building"] = probed.wait(WAIT)

        def ttse__on_start(self):
            outcome["newcomer ran"] = True
            self.finish()

    class Worker(ttCatalyst):
        def ttsc__probe(self, probed):
            probed.value.set()

    class Last(ttTonic):
        def ttse__on_start(self):
            self.finish()

        def ttse__on_finished(self):
            last_finished.set()

    def creator(worker):
        try:
            Newcomer(worker)
            outcome["created"] = True
        except RuntimeError as exc:
            outcome["refused"] = str(exc)

    def starting():
        worker = Worker(name="worker")
        Last(catalyst=worker)
        thread = threading.Thread(target=creator, args=(worker,), daemon=True)
        outcome["thread"] = thread
        thread.start()

    run_app(starting, timeout=30)
    outcome["thread"].join(WAIT)
    return outcome


def test_a_tonic_built_while_its_catalyst_loses_its_last_tonic_runs_normally():
    for _ in range(200):
        outcome = _create_while_the_last_tonic_completes()
        if "refused" in outcome:  # the worker (or the whole application, when the creating
            refused = outcome["refused"]  # thread came late) had decided to finish already,
            assert "Newcomer" in refused, refused  # or (later still) had ended
            assert ("'worker'" in refused or "'tt_main_catalyst'" in refused
                    or "no catalyst is running" in refused), refused
            continue
        assert outcome.get("worker alive while building") is True, outcome
        assert outcome.get("newcomer ran") is True, outcome


def test_a_tonic_for_a_finished_catalyst_is_refused():
    outcome = {}

    class Last(ttTonic):
        def ttse__on_start(self):
            self.finish()

    class Late(ttTonic):
        pass

    class App(ttTonic):
        def ttse__on_start(self):
            self.worker = ttCatalyst(name="worker")
            Last(catalyst=self.worker)
            self.ttsc__check()

        def ttsc__check(self):
            if not self.worker.finished:
                self.ttsc__check()  # a sparkle at a time: the worker ends on its own thread
                return
            try:
                Late(catalyst=self.worker)
            except RuntimeError as exc:
                outcome["error"] = str(exc)
            self.finish()

    run_app(App, timeout=30)
    assert "worker" in outcome["error"] and "Late" in outcome["error"]


def test_a_tonic_created_from_a_plain_thread_while_the_application_finishes_is_refused():
    for _ in range(50):
        outcome = {}
        finishing = threading.Event()
        created = threading.Event()

        class LongLived(ttTonic):
            """Never finishes by itself: if the finishing main hosted it, the app would hang."""

        class First(ttTonic):
            def ttse__on_start(self):
                ttLedger().main_catalyst.finish()

            def ttse__on_finished(self):
                finishing.set()  # the main catalyst is finishing and waits for this tonic
                wait_for(created, "the plain thread's attempt")

        def creator():
            wait_for(finishing, "the application finishing")
            try:
                outcome["tonic"] = LongLived()
            except RuntimeError as exc:
                outcome["error"] = str(exc)
            created.set()

        thread = threading.Thread(target=creator, daemon=True)

        def starting():
            First()
            thread.start()

        run_app(starting, timeout=30)
        thread.join(WAIT)
        assert "tonic" not in outcome
        assert "tt_main_catalyst" in outcome["error"] and "finishing" in outcome["error"]


def test_a_new_catalyst_is_refused_once_the_application_is_finishing():
    outcome = {}

    class Closer(ttTonic):
        def ttse__on_start(self):
            self.finish()

        def ttse__on_finished(self):
            try:
                ttCatalyst(name="late")
            except RuntimeError as exc:
                outcome["error"] = str(exc)

    class App(ttTonic):
        def ttse__on_start(self):
            ttLedger().main_catalyst.finish()
            Closer()

    run_app(App, timeout=30)
    assert "application is finishing" in outcome["error"]
    assert "ttCatalyst" in outcome["error"]


def test_sparkles_sent_to_a_completed_catalyst_are_dropped_with_a_debug_line(caplog):
    holder = {}

    class Worker(ttTonic):
        def ttse__on_start(self):
            self.finish()

        def ttsc__late(self, value):
            holder["late ran"] = value

    def starting():
        worker = ttCatalyst(name="worker")
        holder["catalyst"] = worker
        holder["tonic"] = Worker(catalyst=worker)

    run_app(starting, timeout=30)
    assert holder["catalyst"].finished and holder["tonic"].finished
    with caplog.at_level(logging.DEBUG, logger="tasktonic"):
        holder["tonic"].ttsc__late([1, 2])
        holder["catalyst"].ttsc__finish()
    assert "late ran" not in holder
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert any("ttsc__late" in line for line in dropped), dropped


# -- 2. failed constructors leave nothing behind -----------------------------------------
def test_a_failed_tonic_constructor_leaves_nothing_running():
    outcome = {"queued ran": False, "timer fired": False}

    class Child(ttTonic):
        def ttse__on_finished(self):
            outcome["child finished"] = True

    class Broken(ttTonic):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.ttsc__queued()
            self.timer = ttTimerRepeat(0.0001, sparkle_back=self.ttse__tick)
            self.child = Child()
            outcome["child"] = self.child
            raise ValueError("broken on purpose")

        def ttsc__queued(self):
            outcome["queued ran"] = True

        def ttse__tick(self, info):
            outcome["timer fired"] = True

    class Creator(ttTonic):
        def ttse__on_start(self):
            try:
                Broken()
            except ValueError as exc:
                outcome["error"] = str(exc)
            # give a live timer many chances to fire before this tonic finishes
            self.countdown = ttTimerRepeat(0.001, sparkle_back=self.ttse__count)
            self.left = 20

        def ttse__count(self, info):
            self.left -= 1
            if self.left == 0:
                self.finish()

    run_app(Creator, timeout=30)
    assert outcome["error"] == "broken on purpose"
    assert outcome["queued ran"] is False
    assert outcome["timer fired"] is False
    assert outcome["child finished"] is True and outcome["child"].finished


def test_a_failed_catalyst_constructor_starts_no_thread_and_the_application_exits():
    outcome = {}

    class Hosted(ttTonic):
        def ttse__on_start(self):
            outcome["hosted ran"] = True

    class BrokenCatalyst(ttCatalyst):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            outcome["hosted"] = Hosted(catalyst=self)
            self.ttsc__never()
            raise RuntimeError("catalyst broken on purpose")

        def ttsc__never(self):
            outcome["never"] = True

    class Creator(ttTonic):
        def ttse__on_start(self):
            try:
                BrokenCatalyst(name="broken")
            except RuntimeError as exc:
                outcome["error"] = str(exc)
            self.finish()

    before = {t.name for t in threading.enumerate()}
    run_app(Creator, timeout=30)
    assert outcome["error"] == "catalyst broken on purpose"
    assert "hosted ran" not in outcome and "never" not in outcome
    assert outcome["hosted"].finished
    started = {t.name for t in threading.enumerate()} - before
    assert not any("broken" in name for name in started), started


def test_a_failed_service_constructor_leaves_no_service_behind():
    attempts = []

    class Flaky(ttTonic):
        _tt_is_service = "flaky_service"

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            attempts.append(self)
            if len(attempts) == 1:
                raise OSError("first start fails")

    outcome = {}

    class User(ttTonic):
        def ttse__on_start(self):
            with pytest.raises(OSError):
                Flaky()
            outcome["second"] = Flaky()
            outcome["third"] = Flaky()
            self.finish()

    run_app(User, timeout=30)
    assert len(attempts) == 2
    assert outcome["second"] is attempts[1] is outcome["third"]
    assert attempts[0].finished


# -- 3. services ---------------------------------------------------------------------------
class Pinged(ttCatalyst):
    """A service on its own thread that answers pings.

    Hearing that a base left, it holds its thread until the test's latecomer has taken the
    service: the latecomer's access lands exactly between "last base gone" and the teardown.
    """

    _tt_is_service = "pinged_service"
    accessed = threading.Event()

    def ttse__on_service_base_completed(self, base):
        wait_for(Pinged.accessed, "the latecomer taking the service")

    def ttsc__ping(self, who):
        who.ttse__pong(self)


def test_a_service_whose_last_base_leaves_is_never_handed_out_finishing():
    kept = fresh = 0
    for _ in range(200):
        outcome = {}
        released = threading.Event()
        Pinged.accessed = threading.Event()

        class FirstUser(ttTonic):
            """The service's only base: finishing releases it, so the service ends."""

            def ttse__on_start(self):
                self.service = Pinged()
                self.finish()

            def ttse__on_finished(self):
                released.set()  # its release is queued on the service's thread by now

        class Holder(ttTonic):
            """Creates the service (a creator is no base) and the base that leaves."""

            def ttse__on_start(self):
                outcome["old"] = Pinged()
                FirstUser()

            def ttsc__done(self):
                self.finish()

        class Latecomer(ttTonic):
            """On another thread, takes the service while its last base is leaving."""

            def __init__(self, holder, **kwargs):
                super().__init__(**kwargs)
                self.holder = holder

            def ttse__on_start(self):
                wait_for(released, "the first user finishing")
                self.service = Pinged()
                Pinged.accessed.set()
                self.service.ttsc__ping(self)

            def ttse__pong(self, service):
                outcome["pong from"] = service
                self.holder.ttsc__done()
                self.finish()

        def starting():
            worker = ttCatalyst(name="late-thread")
            outcome["late"] = Latecomer(Holder(), catalyst=worker)

        run_app(starting, timeout=30)
        late = outcome["late"]
        assert outcome.get("pong from") is late.service, "the latecomer's ping was lost"
        if late.service is outcome["old"]:
            kept += 1
        else:
            fresh += 1
    assert kept + fresh == 200


def test_constructing_one_service_does_not_block_access_to_another():
    outcome = {}
    in_init = threading.Event()
    other_done = threading.Event()

    class Slow(ttTonic):
        _tt_is_service = "slow_service"

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            in_init.set()
            outcome["other service was reachable"] = other_done.wait(WAIT)

    def other_thread():
        wait_for(in_init, "the slow service's constructor")
        outcome["store"] = ttStore()
        other_done.set()

    class App(ttTonic):
        def ttse__on_start(self):
            threading.Thread(target=other_thread, daemon=True).start()
            self.slow = Slow()
            self.finish()

    run_app(App, timeout=30)
    assert outcome["other service was reachable"] is True
    assert outcome["store"] is not None


def test_concurrent_first_access_builds_one_instance():
    built = []

    class Once(ttTonic):
        _tt_is_service = "once_service"

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            built.append(self)

    got = []
    lock = threading.Lock()
    start = threading.Barrier(8, timeout=WAIT)

    def grab():
        start.wait()
        service = Once()
        with lock:
            got.append(service)

    class App(ttTonic):
        def ttse__on_start(self):
            threads = [threading.Thread(target=grab) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(WAIT)
            self.finish()

    for _ in range(20):
        built.clear()
        got.clear()
        run_app(App, timeout=30)
        assert len(built) == 1 and len(got) == 8 and all(s is built[0] for s in got)


def test_a_service_constructor_using_itself_is_an_error_not_a_recursion():
    outcome = {}

    class SelfUser(ttTonic):
        _tt_is_service = "self_user_service"

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            SelfUser()

    class App(ttTonic):
        def ttse__on_start(self):
            try:
                SelfUser()
            except RuntimeError as exc:
                outcome["error"] = str(exc)
            self.finish()

    run_app(App, timeout=30)
    assert "self_user_service" in outcome["error"]


# -- 8. the scale of the bookkeeping --------------------------------------------------------
def test_finishing_many_children_oldest_first_completes_them_all():
    finished = []

    class Leaf(ttTonic):
        def ttse__on_finished(self):
            finished.append(self)

    class Parent(ttTonic):
        def ttse__on_start(self):
            self.children = [Leaf() for _ in range(20_000)]
            self.tts__finish_oldest_first()

        def tts__finish_oldest_first(self):
            for child in self.children:
                child.finish()
            self.finish()

    run_app(Parent, timeout=60)
    assert len(finished) == 20_000


def test_sdump_of_a_3000_deep_tree():
    outcome = {}

    class Node(ttTonic):
        def __init__(self, depth, **kwargs):
            super().__init__(**kwargs)
            self.depth = depth

        def ttse__on_start(self):
            if self.depth < 3000:
                Node(self.depth + 1)
            else:
                outcome["dump"] = ttLedger().sdump()
                ttLedger().main_catalyst.finish()

    run_app(lambda: Node(1), timeout=60)
    lines = outcome["dump"].splitlines()
    nodes = [line for line in lines if "[Node]" in line]
    assert len(nodes) == 3000
    indents = [len(line) - len(line.lstrip()) for line in nodes]
    assert indents == sorted(indents) and indents[-1] >= 2 * 2999  # one level per node


def test_a_finished_tonic_is_not_kept_alive_by_the_framework():
    refs = []

    class Loop(ttTonic):
        def ttse__on_start(self):
            self.finish()

    class App(ttTonic):
        def ttse__on_start(self):
            tonic = Loop()
            refs.append(weakref.ref(tonic))
            self.finish()

    run_app(App, timeout=30)
    gc.collect()
    assert refs[0]() is None


def test_sparkles_of_a_tonic_built_on_another_thread_wait_for_its_init():
    """Built off its catalyst's thread, a tonic's sparkles (and its timers) run only once its
    ``__init__`` has succeeded; if it raises they never run."""
    for fails in (False, True):
        outcome = {"ran": [], "fired": []}

        class Remote(ttTonic):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.ttsc__hello("queued in __init__")
                ttTimerRepeat(0.0001, sparkle_back=self.ttse__tick)
                # the worker is idle: a sparkle that could run during __init__ would run now
                outcome["ran during init"] = self.ran_event.wait(0.3)
                if fails:
                    raise ValueError("remote init fails")

            ran_event = threading.Event()

            def ttsc__hello(self, text):
                outcome["ran"].append(text)
                Remote.ran_event.set()

            def ttse__on_start(self):
                outcome["ran"].append("on_start")

            def ttse__tick(self, info):
                outcome["fired"].append(info)
                if len(outcome["fired"]) == 3:
                    self.base.ttsc__done()  # the creator ends, and with it this infusion

        class Creator(ttTonic):
            def ttse__on_start(self):
                worker = ttCatalyst(name="remote-worker")
                try:
                    Remote(catalyst=worker)
                except ValueError:
                    outcome["raised"] = True
                    worker.finish()
                    self.finish()

            def ttsc__done(self):
                self.finish()

        Remote.ran_event = threading.Event()
        run_app(Creator, timeout=30)
        assert outcome["ran during init"] is False
        if fails:
            assert outcome.get("raised") and outcome["ran"] == [] and outcome["fired"] == []
        else:
            assert outcome["ran"] == ["queued in __init__", "on_start"]
            assert len(outcome["fired"]) >= 3  # it goes on beating until the creator ends


def test_a_sender_still_holding_the_staging_loop_is_forwarded_after_what_was_staged():
    """A tonic built off its catalyst's thread stages what ``__init__`` sends; a sender that
    picked up the staging loop before the hand-over and sends after it is forwarded to the
    catalyst behind the staged orders: neither lost nor ahead of them."""
    outcome: dict = {}
    late_sent = threading.Event()

    class Staged(ttTonic):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.got = []
            self.ttsc__take("staged")
            outcome["staging"] = self._tt_loop  # what a racing sender would still hold

        def ttse__on_start(self):  # after the hand-over, on the catalyst's thread
            entry = type(self)._tt_sparkles["ttsc__take"]
            thread = threading.Thread(target=lambda: (
                outcome["staging"].push_threadsafe(self, entry, ("late",), {}),
                late_sent.set()))
            thread.start()
            wait_for(late_sent, "the late sender")

        def ttsc__take(self, what):
            self.got.append(what)
            if what == "late":
                self.ttsc__report()

        def ttsc__report(self):
            outcome["got"] = list(self.got)
            self.finish()

    def starting():
        Staged(catalyst=ttCatalyst(name="worker"))  # built on the main thread: staged

    run_app(starting, timeout=30)
    assert outcome["staging"] is not None
    assert outcome["got"] == ["staged", "late"]
