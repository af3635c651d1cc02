"""``TaskTonic.ttTonicStore.ttTimerScheduled``: the wall-clock timers (re-exported)."""
from ..timers import (
    ttTimerEveryDay,
    ttTimerEveryHour,
    ttTimerEveryMinute,
    ttTimerEveryMonth,
    ttTimerEveryWeek,
    ttTimerEveryYear,
    ttTimerScheduled,
)

__all__ = ["ttTimerScheduled", "ttTimerEveryYear", "ttTimerEveryMonth", "ttTimerEveryWeek",
           "ttTimerEveryDay", "ttTimerEveryHour", "ttTimerEveryMinute"]
