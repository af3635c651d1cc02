"""The exception types and the policy for an exception raised inside a sparkle.

An exception in a sparkle never stops its catalyst. First the tonic's own hook
``on_sparkle_error(sparkle, error)`` may handle it (return True). Otherwise it is logged on the
standard ``logging`` logger ``"tasktonic"`` with the tonic, the sparkle and the traceback, and the
formula setting ``tasktonic/errors/policy`` decides what follows:

* ``'log'`` (default): nothing more, the catalyst runs the next sparkle;
* ``'finish'``: the failing tonic is finished;
* ``'stop'``: the whole application is finished (the daemon rule: a failure ends it) and the
  formula raises ``ttSparkleError`` once everything has stopped.
"""
from __future__ import annotations

import logging
from typing import Any

from .ledger import ttLedger

__all__ = ["ttError", "ttSparkleError", "ERROR_POLICIES", "handle_sparkle_error"]

ERROR_POLICIES = ("log", "finish", "stop")

logger = logging.getLogger("tasktonic")


class ttError(Exception):
    """Base class of tasktonic's own exceptions."""


class ttSparkleError(ttError):
    """A sparkle raised and the error policy ended the application."""

    def __init__(self, tonic_name: str, sparkle: str, error: BaseException) -> None:
        super().__init__(f"sparkle {sparkle} of tonic {tonic_name!r} raised "
                         f"{type(error).__name__}: {error}")
        self.tonic_name = tonic_name
        self.sparkle = sparkle
        self.error = error


def handle_sparkle_error(tonic: Any, entry: Any, error: Exception) -> None:
    """The catalyst loop's error handler: hook, log, then the formula's policy."""
    sparkle = entry.name
    hook = getattr(tonic, "on_sparkle_error", None)
    if hook is not None:
        try:
            if hook(sparkle, error):
                return
        except Exception as hook_error:
            logger.error("tasktonic: on_sparkle_error of tonic %r failed while handling %s",
                         tonic.name, sparkle, exc_info=hook_error)
    logger.error("tasktonic: sparkle %s of tonic %r (id %s) raised %s: %s", sparkle, tonic.name,
                 tonic.id, type(error).__name__, error, exc_info=error)
    ledger = ttLedger()
    policy = ledger.setting("tasktonic/errors/policy", "log")
    if policy == "finish":
        tonic.finish()
    elif policy == "stop":
        if ledger.failure is None:
            ledger.failure = ttSparkleError(tonic.name, sparkle, error)
        main = ledger.main_catalyst
        if main is not None:
            main.finish()
