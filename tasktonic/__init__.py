"""tasktonic: thousands of small stateful components (tonics) without a single lock.

A tonic's methods named ``ttsc__x`` (command), ``ttse__x`` (event) and ``tts__x`` (internal) are
sparkles: calling one queues it on the tonic's catalyst, which runs sparkles one by one in its
own thread. ``implementation`` says whether the compiled core or the pure-Python twins run.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._switch import implementation
from .catalyst import ttCatalyst
from .errors import ttError, ttSparkleError
from .essence import ttEssence, ttLiquid
from .flow import QueueStats, ttQueueFull
from .formula import ttFormula
from .ledger import ttLedger
from .log import ttLog
from .shared import ttShared
from .sparklestack import ttSparkleStack
from .tonic import ttTonic

#: Names imported on first use (module ``__getattr__``), so ``import tasktonic`` does not pay
#: for what many programs never touch: the distiller, the store, the timers and their
#: calendar arithmetic (``dataclasses``, ``datetime``). ``from tasktonic import *`` loads them.
_LAZY = {
    "ttDistiller": "distiller", "ttDistillerFormula": "distiller", "ttStore": "store",
    **{name: "timers" for name in (
        "ttTimerEveryDay", "ttTimerEveryHour", "ttTimerEveryMinute", "ttTimerEveryMonth",
        "ttTimerEveryWeek", "ttTimerEveryYear", "ttTimerPausing", "ttTimerRepeat",
        "ttTimerScheduled", "ttTimerSingleShot")},
}

if TYPE_CHECKING:
    from .distiller import ttDistiller, ttDistillerFormula
    from .store import ttStore
    from .timers import (
        ttTimerEveryDay,
        ttTimerEveryHour,
        ttTimerEveryMinute,
        ttTimerEveryMonth,
        ttTimerEveryWeek,
        ttTimerEveryYear,
        ttTimerPausing,
        ttTimerRepeat,
        ttTimerScheduled,
        ttTimerSingleShot,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.3.0"

__all__ = [
    "implementation", "QueueStats", "ttCatalyst", "ttError", "ttQueueFull", "ttSparkleError",
    "ttEssence", "ttLiquid",
    "ttFormula", "ttDistiller", "ttDistillerFormula", "ttLedger", "ttLog", "ttShared",
    "ttSparkleStack", "ttStore", "ttTimerEveryDay",
    "ttTimerEveryHour", "ttTimerEveryMinute", "ttTimerEveryMonth", "ttTimerEveryWeek",
    "ttTimerEveryYear", "ttTimerPausing", "ttTimerRepeat", "ttTimerScheduled",
    "ttTimerSingleShot", "ttTonic",
]
