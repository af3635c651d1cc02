"""TaskTonic 0.2.4's ``ttTonicStore`` import paths, re-exporting tasktonic's implementation.

``from TaskTonic.ttTonicStore import ttStore`` and the submodules ``ttDistiller``,
``ttTimerScheduled``, ``ttStore`` and ``ttIpSockets`` (the selector module seed 002 names) work
with ``tasktonic.ttTonicStore`` instead. Nothing is defined here, only re-exported.
"""
from .ttDistiller import ttDistiller, ttDistillerFormula
from .ttStore import ttStore
from .ttTimerScheduled import *  # noqa: F403 (the timer names, listed once in that module)
from .ttTimerScheduled import __all__ as _timer_names

__all__ = ["ttDistiller", "ttDistillerFormula", "ttStore", *_timer_names]
