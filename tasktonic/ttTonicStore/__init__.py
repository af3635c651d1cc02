"""TaskTonic 0.2.4's ``ttTonicStore`` import paths, re-exporting tasktonic's implementation.

``from TaskTonic.ttTonicStore import ttStore`` and the submodules ``ttDistiller``,
``ttTimerScheduled``, ``ttStore`` and ``ttIpSockets`` (the selector module seed 002 names) work
with ``tasktonic.ttTonicStore`` instead. Nothing is defined here, only re-exported.
"""
from ..distiller import ttDistiller, ttDistillerFormula
from ..store import ttStore
from ..timers import (
    ttTimerEveryDay,
    ttTimerEveryHour,
    ttTimerEveryMinute,
    ttTimerEveryMonth,
    ttTimerEveryWeek,
    ttTimerEveryYear,
    ttTimerScheduled,
)

__all__ = ["ttDistiller", "ttDistillerFormula", "ttStore", "ttTimerEveryDay", "ttTimerEveryHour",
           "ttTimerEveryMinute", "ttTimerEveryMonth", "ttTimerEveryWeek", "ttTimerEveryYear",
           "ttTimerScheduled"]
