"""The suite's guard against hidden failures (conftest.py) fails what it must.

One pytest run in a subprocess, with a copy of conftest.py, runs the deliberately failing (and
a few passing) tests of ``INNER``; each test here checks one outcome in its JUnit XML report.
"""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().with_name("conftest.py")

INNER = '''
import logging
import threading

import pytest

from conftest import run_app
from tasktonic import ttCatalyst, ttTonic
from tasktonic.datatree import DataTree


class Boom(ttTonic):
    def ttse__on_start(self):
        self.finish()
        raise RuntimeError("on purpose")


def test_assert_in_a_sparkle_that_leaves_the_application_waiting():
    class Stuck(ttTonic):
        def ttse__on_start(self):
            assert 1 + 1 == 3, "inside a sparkle"
            self.finish()

    run_app(Stuck, timeout=20)


def test_assert_in_a_sparkle_on_a_worker_of_an_application_that_ends():
    class Job(ttTonic):
        def ttse__on_start(self):
            self.ttsc__check()
            self.finish()

        def ttsc__check(self):
            assert False, "on the worker"

    run_app(lambda: Job(catalyst=ttCatalyst(name="worker")), timeout=20)


def test_error_logged_outside_any_application():
    def subscriber(changes):
        raise AssertionError("in a subscriber")

    tree = DataTree()
    tree.subscribe("a", subscriber)
    tree.set("a", 1)


def test_error_on_a_child_logger():
    logging.getLogger("tasktonic.net").critical("child logger")


def test_a_warning_is_not_a_failure():
    logging.getLogger("tasktonic").warning("only a warning")


def test_exception_in_a_helper_thread():
    thread = threading.Thread(target=lambda: 1 / 0, name="helper")
    thread.start()
    thread.join()


def test_a_failing_helper_thread_stops_the_waiting_application():
    class Waiter(ttTonic):
        def ttsc__go(self):
            self.finish()

    def driver(waiter):
        assert False, "the driver gave up"
        waiter.ttsc__go()

    def starting():
        threading.Thread(target=driver, args=(Waiter(),), name="driver").start()

    run_app(starting, timeout=20)


def test_body_failure_and_hidden_error_are_both_shown():
    logging.getLogger("tasktonic").error("hidden first")
    assert "body" == "fails too"


@pytest.fixture
def logs_late():
    yield
    logging.getLogger("tasktonic").error("logged in teardown")


def test_error_after_the_body_fails_at_teardown(logs_late):
    pass


def test_expected_errors_read_passes(expected_errors):
    run_app(Boom, timeout=20)
    (record,) = expected_errors.records
    assert "on purpose" in record.getMessage()


def test_expected_errors_never_read(expected_errors):
    run_app(Boom, timeout=20)


def test_expected_errors_read_too_early(expected_errors):
    assert expected_errors.records == []
    run_app(Boom, timeout=20)


def test_expected_errors_but_nothing_logged(expected_errors):
    pass


def test_expected_errors_do_not_allow_thread_errors(expected_errors):
    logging.getLogger("tasktonic").error("declared")
    assert len(expected_errors.records) == 1
    thread = threading.Thread(target=lambda: 1 / 0, name="undeclared")
    thread.start()
    thread.join()


def test_expected_thread_errors_read_passes(expected_thread_errors):
    def work():
        raise ValueError("on purpose")

    thread = threading.Thread(target=work, name="helper")
    thread.start()
    thread.join()
    (error,) = expected_thread_errors.errors
    assert error.thread_name == "helper" and isinstance(error.exc, ValueError)
    assert "on purpose" in error.text


def test_expected_thread_errors_but_no_thread_failed(expected_thread_errors):
    pass


def test_system_exit_ends_a_thread_quietly():
    thread = threading.Thread(target=lambda: exec("raise SystemExit(3)"), name="quitter")
    thread.start()
    thread.join()
'''


@pytest.fixture(scope="module")
def inner(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    """Run INNER once; name -> (outcome, report text), outcome 'passed', 'failed' or 'error'."""
    where = tmp_path_factory.mktemp("guard")
    (where / "pytest.ini").write_text("[pytest]\n")
    (where / "conftest.py").write_text(CONFTEST.read_text())
    (where / "test_inner.py").write_text(INNER)
    report = where / "report.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           f"--junitxml={report}", "test_inner.py"],
                          cwd=where, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert report.exists(), done.stdout + done.stderr
    outcomes: dict[str, tuple[str, str]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        outcome, texts = "passed", []
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed" if child.tag == "failure" else "error"
                texts.append((child.get("message") or "") + "\n" + (child.text or ""))
        outcomes[case.get("name")] = (outcome, "\n".join(texts))
    assert len(outcomes) == INNER.count("\ndef test_"), done.stdout
    return outcomes


def check(inner: dict, name: str, outcome: str, *fragments: str) -> str:
    got, text = inner[name]
    assert got == outcome, f"{name}: {got}, expected {outcome}\n{text}"
    for fragment in fragments:
        assert fragment in text, f"{name}: {fragment!r} not in the report:\n{text}"
    return text


def test_an_assert_in_a_sparkle_fails_at_once_with_its_traceback(inner):
    text = check(inner, "test_assert_in_a_sparkle_that_leaves_the_application_waiting",
                 "failed", "1 hidden failure(s)", "ERROR logged on 'tasktonic'",
                 "AssertionError: inside a sparkle", "Traceback", 'assert 1 + 1 == 3')
    assert "did not exit" not in text  # the application was stopped, not waited for


def test_an_assert_on_a_worker_fails_an_application_that_ends_normally(inner):
    check(inner, "test_assert_in_a_sparkle_on_a_worker_of_an_application_that_ends", "failed",
          "in thread 'tasktonic:worker'", "AssertionError: on the worker", "ttsc__check")


def test_errors_logged_without_an_application_fail(inner):
    check(inner, "test_error_logged_outside_any_application", "failed",
          "AssertionError: in a subscriber", "DataTree subscriber")
    check(inner, "test_error_on_a_child_logger", "failed",
          "CRITICAL logged on 'tasktonic.net'", "child logger")


def test_a_warning_does_not_fail(inner):
    check(inner, "test_a_warning_is_not_a_failure", "passed")


def test_an_exception_in_a_thread_fails_naming_the_thread(inner):
    check(inner, "test_exception_in_a_helper_thread", "failed",
          "exception in thread 'helper'", "ZeroDivisionError", "Traceback")
    text = check(inner, "test_a_failing_helper_thread_stops_the_waiting_application", "failed",
                 "exception in thread 'driver'", "AssertionError: the driver gave up")
    assert "did not exit" not in text


def test_a_failing_body_still_shows_the_hidden_failure(inner):
    check(inner, "test_body_failure_and_hidden_error_are_both_shown", "failed",
          "hidden first", "fails too")


def test_what_is_logged_after_the_body_fails_at_teardown(inner):
    check(inner, "test_error_after_the_body_fails_at_teardown", "error", "logged in teardown")


def test_expected_errors_must_be_provoked_and_read(inner):
    check(inner, "test_expected_errors_read_passes", "passed")
    check(inner, "test_expected_errors_never_read", "failed",
          "ERROR record the test never read", "on purpose")
    check(inner, "test_expected_errors_read_too_early", "failed",
          "ERROR record the test never read", "on purpose")
    check(inner, "test_expected_errors_but_nothing_logged", "failed",
          "requests `expected_errors` but nothing was logged")
    check(inner, "test_expected_errors_do_not_allow_thread_errors", "failed",
          "exception in thread 'undeclared'")


def test_expected_thread_errors_must_happen_and_be_read(inner):
    check(inner, "test_expected_thread_errors_read_passes", "passed")
    check(inner, "test_expected_thread_errors_but_no_thread_failed", "failed",
          "requests `expected_thread_errors` but no thread raised")


def test_system_exit_in_a_thread_is_not_a_failure(inner):
    check(inner, "test_system_exit_ends_a_thread_quietly", "passed")
