"""Timers: callbacks, repeat/stop/restart/change, pausing, lower bounds, bad arguments."""
from __future__ import annotations

import datetime as dt
import threading
import time
from time import monotonic

import pytest

from tasktonic import (
    ttCatalyst,
    ttLedger,
    ttSparkleStack,
    ttTimerEveryDay,
    ttTimerEveryHour,
    ttTimerEveryMinute,
    ttTimerEveryMonth,
    ttTimerEveryWeek,
    ttTimerEveryYear,
    ttTimerPausing,
    ttTimerRepeat,
    ttTimerSingleShot,
    ttTonic,
)
from tests.conftest import run_app


def test_single_shot_fires_once_with_info():
    fired = []
    seen = {}

    class Once(ttTonic):
        def ttse__on_start(self):
            seen["timer"] = ttTimerSingleShot(0.01)
            seen["marked"] = ttTimerSingleShot(0.01, sparkle_back=self.ttse__marked,
                                               marker={"job": 7})
            ttTimerSingleShot(0.15, sparkle_back=self.ttse__check)

        def ttse__on_timer(self, info):
            fired.append(info)

        def ttse__marked(self, info):
            fired.append(info)

        def ttse__check(self, info):
            self.finish()

    run_app(Once)
    timer, marked = seen["timer"], seen["marked"]
    assert {"id": timer.id, "name": timer.name} in fired
    assert {"id": marked.id, "name": marked.name, "marker": {"job": 7}} in fired
    assert len(fired) == 2


def test_named_timers_find_their_named_callbacks():
    fired = []

    class Named(ttTonic):
        def ttse__on_start(self):
            ttTimerSingleShot(0.01, name="beat")
            ttTimerSingleShot(0.01, name="tick")
            ttTimerSingleShot(0.01, name="other")
            ttTimerSingleShot(0.1, sparkle_back=self.ttse__check)

        def ttse__on_beat(self, info):
            fired.append(("on_beat", info["name"]))

        def ttse__on_tmr_tick(self, info):
            fired.append(("on_tmr_tick", info["name"]))

        def ttse__on_timer(self, info):
            fired.append(("on_timer", info["name"]))

        def ttse__check(self, info):
            self.finish()

    run_app(Named)
    assert sorted(fired) == [("on_beat", "beat"), ("on_timer", "other"),
                             ("on_tmr_tick", "tick")]


def test_plain_callable_runs_as_a_sparkle_on_the_tonics_catalyst():
    seen = {}

    class OnWorker(ttTonic):
        def ttse__on_start(self):
            seen["worker thread"] = threading.get_ident()
            ttTimerSingleShot(0.01, sparkle_back=lambda info: self.record(info))

        def record(self, info):
            seen["callback"] = (threading.get_ident(), ttSparkleStack().get_tonic() is self,
                                info["name"])
            self.finish()

    def starting():
        OnWorker(catalyst=ttCatalyst(name="worker"))

    run_app(starting)
    ident, inside_tonic, name = seen["callback"]
    assert ident == seen["worker thread"] != threading.get_ident()
    assert inside_tonic
    assert name.endswith("ttTimerSingleShot")


def test_bind_and_direct_creation_both_work():
    fired = []

    class Both(ttTonic):
        def ttse__on_start(self):
            self.a = self.bind(ttTimerSingleShot, 0.01, name="a")
            self.b = ttTimerSingleShot(0.01, name="b")
            fired.append((self.a.base is self, self.b.base is self))

        def ttse__on_timer(self, info):
            fired.append(info["name"])
            if len(fired) == 3:
                self.finish()

    run_app(Both)
    assert fired[0] == (True, True)
    assert sorted(fired[1:]) == ["a", "b"]


def test_timer_does_not_fire_before_its_period():
    seen = {}

    class Patient(ttTonic):
        def ttse__on_start(self):
            seen["start"] = monotonic()
            ttTimerSingleShot(0.05)

        def ttse__on_timer(self, info):
            seen["fired"] = monotonic()
            self.finish()

    run_app(Patient)
    assert seen["fired"] - seen["start"] >= 0.05


def test_repeat_fires_repeatedly_until_stopped():
    seen = {"beats": []}

    class Repeater(ttTonic):
        def ttse__on_start(self):
            seen["start"] = monotonic()
            self.repeat = ttTimerRepeat(0.01)

        def ttse__on_timer(self, info):
            seen["beats"].append(monotonic())
            if len(seen["beats"]) == 3:
                self.repeat.stop()
                ttTimerSingleShot(0.1, sparkle_back=self.ttse__check)

        def ttse__check(self, info):
            seen["after stop"] = (len(seen["beats"]), self.repeat.running)
            self.finish()

    run_app(Repeater)
    assert seen["after stop"] == (3, False)
    for n, beat in enumerate(seen["beats"], start=1):
        assert beat - seen["start"] >= n * 0.01


def test_restart_starts_the_period_again():
    seen = {"fired": []}

    class Restarter(ttTonic):
        def ttse__on_start(self):
            self.shot = ttTimerSingleShot(0.2)
            ttTimerSingleShot(0.05, sparkle_back=self.ttse__restart)

        def ttse__restart(self, info):
            # the path under test: restarting a timer that is still running
            seen["running when restarted"] = self.shot.running
            seen["deadline before"] = self.shot.expire
            seen["restarted"] = monotonic()
            self.shot.restart()
            seen["deadline after"] = self.shot.expire

        def ttse__on_timer(self, info):
            seen["fired"].append(monotonic())
            if len(seen["fired"]) == 1:
                self.shot.restart()  # a fired single shot can run again
            else:
                self.finish()

    run_app(Restarter)
    assert seen["running when restarted"], "the shot fired before the restart could reach it"
    assert seen["deadline after"] >= seen["restarted"] + 0.2 > seen["deadline before"]
    first, second = seen["fired"]
    assert first >= seen["deadline after"]
    assert second - first >= 0.2


def test_change_timer_sets_a_new_period():
    seen = {"beats": []}

    class Changer(ttTonic):
        def ttse__on_start(self):
            self.repeat = ttTimerRepeat(0.01)

        def ttse__on_timer(self, info):
            now = monotonic()
            seen["beats"].append(now)
            if len(seen["beats"]) == 1:
                seen["changed"] = now
                self.repeat.change_timer(seconds=0.06)
                seen["period"] = self.repeat.period
            elif len(seen["beats"]) == 2:
                self.finish()

    run_app(Changer)
    assert seen["period"] == pytest.approx(0.06)
    assert seen["beats"][1] - seen["changed"] >= 0.06


def test_pausing_timer_pause_resume_and_start_paused():
    events = []

    class Pauser(ttTonic):
        def ttse__on_start(self):
            self.sleeper = ttTimerPausing(0.01, name="sleeper", start_paused=True)
            self.runner = ttTimerPausing(0.03, name="runner")
            self.runner.pause()
            events.append(("paused", self.sleeper.paused, self.runner.paused))
            # Both would fire long before this if pausing did not hold them.
            ttTimerSingleShot(0.1, sparkle_back=self.ttse__wake)

        def ttse__wake(self, info):
            events.append("wake")
            self.sleeper.resume()
            self.runner.resume()
            events.append(("resumed", self.sleeper.paused, self.runner.paused))

        def ttse__on_timer(self, info):
            events.append(info["name"])
            getattr(self, info["name"]).stop()
            if len(events) == 5:
                self.finish()

    run_app(Pauser)
    assert events[:3] == [("paused", True, True), "wake", ("resumed", False, False)]
    assert sorted(events[3:]) == ["runner", "sleeper"]


def test_timers_stop_when_their_tonic_finishes():
    seen = {"beats": 0}

    class Short(ttTonic):
        def ttse__on_start(self):
            seen["timer"] = ttTimerRepeat(0.01, sparkle_back=self.count)

        def count(self, info):
            seen["beats"] += 1
            self.finish()

        def ttse__on_finished(self):
            self.base.ttsc__short_finished()  # runs once Short has completely finished

    class Watcher(ttTonic):
        def ttse__on_start(self):
            Short()

        def ttsc__short_finished(self):
            timer = seen["timer"]
            seen["at finish"] = (seen["beats"], timer.finished, timer.running,
                                 ttLedger().get_tonic_by_id(timer.id) is timer)
            # ten periods later, the repeat timer has still not beaten again
            ttTimerSingleShot(0.1, sparkle_back=self.ttse__later)

        def ttse__later(self, info):
            seen["later"] = (seen["beats"], seen["timer"].running)
            self.finish()

    run_app(Watcher)
    assert seen["at finish"] == (1, True, False, False)
    assert seen["later"] == (1, False)


def test_bad_timer_arguments():
    errors = {}

    class Host(ttTonic):
        def ttse__on_timer(self, info):
            pass

    class NoCallback(ttTonic):
        pass

    def starting():
        host = Host()
        with pytest.raises(TypeError):
            host.bind(ttTimerRepeat, seconds="x")
        with pytest.raises(TypeError):
            host.bind(ttTimerSingleShot, None)
        with pytest.raises(ValueError):
            host.bind(ttTimerRepeat, seconds=-1)
        with pytest.raises(ValueError):
            host.bind(ttTimerSingleShot, -0.5)
        with pytest.raises(ValueError):
            host.bind(ttTimerRepeat, 0)
        with pytest.raises(TypeError):
            host.bind(ttTimerSingleShot, 0.01, sparkle_back="not callable")
        with pytest.raises(TypeError) as outside:
            ttTimerSingleShot(0.01)  # no tonic is running or being built here
        errors["outside"] = str(outside.value)
        lonely = NoCallback(name="lonely tonic")
        with pytest.raises(TypeError) as missing:
            lonely.bind(ttTimerSingleShot, 0.01)
        errors["missing"] = str(missing.value)
        errors["leftovers"] = [e for e in ttLedger().records.values()
                               if type(e).__name__.startswith("ttTimer")]
        host.finish()
        lonely.finish()

    run_app(starting)
    assert "ttTimerSingleShot" in errors["outside"]
    assert "lonely tonic" in errors["missing"]
    assert errors["leftovers"] == []


def test_scheduled_timers_report_their_next_trigger_time():
    seen = {}

    class Planner(ttTonic):
        def ttse__on_timer(self, info):
            pass

    def starting():
        planner = Planner()
        before = dt.datetime.now()
        timers = [planner.bind(ttTimerEveryMinute, every=1),
                  planner.bind(ttTimerEveryMinute, every=15, second=30),
                  planner.bind(ttTimerEveryHour, minute=5),
                  planner.bind(ttTimerEveryDay, hour=6, minute=30),
                  planner.bind(ttTimerEveryDay, time_str="06:30"),
                  planner.bind(ttTimerEveryWeek, day="fri", hour=8),
                  planner.bind(ttTimerEveryMonth, day=1),
                  planner.bind(ttTimerEveryYear, month=12, day=25)]
        seen["triggers"] = [(t.running, t.next_trigger_time) for t in timers]
        seen["before"] = before
        quarter = timers[1].next_trigger_time
        seen["quarter"] = (quarter.minute % 15, quarter.second)
        seen["daily"] = (timers[3].next_trigger_time.hour, timers[3].next_trigger_time.minute)
        planner.finish()

    run_app(starting)
    for running, trigger in seen["triggers"]:
        assert running and trigger > seen["before"]
    assert seen["quarter"] == (0, 30)
    assert seen["daily"] == (6, 30)


def test_bad_schedule_values_raise():
    class Planner(ttTonic):
        def ttse__on_timer(self, info):
            pass

    def starting():
        planner = Planner()
        with pytest.raises(ValueError):
            planner.bind(ttTimerEveryMinute, every=7)
        with pytest.raises(ValueError):
            planner.bind(ttTimerEveryDay, hour=24)
        with pytest.raises(TypeError):
            planner.bind(ttTimerEveryDay, hour="6")
        with pytest.raises(ValueError):
            planner.bind(ttTimerEveryWeek, day="someday")
        with pytest.raises(ValueError):
            planner.bind(ttTimerEveryDay, time_str="25:00")
        with pytest.raises(TypeError):
            planner.bind(ttTimerEveryDay, weekday=3)
        planner.finish()

    run_app(starting)


def test_a_timer_can_be_stopped_from_another_thread():
    seen = {}

    class Beeper(ttTonic):
        def __init__(self, controller, **kwargs):
            super().__init__(**kwargs)
            self.controller = controller
            self.beats = 0
            self.repeat = ttTimerRepeat(0.01)

        def ttse__on_timer(self, info):
            seen["worker thread"] = threading.get_ident()
            self.beats += 1
            if self.beats == 3:
                self.controller.ttsc__stop_it(self.repeat)

        def ttsc__report(self, to):
            to.ttsc__checked(self.beats, self.repeat.running)

    class Controller(ttTonic):
        def ttse__on_start(self):
            self.checks = []
            self.beeper = Beeper(self, catalyst=ttCatalyst(name="worker"))

        def ttsc__stop_it(self, timer):
            seen["stopped from"] = threading.get_ident()
            timer.stop()  # runs on the main thread; the timer lives on the worker
            # queued on the worker after the stop this thread sent it: runs once it took effect
            self.beeper.ttsc__report(self)

        def ttsc__checked(self, beats, running):
            self.checks.append((beats, running))
            if len(self.checks) == 1:  # ten periods later, ask again
                self.bind(ttTimerSingleShot, 0.1, sparkle_back=self.ttse__again)
            else:
                seen["checks"] = self.checks
                self.beeper.finish()
                self.finish()

        def ttse__again(self, info):
            self.beeper.ttsc__report(self)

    run_app(Controller)
    assert seen["stopped from"] != seen["worker thread"]
    (beats_1, running_1), (beats_2, running_2) = seen["checks"]
    assert beats_1 == beats_2 >= 3
    assert running_1 is running_2 is False


def test_a_late_repeat_timer_skips_missed_beats_instead_of_bursting():
    seen = {}

    class Busy(ttTonic):
        def ttse__on_start(self):
            self.beats = 0
            self.repeat = ttTimerRepeat(0.01)

        def ttse__on_timer(self, info):
            self.beats += 1
            if self.beats == 1:
                time.sleep(0.1)  # a heavy sparkle: about ten beats are missed meanwhile
                seen["busy until"] = monotonic()
            else:
                # the next beat is planned from now on, not in the past (no catch-up burst)
                seen["next beat after busy"] = self.repeat.expire > seen["busy until"]
                self.finish()

    run_app(Busy)
    assert seen["next beat after busy"]
