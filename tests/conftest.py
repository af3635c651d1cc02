"""Shared helpers, and the guard that makes hidden failures fail the test.

The suite runs once per implementation (``make test``); ``implementation`` in the header line
says which one this run used.

Hidden failures fail the test
-----------------------------
A sparkle runs on a catalyst thread, and the catalyst catches what it raises: an ``assert`` in
a sparkle, a timer callback or a store subscriber only becomes an ERROR record on the
``tasktonic`` logger. An ``assert`` in a helper thread only ends that thread. Neither reaches
pytest by itself, so every test here runs under ``_hidden_failures`` (autouse), which fails the
test, showing each record or thread with its traceback, when during the test

* anything logs at ERROR or above on the ``tasktonic`` logger (or a child of it), or
* an exception leaves the ``run`` of any thread (``threading.excepthook``; SystemExit ends a
  thread quietly, as in plain Python).

The check runs when the test body returns (the test is reported FAILED, the records shown);
what happens later, during fixture teardown, fails at teardown. ``run_app`` and
``run_formula`` do not wait for their deadline once such a failure happened: they stop the
application and fail at once with it.

A test that provokes failures on purpose declares it by requesting a fixture, and must then
look at what it provoked (both fixtures count what the test has read):

* ``expected_errors``: ERROR records on the ``tasktonic`` logger are allowed;
  ``expected_errors.records`` is the list of those ``logging.LogRecord``s so far.
* ``expected_thread_errors``: exceptions in threads are allowed;
  ``expected_thread_errors.errors`` is the list of ``ThreadError(thread_name, exc, text)``.

Either one fails the test when nothing was provoked (a stale declaration), or when records
arrived that the test never read (read the list after the last one can have arrived, and
assert on it). One kind being expected does not allow the other. ``caplog`` works as before
alongside (the guard adds its own handler and changes no level); asserting on ``caplog`` does
not count as reading.
"""
from __future__ import annotations

import importlib
import logging
import os
import threading
import traceback
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any, NamedTuple

import pytest

import tasktonic
from tasktonic import ttFormula, ttLedger
from tasktonic.log import ttListLogger

APP_TIMEOUT = 30.0
LOGGER = "tasktonic"



def twin(kind: str, name: str) -> ModuleType:
    """``tasktonic._pure.<name>`` (kind ``"pure"``) or ``tasktonic._core.<name>``; a missing
    compiled module skips the test, or fails it when ``TASKTONIC_REQUIRE_EXTENSIONS`` is set."""
    if kind == "pure":
        return importlib.import_module(f"tasktonic._pure.{name}")
    try:
        return importlib.import_module(f"tasktonic._core.{name}")
    except ImportError as exc:
        if os.environ.get("TASKTONIC_REQUIRE_EXTENSIONS"):
            pytest.fail(f"TASKTONIC_REQUIRE_EXTENSIONS is set but tasktonic._core.{name} "
                        f"does not import: {exc}")
        pytest.skip(f"compiled core not built (tasktonic._core.{name}: {exc})")

def pytest_report_header(config: Any) -> str:
    return (f"tasktonic implementation: {tasktonic.implementation} "
            f"(TASKTONIC_NO_EXTENSIONS={os.environ.get('TASKTONIC_NO_EXTENSIONS', '')!r})")


# -- the guard -----------------------------------------------------------------------------

class ThreadError(NamedTuple):
    """An exception that left a thread: the thread's name, the exception, the traceback."""

    thread_name: str
    exc: BaseException | None
    text: str


class _Watch:
    """What went wrong during one test; filled from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: list[logging.LogRecord] = []
        self.record_texts: list[str] = []
        self.thread_errors: list[ThreadError] = []
        self.errors_expected = False
        self.thread_errors_expected = False
        self.records_read = 0           # how many records the test has looked at
        self.thread_errors_read = 0
        self._reported = [0, 0]         # records, thread errors already failed on
        self._alarms: list[threading.Event] = []  # set at each unexpected failure

    # -- filled from the logging handler and the thread hook
    def add_record(self, record: logging.LogRecord, text: str) -> None:
        with self._lock:
            self.records.append(record)
            self.record_texts.append(text)
            alarms = [] if self.errors_expected else list(self._alarms)
        for alarm in alarms:
            alarm.set()

    def add_thread_error(self, error: ThreadError) -> None:
        with self._lock:
            self.thread_errors.append(error)
            alarms = [] if self.thread_errors_expected else list(self._alarms)
        for alarm in alarms:
            alarm.set()

    def alarm(self) -> threading.Event:
        """An Event set at the next unexpected failure (at once if one is not reported yet)."""
        event = threading.Event()
        with self._lock:
            self._alarms.append(event)
        if self._pending():
            event.set()
        return event

    # -- read by the checks
    def _pending(self) -> bool:
        with self._lock:
            return ((not self.errors_expected and len(self.records) > self._reported[0])
                    or (not self.thread_errors_expected
                        and len(self.thread_errors) > self._reported[1]))

    def take_unexpected(self) -> str:
        """The unexpected failures not reported yet, as a report ('' when there are none)."""
        parts = []
        with self._lock:
            if not self.errors_expected:
                start, self._reported[0] = self._reported[0], len(self.records)
                new = zip(self.records[start:], self.record_texts[start:], strict=True)
                parts += [f"--- {r.levelname} logged on {r.name!r} in thread {r.threadName!r}:\n{t}"
                          for r, t in new]
            if not self.thread_errors_expected:
                start, self._reported[1] = self._reported[1], len(self.thread_errors)
                parts += [f"--- exception in thread {e.thread_name!r}:\n{e.text}"
                          for e in self.thread_errors[start:]]
        if not parts:
            return ""
        return (f"{len(parts)} hidden failure(s) during the test:\n" + "\n".join(parts)
                + "\nA test that provokes these on purpose requests the `expected_errors` "
                  "(log records) or `expected_thread_errors` fixture and asserts on them.")

    def misused_expectations(self) -> str:
        """A declared expectation with nothing provoked, or with records the test never read."""
        problems = []
        with self._lock:
            if self.errors_expected:
                if not self.records:
                    problems.append("the test requests `expected_errors` but nothing was logged "
                                    f"at ERROR on {LOGGER!r}")
                problems += [f"--- ERROR record the test never read "
                             f"(expected_errors.records):\n{t}"
                             for t in self.record_texts[self.records_read:]]
            if self.thread_errors_expected:
                if not self.thread_errors:
                    problems.append("the test requests `expected_thread_errors` but no thread "
                                    "raised")
                problems += [f"--- thread error the test never read "
                             f"(expected_thread_errors.errors) in {e.thread_name!r}:\n{e.text}"
                             for e in self.thread_errors[self.thread_errors_read:]]
        if not problems:
            return ""
        return ("\n".join(problems) + "\nA test that declares expected failures provokes them, "
                "then reads the fixture's list (after the last one can have happened) and "
                "asserts on it.")


class _ErrorHandler(logging.Handler):
    def __init__(self, watch: _Watch) -> None:
        super().__init__(logging.ERROR)
        self.watch = watch
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)  # now, with the traceback, while it is fresh
        except Exception as exc:
            text = f"{record.msg!r} (formatting failed: {exc!r})"
        self.watch.add_record(record, text)


_current: dict[str, _Watch] = {}  # "watch": the running test's (one test at a time)


def _current_watch() -> _Watch | None:
    return _current.get("watch")


@pytest.fixture(autouse=True)
def _hidden_failures() -> Any:
    """Record ERRORs on the tasktonic logger and exceptions in threads (see the docstring)."""
    watch = _Watch()

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return  # as threading's own hook: SystemExit ends a thread quietly
        name = args.thread.name if args.thread is not None else "<unknown thread>"
        text = "".join(traceback.format_exception(args.exc_type, args.exc_value,
                                                  args.exc_traceback))
        watch.add_thread_error(ThreadError(name, args.exc_value, text))

    handler = _ErrorHandler(watch)
    logger = logging.getLogger(LOGGER)
    previous_hook = threading.excepthook
    logger.addHandler(handler)
    threading.excepthook = thread_hook
    _current["watch"] = watch
    try:
        yield watch
    finally:
        _current.pop("watch", None)
        threading.excepthook = previous_hook
        logger.removeHandler(handler)
    # what arrived after the test body (the call-phase check below) fails at teardown
    report = watch.take_unexpected()
    if report:
        pytest.fail(report, pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Fail the test itself (not its teardown) for what it hid, once its body has returned."""
    try:
        return (yield)
    finally:
        watch = _current_watch()
        if watch is not None:
            report = "\n".join(filter(None, (watch.take_unexpected(),
                                             watch.misused_expectations())))
            if report:
                pytest.fail(report, pytrace=False)


class ExpectedErrors:
    """The ``expected_errors`` fixture: the ERROR records of the tasktonic logger."""

    def __init__(self, watch: _Watch) -> None:
        self._watch = watch

    @property
    def records(self) -> list[logging.LogRecord]:
        """The records so far (a copy); reading it counts them as looked at."""
        with self._watch._lock:
            records = list(self._watch.records)
            self._watch.records_read = len(records)
        return records


class ExpectedThreadErrors:
    """The ``expected_thread_errors`` fixture: exceptions that ended threads."""

    def __init__(self, watch: _Watch) -> None:
        self._watch = watch

    @property
    def errors(self) -> list[ThreadError]:
        """The thread errors so far (a copy); reading it counts them as looked at."""
        with self._watch._lock:
            errors = list(self._watch.thread_errors)
            self._watch.thread_errors_read = len(errors)
        return errors


@pytest.fixture
def expected_errors(_hidden_failures: _Watch) -> ExpectedErrors:
    """Declare that this test logs ERRORs on the tasktonic logger on purpose."""
    _hidden_failures.errors_expected = True
    return ExpectedErrors(_hidden_failures)


@pytest.fixture
def expected_thread_errors(_hidden_failures: _Watch) -> ExpectedThreadErrors:
    """Declare that this test makes threads fail on purpose."""
    _hidden_failures.thread_errors_expected = True
    return ExpectedThreadErrors(_hidden_failures)


# -- running applications ------------------------------------------------------------------

def run_formula(formula_cls: type, timeout: float = APP_TIMEOUT) -> Any:
    """Run ``formula_cls()`` in a thread; fail the test if it does not exit in time.

    A hidden failure (see the module docstring) stops the application at once and fails the
    test with it, instead of waiting for the deadline.
    """
    outcome: dict[str, Any] = {}
    ended = threading.Event()
    watch = _current_watch()
    wake = watch.alarm() if watch is not None else ended

    def target() -> None:
        try:
            outcome["formula"] = formula_cls()
        except BaseException as exc:  # handed to the test below
            outcome["error"] = exc
        finally:
            ended.set()
            wake.set()

    thread = threading.Thread(target=target, name="test-application", daemon=True)
    thread.start()
    wake.wait(timeout)
    hidden = watch.take_unexpected() if watch is not None else ""
    if not ended.is_set():
        ledger = ttLedger()
        dump = ledger.sdump()
        main = ledger.main_catalyst
        if main is not None:
            main.finish()
        thread.join(5.0)
        if not hidden:
            pytest.fail(f"application did not exit within {timeout}s; live essences:\n{dump}")
    if hidden:
        pytest.fail(hidden, pytrace=False)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["formula"]


def run_app(starting: Callable[[], Any], settings: Iterable[tuple[str, Any]] = (),
            timeout: float = APP_TIMEOUT, logger: Any = None,
            main_catalyst: Callable[[], Any] | None = None) -> Any:
    """Run an application whose ``creating_starting_tonics`` calls ``starting()``.

    Logging goes to ``logger`` (a ttListLogger, say) or nowhere.
    """
    extra = tuple(settings)

    class _App(ttFormula):
        def creating_formula(self):
            return (("tasktonic/log/to", logger if logger is not None else "off"),) + extra

        def creating_main_catalyst(self):
            if main_catalyst is not None:
                main_catalyst()
            else:
                super().creating_main_catalyst()

        def creating_starting_tonics(self):
            starting()

    return run_formula(_App, timeout)


@pytest.fixture
def list_logger() -> ttListLogger:
    return ttListLogger()


@pytest.fixture(autouse=True)
def clean_ledger() -> Any:
    """Each test starts and ends with no application in the ledger."""
    ttLedger().reset()
    yield
    ledger = ttLedger()
    leftover = ledger.main_catalyst
    ledger.reset()
    assert leftover is None, f"a test left an application running: {leftover!r}"
