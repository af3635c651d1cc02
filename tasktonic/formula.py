"""ttFormula: the recipe of an application, and the call that runs it.

Instantiating a formula runs the application in the calling thread: settings
(``creating_formula``), the main catalyst (``creating_main_catalyst``), the starting tonics
(``creating_starting_tonics``), then the main catalyst's loop until the application has
finished and no other catalyst thread is left. If the error policy ``'stop'`` ended the
application, the formula raises the ``ttSparkleError`` afterwards.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from . import lifecycle, log as _log_module
from .catalyst import join_catalyst_threads, ttCatalyst
from .errors import ERROR_POLICIES
from .flow import check_bound_settings
from .ledger import MAIN_CATALYST_NAME, LedgerAttribute, ttLedger
from .log import ttLog

__all__ = ["ttFormula", "DEFAULT_SETTINGS", "prepare_settings"]

_log = logging.getLogger("tasktonic")

#: The settings every application starts from; ``creating_formula`` overrides them.
DEFAULT_SETTINGS: tuple[tuple[str, Any], ...] = (
    ("tasktonic/project/name", "tasktonic app"),
    ("tasktonic/log/to", "screen"),
    ("tasktonic/log/default", ttLog.QUIET),
    ("tasktonic/errors/policy", "log"),
    ("tasktonic/catalysts/join_timeout", 10.0),
)


def prepare_settings(ledger: ttLedger, settings: Any) -> None:
    """Defaults, then the application's settings; validate them and choose the log sink."""
    ledger.update_formula(DEFAULT_SETTINGS)
    ledger.update_formula("tasktonic/project/started@", time.time())
    if settings:
        ledger.update_formula(settings)
    ttLog.from_any(ledger.setting("tasktonic/log/default"))
    policy = ledger.setting("tasktonic/errors/policy")
    if policy not in ERROR_POLICIES:
        raise ValueError(f"tasktonic: 'tasktonic/errors/policy' must be one of "
                         f"{', '.join(ERROR_POLICIES)}; got {policy!r}")
    check_bound_settings("default for every catalyst", ledger.setting("tasktonic/queue/max"),
                         ledger.setting("tasktonic/queue/overflow", "block"),
                         ledger.setting("tasktonic/queue/block_timeout"))
    _log_module.set_sink(ledger.setting("tasktonic/log/to"))


class ttFormula:
    """Subclass it, override the ``creating_*`` steps, and instantiate it to run the app."""

    #: The ledger (``ttLedger()``), as TaskTonic 0.2.4 offers it on the formula.
    ledger = LedgerAttribute()

    def __init__(self) -> None:
        ledger = self._begin()
        main = self._create_main_catalyst(ledger)
        hand_over = getattr(main, "_tt_formula_hand_over", None)
        if hand_over is not None:  # a ttDistiller: the test drives the application from here
            hand_over(self)
            return
        try:
            self._run(ledger, main)
        finally:
            failure = ledger.failure
            ledger.reset()
        if failure is not None:
            raise failure

    def _begin(self) -> ttLedger:
        """A fresh ledger holding this application's settings."""
        ledger = ttLedger()
        if ledger.main_catalyst is not None:
            raise RuntimeError("tasktonic: an application is already running in this process "
                               f"(main catalyst {ledger.main_catalyst!r})")
        ledger.reset()
        prepare_settings(ledger, self.creating_formula())
        return ledger

    def _create_main_catalyst(self, ledger: ttLedger) -> ttCatalyst:
        ledger.update_formula("tasktonic/project/status", "starting")
        ledger.expect_main_catalyst()
        self.creating_main_catalyst()
        main = ledger.main_catalyst
        if main is None:
            ledger.expect_main_catalyst()
            main = ttCatalyst(name=MAIN_CATALYST_NAME)
        if not isinstance(main, ttCatalyst):
            raise RuntimeError(f"tasktonic: main catalyst {main!r} is not a ttCatalyst")
        return main

    def _run(self, ledger: ttLedger, main: ttCatalyst) -> None:
        try:
            try:
                self.creating_starting_tonics()
            except BaseException:
                main.finish()  # end what was created, in order, before raising
                main.start_sparkling()
                raise
            lifecycle.application_started(main)
            ledger.update_formula("tasktonic/project/status", "main_running")
            main.start_sparkling()
        finally:
            ledger.update_formula("tasktonic/project/status", "main_finished")
            alive = join_catalyst_threads(ledger.setting("tasktonic/catalysts/join_timeout"))
            if alive:
                _log.error("tasktonic: catalyst threads still running after the main catalyst "
                           "finished: %s", ", ".join(t.name for t in alive))

    def creating_formula(self) -> Iterable[tuple[str, Any]] | dict | None:
        """Return the application's settings as ``(path, value)`` pairs."""
        return None

    def creating_main_catalyst(self) -> None:
        """Create the main catalyst (a plain ttCatalyst unless overridden)."""
        ttCatalyst(name=MAIN_CATALYST_NAME)

    def creating_starting_tonics(self) -> None:
        """Create the tonics the application starts with."""
