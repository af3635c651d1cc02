"""The ``ttTonicStore`` namespace of TaskTonic 0.2.4, so ``from TaskTonic.ttTonicStore
import ...`` code runs with ``tasktonic.ttTonicStore`` instead."""
from .distiller import ttDistiller, ttDistillerFormula
from .store import ttStore
from .timers import (ttTimerEveryDay, ttTimerEveryHour, ttTimerEveryMinute, ttTimerEveryMonth,
                     ttTimerEveryWeek, ttTimerEveryYear, ttTimerScheduled)

__all__ = ["ttDistiller", "ttDistillerFormula", "ttStore", "ttTimerEveryDay", "ttTimerEveryHour",
           "ttTimerEveryMinute", "ttTimerEveryMonth", "ttTimerEveryWeek", "ttTimerEveryYear",
           "ttTimerScheduled"]
