"""Shared helpers: run an application with a deadline, and a clean ledger around each test.

The suite runs once per implementation (``make test``); ``implementation`` in the header line
says which one this run used.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Callable, Iterable

import pytest

import tasktonic
from tasktonic import ttFormula, ttLedger
from tasktonic.log import ttListLogger

APP_TIMEOUT = 30.0


def pytest_report_header(config: Any) -> str:
    return (f"tasktonic implementation: {tasktonic.implementation} "
            f"(TASKTONIC_NO_EXTENSIONS={os.environ.get('TASKTONIC_NO_EXTENSIONS', '')!r})")


def run_formula(formula_cls: type, timeout: float = APP_TIMEOUT) -> Any:
    """Run ``formula_cls()`` in a thread; fail the test if it does not exit in time."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["formula"] = formula_cls()
        except BaseException as exc:  # handed to the test below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="test-application", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        ledger = ttLedger()
        dump = ledger.sdump()
        main = ledger.main_catalyst
        if main is not None:
            main.finish()
        thread.join(5.0)
        pytest.fail(f"application did not exit within {timeout}s; live essences:\n{dump}")
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
