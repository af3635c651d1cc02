"""Errors in sparkles, error policies, bad log modes, failing constructors."""
from __future__ import annotations

import logging

import pytest

from tasktonic import (
    ttCatalyst,
    ttLedger,
    ttLog,
    ttSparkleError,
    ttTimerRepeat,
    ttTimerSingleShot,
    ttTonic,
)
from tests.conftest import run_app


class Faulty(ttTonic):
    """ttsc__boom raises; ttsc__next records that the catalyst went on."""

    def __init__(self, events, **kwargs):
        super().__init__(**kwargs)
        self.events = events

    def ttse__on_start(self):
        self.ttsc__boom()
        self.ttsc__next()

    def ttsc__boom(self):
        raise_deep_error()

    def ttsc__next(self):
        self.events.append("next ran")
        self.finish()

    def ttse__on_finished(self):
        self.events.append("finished")


def raise_deep_error():
    raise RuntimeError("kaboom")


def error_records(caplog):
    return [r for r in caplog.records if r.name == "tasktonic" and r.levelno >= logging.ERROR]


def test_exception_is_logged_with_tonic_sparkle_and_traceback_and_the_next_sparkle_runs(
        caplog, expected_errors):
    events = []
    run_app(lambda: Faulty(events, name="faulty one"))
    assert events == ["next ran", "finished"]
    records = expected_errors.records
    assert error_records(caplog) == records  # caplog sees the same records
    assert len(records) == 1
    message = records[0].getMessage()
    assert "faulty one" in message and "ttsc__boom" in message and "kaboom" in message
    assert records[0].exc_info is not None
    assert "Traceback" in caplog.text and "raise_deep_error" in caplog.text


def test_on_sparkle_error_returning_true_suppresses_the_log(caplog):
    events = []

    class Handles(Faulty):
        def on_sparkle_error(self, sparkle, error):
            events.append((sparkle, type(error).__name__, str(error)))
            return True

    run_app(lambda: Handles(events))
    assert events == [("ttsc__boom", "RuntimeError", "kaboom"), "next ran", "finished"]
    assert error_records(caplog) == []


def test_on_sparkle_error_returning_false_still_logs(expected_errors):
    events = []

    class Looks(Faulty):
        def on_sparkle_error(self, sparkle, error):
            events.append(sparkle)
            return False

    run_app(lambda: Looks(events))
    assert events == ["ttsc__boom", "next ran", "finished"]
    (record,) = expected_errors.records
    assert "ttsc__boom" in record.getMessage() and "kaboom" in record.getMessage()


def test_policy_finish_finishes_the_failing_tonic(expected_errors):
    events = []

    class Fails(ttTonic):
        def ttse__on_start(self):
            self.ttsc__boom()

        def ttsc__boom(self):
            raise ValueError("bad value")

        def ttse__on_finished(self):
            events.append("finished")

    class Bystander(ttTonic):
        def ttse__on_start(self):
            self.failing = Fails()
            self.bind(ttTimerRepeat, 0.01, sparkle_back=self.ttse__look)

        def ttse__look(self, info):
            if self.failing.finished:
                events.append("bystander saw it finish")
                self.finish()

    run_app(Bystander, settings=[("tasktonic/errors/policy", "finish")], timeout=10)
    assert events == ["finished", "bystander saw it finish"]
    (record,) = expected_errors.records
    assert "ttsc__boom" in record.getMessage() and "bad value" in record.getMessage()


def test_policy_stop_ends_the_application_and_raises(expected_errors):
    class Forever(ttTonic):
        def ttse__on_start(self):
            ttTimerRepeat(0.01)

        def ttse__on_timer(self, info):
            pass

    class Fails(ttTonic):
        def ttse__on_start(self):
            ttTimerSingleShot(0.02)

        def ttse__on_timer(self, info):
            raise KeyError("missing")

    def starting():
        Forever()
        Fails(name="the failing tonic")

    with pytest.raises(ttSparkleError) as info:
        run_app(starting, settings=[("tasktonic/errors/policy", "stop")], timeout=10)
    assert info.value.tonic_name == "the failing tonic"
    assert info.value.sparkle == "ttse__on_timer"
    assert isinstance(info.value.error, KeyError)
    assert "the failing tonic" in str(info.value) and "ttse__on_timer" in str(info.value)
    assert ttLedger().main_catalyst is None
    (record,) = expected_errors.records
    assert "the failing tonic" in record.getMessage() and "KeyError" in record.getMessage()


def test_unknown_policy_is_rejected_at_formula_start():
    started = []
    with pytest.raises(ValueError) as info:
        run_app(lambda: started.append(True), settings=[("tasktonic/errors/policy", "explode")])
    assert "explode" in str(info.value)
    assert started == []


def test_unknown_log_mode_raises():
    with pytest.raises(ValueError) as info:
        ttLog.from_any("LOUD")
    assert "LOUD" in str(info.value)
    with pytest.raises(ValueError):
        ttLog.from_any(7)
    with pytest.raises(TypeError):
        ttLog.from_any(1.5)
    with pytest.raises(TypeError):
        ttLog.from_any(None)
    assert ttLog.from_any("full") is ttLog.FULL
    assert ttLog.from_any(2) is ttLog.QUIET


def test_unknown_log_mode_on_a_tonic_or_in_the_formula_raises():
    outcome = []

    class Plain(ttTonic):
        pass

    def starting():
        with pytest.raises(ValueError):
            Plain(log_mode="LOUD")
        with pytest.raises(TypeError):
            Plain(log_mode=[1])
        outcome.append([e for e in ttLedger().records.values() if isinstance(e, Plain)])

    run_app(starting)
    assert outcome == [[]]
    with pytest.raises(ValueError):
        run_app(lambda: None, settings=[("tasktonic/log/default", "LOUD")])


def test_exception_in_init_reaches_the_creator_and_leaves_no_ledger_entry():
    seen = {}

    class Broken(ttTonic):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            seen["broken id"] = self.id
            raise RuntimeError("cannot build")

    class Creator(ttTonic):
        def ttse__on_start(self):
            before = dict(ttLedger().records)
            try:
                Broken()
            except RuntimeError as exc:
                seen["caught"] = str(exc)
            seen["ledger unchanged"] = dict(ttLedger().records) == before
            seen["infusions"] = list(self.infusions)
            seen["next id"] = Creator.Sibling().id
            self.finish()

        class Sibling(ttTonic):
            def ttse__on_start(self):
                self.finish()

    run_app(Creator, timeout=10)
    assert seen["caught"] == "cannot build"
    assert seen["ledger unchanged"]
    assert seen["infusions"] == []
    assert seen["next id"] == seen["broken id"]  # its id was freed


def test_failed_init_leaves_nothing_it_created_behind():
    seen = {}

    class Half(ttTonic):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.timer = seen["timer"] = ttTimerRepeat(0.01)
            self.helper = ttTonic(name="helper of half")
            raise RuntimeError("half built")

        def ttse__on_timer(self, info):
            seen.setdefault("ghost beats", 0)
            seen["ghost beats"] += 1

    class Creator(ttTonic):
        def ttse__on_start(self):
            self.before = set(ttLedger().records)
            try:
                Half()
            except RuntimeError:
                pass
            self.tts__check()  # queued after whatever finishing the failure started

        def tts__check(self):
            seen["left behind"] = sorted(
                ttLedger().records[i].name for i in set(ttLedger().records) - self.before)
            seen["timer"] = (seen["timer"].finished, seen["timer"].running)
            # ten periods of the half-built tonic's timer: it must not beat meanwhile
            ttTimerSingleShot(0.1, sparkle_back=self.ttse__later)

        def ttse__later(self, info):
            self.finish()

    run_app(Creator, timeout=10)
    assert seen["left behind"] == []
    assert seen["timer"] == (True, False)
    assert "ghost beats" not in seen


def test_policy_stop_for_an_error_on_a_worker_catalyst(expected_errors):
    class Forever(ttTonic):
        def ttse__on_start(self):
            ttTimerRepeat(0.01)

        def ttse__on_timer(self, info):
            pass

    class Job(ttTonic):
        def ttsc__fail(self):
            raise KeyError("on the worker")

    def starting():
        Forever()
        job = Job(name="worker job", catalyst=ttCatalyst(name="worker"))
        job.ttsc__fail()

    with pytest.raises(ttSparkleError) as info:
        run_app(starting, settings=[("tasktonic/errors/policy", "stop")], timeout=10)
    assert info.value.tonic_name == "worker job" and info.value.sparkle == "ttsc__fail"
    (record,) = expected_errors.records
    assert "worker job" in record.getMessage() and record.threadName == "tasktonic:worker"


def test_system_exit_in_a_worker_catalyst_ends_the_application(expected_errors):
    class Worker(ttCatalyst):
        def ttsc__quit(self):
            raise SystemExit("worker quits")

    class Owner(ttTonic):
        def ttse__on_start(self):
            self.worker = Worker()   # an infusion of this tonic, in its own thread
            self.worker.ttsc__quit()

    with pytest.raises(SystemExit):
        run_app(Owner, timeout=10)
    (record,) = expected_errors.records
    assert "stopped by SystemExit" in record.getMessage()
    assert record.exc_info[0] is SystemExit


def test_full_logging_of_an_argument_whose_repr_fails_does_not_stop_the_application():
    from tasktonic.log import ttListLogger

    events = []

    class NoRepr:
        def __repr__(self):
            raise RuntimeError("repr is broken")

    class Traced(ttTonic):
        def ttse__on_start(self):
            self.ttsc__take(NoRepr())
            self.ttsc__next()

        def ttsc__take(self, item):
            events.append("take")

        def ttsc__next(self):
            events.append("next")
            self.finish()

    run_app(lambda: Traced(log_mode="FULL"), logger=ttListLogger(), timeout=10)
    assert events == ["take", "next"]
