"""The promises of ``tasktonic/timers.py`` (its module docstring), each forced, not hoped for.

* Once ``stop()``, ``restart()`` or ``pause()`` has returned on the catalyst's thread, a firing
  from before it never reaches the callback, even when its delivery was already queued. The
  tests force that interleaving: a sparkle re-queues itself once per loop pass until the loop's
  timer pass has fired the timer (``_tt_expire`` moved ``timer.expire``, which it does while it
  queues the delivery), so the action runs with the delivery proven queued and not yet run.
* A fired single shot leaves the ledger and its tonic's infusions, ``restart()`` brings it
  back, and a restart once its tonic has finished is a ``RuntimeError``.
* Fired single shots are freed: live timer objects stay bounded (counted with a ``WeakSet``).
* Absurd periods are refused at creation; a timer whose ``__init__`` raises never fires; a stop
  sent from another thread holds from the moment it is processed.

Results are collected in plain containers and asserted after the application has ended.
"""
from __future__ import annotations

import logging
import math
import queue
import threading
import weakref

import pytest

from tasktonic import (
    ttCatalyst,
    ttLedger,
    ttTimerPausing,
    ttTimerRepeat,
    ttTimerSingleShot,
    ttTonic,
)
from tests.conftest import run_app

#: Rounds per forced-interleaving scenario.
ROUNDS = 300
#: The shortest positive period: a repeat set to it is due again at every timer pass.
TINY = 1e-6
#: How long a test waits for another thread to reach a point it is known to reach.
APP_WAIT = 20.0


def in_ledger(essence) -> bool:
    return any(record is essence for record in ttLedger().records.values())


def on_catalyst(where: str):
    """Create the tonic under test on the main catalyst or on a worker catalyst of its own."""
    def place(cls, *args, **kwargs):
        if where == "worker":
            kwargs["catalyst"] = ttCatalyst(name="timer worker")
        return cls(*args, **kwargs)
    return place


# -- A(1): stop / restart / pause drop a firing whose delivery is already queued -------------

class Forcer(ttTonic):
    """Each round: arm a timer, let the loop fire it, act on it while its delivery is queued.

    ``log['forced']`` gets one entry per round, ``(round, calls of this round so far)``, written
    just before the action, once the timer pass has provably fired the timer. ``log['after']``
    gets ``(round, calls)`` from a sparkle queued by the action: it runs after the stale
    delivery (queued before the action) and before any firing that follows the action (the
    loop fires timers only between passes). ``log['calls']`` gets ``(round, acted)`` from every
    callback that runs.
    """

    def __init__(self, scenario, log, **kwargs):
        super().__init__(**kwargs)
        self.scenario = scenario
        self.log = log
        self.round = 0
        self.timer = None

    def ttse__on_start(self):
        self.ttsc__arm()

    def calls_now(self):
        return sum(1 for r, _acted in self.log["calls"] if r == self.round)

    def ttsc__arm(self):
        if self.timer is not None:
            self.timer.stop()
        if self.round == ROUNDS:
            self.finish()
            return
        self.round += 1
        self.acted = False
        kind = self.scenario.split()[0]
        if kind == "single":
            self.timer = ttTimerSingleShot(0, marker=self.round)
        elif kind == "repeat":
            self.timer = ttTimerRepeat(TINY, marker=self.round)
        else:
            self.timer = ttTimerPausing(TINY, marker=self.round)
        self.armed = self.timer.expire
        self.ttsc__spin()

    def ttsc__spin(self):
        if self.timer.expire == self.armed:  # not fired yet: look again after the next pass
            self.ttsc__spin()
            return
        self.log["forced"].append((self.round, self.calls_now()))
        action = self.scenario.split()[1]
        self.acted = True
        getattr(self.timer, action)()
        self.ttsc__after()

    def ttsc__after(self):
        self.log["after"].append((self.round, self.calls_now()))
        action = self.scenario.split()[1]
        if action == "stop":
            self.ttsc__arm()
        elif action == "pause":
            self.timer.resume()  # the next beat comes from the resumed timer only
        # restart: the new firing's callback goes on

    def ttse__on_timer(self, info):
        self.log["calls"].append((info["marker"], self.acted))
        if info["marker"] == self.round and self.acted:
            self.timer.stop()  # the round is over: a repeat's later beats are dropped too
            self.ttsc__arm()


SCENARIOS = ["single stop", "repeat stop", "pausing stop", "single restart", "repeat restart",
             "pausing pause"]


@pytest.mark.parametrize("where", ["main", "worker"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_firing_already_queued_never_outlives_stop_restart_or_pause(scenario, where):
    log = {"forced": [], "after": [], "calls": []}
    run_app(lambda: on_catalyst(where)(Forcer, scenario, log))
    rounds = list(range(1, ROUNDS + 1))
    # every round acted with the delivery queued and not yet run
    assert log["forced"] == [(r, 0) for r in rounds]
    # the stale delivery ran before 'after' and reached no callback
    assert log["after"] == [(r, 0) for r in rounds]
    if scenario.endswith("stop"):
        assert log["calls"] == []
    else:  # restart / pause+resume: the new firing comes, exactly once per round
        assert log["calls"] == [(r, True) for r in rounds]


def test_change_timer_on_a_running_repeat_drops_the_queued_beat():
    """``change_timer`` restarts a running timer: the beat queued before it is dropped too."""
    log = {"forced": 0, "calls": [], "after": []}

    class Changer(ttTonic):
        def ttse__on_start(self):
            self.round = 0
            self.ttsc__arm()

        def ttsc__arm(self):
            if self.round == ROUNDS:
                self.finish()
                return
            self.round += 1
            self.changed = False
            self.timer = ttTimerRepeat(TINY, marker=self.round)
            self.armed = self.timer.expire
            self.ttsc__spin()

        def ttsc__spin(self):
            if self.timer.expire == self.armed:
                self.ttsc__spin()
                return
            log["forced"] += 1
            self.changed = True
            self.timer.change_timer(seconds=2 * TINY)
            self.ttsc__after()

        def ttsc__after(self):
            log["after"].append(sum(1 for r, _ in log["calls"] if r == self.round))

        def ttse__on_timer(self, info):
            log["calls"].append((info["marker"], self.changed))
            self.timer.stop()
            self.ttsc__arm()

    run_app(Changer)
    assert log["forced"] == ROUNDS
    assert log["after"] == [0] * ROUNDS
    assert log["calls"] == [(r, True) for r in range(1, ROUNDS + 1)]


# -- A(2): a fired single shot is released; restart brings it back ---------------------------

def test_a_fired_single_shot_is_released_and_restart_brings_it_back():
    seen = {}

    class Shooter(ttTonic):
        def ttse__on_start(self):
            self.fired = 0
            self.shot = ttTimerSingleShot(0, sparkle_back=self.ttse__fired)
            seen["created"] = self.where()

        def where(self):
            return {"ledger": in_ledger(self.shot), "infusions": self.shot in self.infusions,
                    "running": self.shot.running}

        def ttse__fired(self, info):
            self.fired += 1
            self.ttsc__look()

        def ttsc__look(self):
            seen[f"after firing {self.fired}"] = self.where()
            if self.fired == 1:
                self.shot.restart()
                seen["restarted"] = self.where()
            else:
                self.finish()

    run_app(Shooter)
    running = {"ledger": True, "infusions": True, "running": True}
    released = {"ledger": False, "infusions": False, "running": False}
    assert seen["created"] == running
    assert seen["after firing 1"] == released
    assert seen["restarted"] == running
    assert seen["after firing 2"] == released


def test_a_single_shot_whose_plain_callback_raises_is_released_too():
    seen = {}

    class Host(ttTonic):
        def ttse__on_start(self):
            self.shot = ttTimerSingleShot(0, sparkle_back=self.explode)  # a plain method

        def explode(self, info):
            self.ttsc__look()  # queued before the error leaves the callback
            raise KeyError("callback failed")

        def on_sparkle_error(self, sparkle, error):
            seen["error"] = repr(error)
            return True

        def ttsc__look(self):
            seen["released"] = (not in_ledger(self.shot), self.shot not in self.infusions)
            self.finish()

    run_app(Host)
    assert seen == {"error": "KeyError('callback failed')", "released": (True, True)}


@pytest.mark.parametrize("caller", ["same catalyst", "other catalyst", "plain thread"])
def test_restarting_a_fired_single_shot_after_its_tonic_finished_raises(caller):
    seen = {}

    class Owner(ttTonic):
        def ttse__on_start(self):
            seen["shot"] = ttTimerSingleShot(0, sparkle_back=self.ttse__fired)

        def ttse__fired(self, info):
            self.finish()

        def ttse__on_finished(self):
            # queued on this catalyst: it runs once the owner has completed
            seen["relay"].ttsc__relay(seen["shot"])

    def attempt(shot):
        seen["owner finished"] = shot.base.finished
        try:
            shot.restart()
        except RuntimeError as exc:
            seen["error"] = str(exc)

    class Relay(ttTonic):
        def ttsc__relay(self, shot):
            if caller == "same catalyst":
                attempt(shot)
            elif caller == "plain thread":
                thread = threading.Thread(target=attempt, args=(shot,))
                thread.start()
                thread.join()
            else:
                Elsewhere(catalyst=ttCatalyst(name="elsewhere")).ttsc__attempt(shot)
            self.finish()

    class Elsewhere(ttTonic):
        def ttsc__attempt(self, shot):
            attempt(shot)
            self.finish()

    def starting():
        seen["relay"] = Relay()
        Owner(name="owner tonic")

    run_app(starting)
    assert seen["owner finished"] is True
    assert "error" in seen, "restart after the tonic finished did not raise"
    assert "owner tonic" in seen["error"]
    # and from outside any application, once everything has ended
    with pytest.raises(RuntimeError):
        seen["shot"].restart()


# -- A(3): fired single shots cost no memory --------------------------------------------------

#: Single shots fired by the memory test (the issue's figure). Every batch must leave nothing
#: alive, so a leak of even one shot per batch fails at the second sample.
SHOTS = 200_000
BATCH = 1000


def test_fired_single_shots_do_not_accumulate():
    live: weakref.WeakSet = weakref.WeakSet()
    samples = []

    class Shooter(ttTonic):
        def ttse__on_start(self):
            self.made = self.fired = 0
            self.ttsc__batch()

        def ttsc__batch(self):
            # every shot made so far has fired and its delivery has run
            samples.append((len(live), len(ttLedger().records), len(self.infusions)))
            if self.made >= SHOTS:
                self.finish()
                return
            for _ in range(BATCH):
                live.add(ttTimerSingleShot(0, sparkle_back=self.ttse__shot))
            self.made += BATCH

        def ttse__shot(self, info):
            self.fired += 1
            if self.fired == self.made:
                self.ttsc__batch()

    run_app(Shooter, timeout=120)
    assert len(samples) == SHOTS // BATCH + 1
    first_ledger = samples[0][1]
    for count, (alive, records, infusions) in enumerate(samples):
        # nothing from earlier batches survives: not in the heap, the queue, the ledger, ...
        assert alive == 0, f"after {count * BATCH} shots {alive} timer objects are alive"
        assert records == first_ledger and infusions == 0


#: Answered (finished) single shots made by the test below.
STOPPED = 20000


def test_answered_timeouts_do_not_accumulate():
    """The timeout pattern: a single shot per request, finished when the answer comes first
    (a stopped timer stays with its tonic, ready to restart: finish() releases it)."""
    live: weakref.WeakSet = weakref.WeakSet()
    samples = []

    class Requester(ttTonic):
        def ttse__on_start(self):
            self.made = 0
            self.ttsc__batch()

        def ttsc__batch(self):
            samples.append((len(live), len(ttLedger().records), len(self.infusions)))
            if self.made >= STOPPED:
                self.finish()
                return
            for _ in range(BATCH):
                timeout = ttTimerSingleShot(60, sparkle_back=self.ttse__timeout)
                live.add(timeout)
                timeout.finish()  # the answer came in time
            self.made += BATCH
            self.ttsc__batch()

        def ttse__timeout(self, info):
            raise AssertionError("an answered timeout fired")

    run_app(Requester, timeout=120)
    assert len(samples) == STOPPED // BATCH + 1
    first_ledger = samples[0][1]
    for count, (alive, records, infusions) in enumerate(samples):
        assert alive == 0, f"after {count * BATCH} answered timeouts {alive} are alive"
        assert records == first_ledger and infusions == 0


# -- A(4): absurd periods are refused at creation -------------------------------------------

CENTURY = 100 * 366 * 86400.0
BAD_PERIODS = [
    ("nan", {"seconds": math.nan}),
    ("+inf", {"seconds": math.inf}),
    ("-inf", {"seconds": -math.inf}),
    ("nan minutes", {"minutes": math.nan}),
    ("inf days", {"days": math.inf}),
    ("101 years", {"days": 101 * 366}),
    ("century and a second", {"seconds": CENTURY + 1.0}),
    ("huge float", {"seconds": 1e308}),
    ("huge float days", {"days": 1e306}),
    ("huge int", {"seconds": 10 ** 400}),
    ("huge int hours", {"hours": 10 ** 30}),
]


@pytest.mark.parametrize("label, period", BAD_PERIODS, ids=[b[0] for b in BAD_PERIODS])
def test_absurd_periods_raise_value_error_and_harm_no_catalyst(label, period):
    errors = {}
    log = {"beats": 0}

    class Host(ttTonic):
        def ttse__on_start(self):
            # a witness that must keep beating on this catalyst after every refusal
            self.beat = ttTimerRepeat(0.001, sparkle_back=self.ttse__beat)
            for cls in (ttTimerSingleShot, ttTimerRepeat, ttTimerPausing):
                for kwargs in ({}, {"start_paused": True}) if cls is ttTimerPausing else ({},):
                    key = f"{cls.__name__}{kwargs}"
                    try:
                        cls(**period, **kwargs)
                    except ValueError as exc:
                        errors[key] = str(exc)
                    except BaseException as exc:  # the wrong kind of error
                        errors[key] = exc
                    else:
                        errors[key] = None
            for cls in (ttTimerSingleShot, ttTimerRepeat, ttTimerPausing):
                timer = cls(seconds=30)
                before = (timer.period, timer.expire, timer.running)
                key = f"change_timer {cls.__name__}"
                try:
                    timer.change_timer(**period)
                except ValueError as exc:
                    errors[key] = str(exc)
                except BaseException as exc:
                    errors[key] = exc
                else:
                    errors[key] = None
                errors[key + " unchanged"] = (timer.period, timer.expire, timer.running) == before
                timer.stop()
            errors["leftovers"] = [e.name for e in ttLedger().records.values()
                                   if type(e).__name__.startswith("ttTimer") and e is not
                                   self.beat and e.running]

        def ttse__beat(self, info):
            log["beats"] += 1
            if log["beats"] == 3:
                self.finish()

        def ttse__on_timer(self, info):
            pass

    run_app(lambda: Host(name="host"))
    assert errors.pop("leftovers") == []
    for key in [k for k in errors if k.endswith(" unchanged")]:
        assert errors.pop(key) is True, key
    assert len(errors) == 7
    for key, message in errors.items():
        assert isinstance(message, str), f"{key} with {label}: {message!r} (not a ValueError)"
    assert log["beats"] == 3  # the catalyst kept running the tonic that saw the refusals


def test_the_longest_allowed_period_is_accepted():
    seen = {}

    class Host(ttTonic):
        def ttse__on_start(self):
            timer = ttTimerSingleShot(days=100 * 366)
            seen["running"] = timer.running
            timer.change_timer(seconds=CENTURY)
            seen["period"] = timer.period
            self.finish()

        def ttse__on_timer(self, info):
            seen["fired"] = True

    run_app(Host)
    assert seen == {"running": True, "period": CENTURY}


# -- A(5): a timer whose __init__ raises after it started never fires ------------------------

class Faulty(ttTimerSingleShot):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)  # started here
        raise RuntimeError("faulty timer")


class FaultyPausing(ttTimerPausing):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        raise RuntimeError("faulty pausing timer")


@pytest.mark.parametrize("built_in", ["sparkle", "__init__ of a worker tonic"])
def test_a_timer_whose_init_raises_after_starting_never_fires(built_in, caplog):
    seen = {"fired": [], "errors": []}

    class Creator(ttTonic):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            if built_in != "sparkle":  # runs on the thread creating us, not on our catalyst
                self.make()

        def ttse__on_start(self):
            if built_in == "sparkle":
                self.make()

        def make(self):
            for cls in (Faulty, FaultyPausing):
                try:
                    cls(0 if cls is Faulty else TINY, sparkle_back=self.ttse__faulty_fired)
                except RuntimeError as exc:
                    seen["errors"].append(str(exc))
            # a witness due after the faulty ones: when it fires, they would have fired
            ttTimerSingleShot(0, sparkle_back=self.ttse__witness)

        def ttse__faulty_fired(self, info):
            seen["fired"].append(info)

        def ttse__witness(self, info):
            self.ttsc__check(3)

        def ttsc__check(self, passes):
            if passes:  # a few more loop passes, each followed by a timer pass
                self.ttsc__check(passes - 1)
                return
            seen["leftovers"] = [e.name for e in ttLedger().records.values()
                                 if isinstance(e, (Faulty, FaultyPausing))]
            self.finish()

    def starting():
        Creator(catalyst=ttCatalyst(name="creator") if built_in != "sparkle" else None)

    with caplog.at_level(logging.DEBUG, logger="tasktonic"):
        run_app(starting, settings=[("tasktonic/errors/policy", "stop")])
    assert seen["errors"] == ["faulty timer", "faulty pausing timer"]
    assert seen["fired"] == []
    assert seen["leftovers"] == []
    # the failed timers left nothing to go wrong later on the catalyst either
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_timer_that_expires_while_its_init_runs_on_another_thread_fires_once_built():
    """Started from another thread, the catalyst runs the start and fires the timer while its
    ``__init__`` is still running there: the firing waits for the timer to be built."""
    seen = {}

    class SlowToBuild(ttTimerSingleShot):
        def __init__(self, *args, **kwargs):
            self.expired = threading.Event()
            super().__init__(*args, **kwargs)  # the start is queued to the catalyst
            seen["expired while building"] = self.expired.wait(APP_WAIT)

        def _tt_expire(self, now):  # the catalyst's timer pass fired it
            super()._tt_expire(now)
            self.expired.set()

    class Builder(ttTonic):
        """Active on a worker; a plain thread builds its timer (``bind``), slowly."""

        def ttse__on_start(self):
            self.fired = []
            threading.Thread(target=self.build_from_another_thread, daemon=True).start()

        def build_from_another_thread(self):
            self.timer = self.bind(SlowToBuild, 0, sparkle_back=self.ttse__fired)
            self.ttsc__check(3)

        def ttse__fired(self, info):
            self.fired.append(info)

        def ttsc__check(self, passes):
            if passes:
                self.ttsc__check(passes - 1)
                return
            seen["fired"] = len(self.fired)
            seen["released"] = not in_ledger(self.timer) and self.timer not in self.infusions
            self.finish()

    run_app(lambda: Builder(catalyst=ttCatalyst(name="builder")))
    assert seen == {"expired while building": True, "fired": 1, "released": True}


# -- A(6): a stop sent from another thread holds from the moment it is processed ---------------

STOP_ROUNDS = 100


class Watched(ttTimerRepeat):
    """A repeat that notes the beats its tonic had when a stop is processed on its catalyst."""

    def stop(self):
        if self.catalyst.on_own_thread():
            self.base.at_stop.append(self.base.beats)
        return super().stop()


@pytest.mark.parametrize("stopper", ["plain thread", "other catalyst"])
def test_a_timer_stopped_from_another_thread_never_fires_after_the_stop(stopper):
    results = []
    requests: queue.Queue = queue.Queue()

    class Beeper(ttTonic):
        """Each round: a repeat due at every timer pass; at its third beat it asks the stopper
        (another thread) to stop it, and keeps beating until that stop is processed."""

        def ttse__on_start(self):
            self.round = 0
            self.ttsc__arm()

        def ttsc__arm(self):
            if self.round == STOP_ROUNDS:
                requests.put(None)
                self.finish()
                return
            self.round += 1
            self.beats = 0
            self.at_stop = []
            self.timer = Watched(TINY, sparkle_back=self.ttse__beat)

        def ttse__beat(self, info):
            self.beats += 1
            if self.beats == 3:
                requests.put(self)

        def ttsc__stopped(self):
            # sent after stop() by the same sender: the stop has been processed, but beats
            # fired before it may still be queued; check after them
            self.ttsc__final()

        def ttsc__final(self):
            results.append((self.at_stop, self.beats, self.timer.running))
            self.ttsc__arm()

    def serve():
        while True:
            beeper = requests.get()
            if beeper is None:
                return
            beeper.timer.stop()
            beeper.ttsc__stopped()

    class Stopper(ttTonic):
        def ttsc__serve(self):
            serve()
            self.finish()

    def starting():
        if stopper == "plain thread":
            thread = threading.Thread(target=serve, name="stopper", daemon=True)
            thread.start()
        else:
            Stopper(catalyst=ttCatalyst(name="stopper")).ttsc__serve()
        Beeper(catalyst=ttCatalyst(name="beeper"))

    run_app(starting)
    assert len(results) == STOP_ROUNDS
    for at_stop, beats, running in results:
        assert len(at_stop) == 1 and at_stop[0] >= 3
        assert beats == at_stop[0], f"{beats - at_stop[0]} beat(s) after the stop"
        assert running is False
