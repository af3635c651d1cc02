"""tasktonic: thousands of small stateful components (tonics) without a single lock.

A tonic's methods named ``ttsc__x`` (command), ``ttse__x`` (event) and ``tts__x`` (internal) are
sparkles: calling one queues it on the tonic's catalyst, which runs sparkles one by one in its
own thread. ``implementation`` says whether the compiled core or the pure-Python twins run.
"""
from ._switch import implementation
from .catalyst import ttCatalyst
from .distiller import ttDistiller, ttDistillerFormula
from .errors import ttError, ttSparkleError
from .essence import ttEssence, ttLiquid
from .flow import QueueStats, ttQueueFull
from .formula import ttFormula
from .ledger import ttLedger
from .log import ttLog
from .shared import ttShared
from .sparklestack import ttSparkleStack
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
from .tonic import ttTonic

__version__ = "0.1.0"

__all__ = [
    "implementation", "QueueStats", "ttCatalyst", "ttError", "ttQueueFull", "ttSparkleError",
    "ttEssence", "ttLiquid",
    "ttFormula", "ttDistiller", "ttDistillerFormula", "ttLedger", "ttLog", "ttShared",
    "ttSparkleStack", "ttStore", "ttTimerEveryDay",
    "ttTimerEveryHour", "ttTimerEveryMinute", "ttTimerEveryMonth", "ttTimerEveryWeek",
    "ttTimerEveryYear", "ttTimerPausing", "ttTimerRepeat", "ttTimerScheduled",
    "ttTimerSingleShot", "ttTonic",
]
