"""ttQtCatalyst: the main catalyst inside ``QApplication.exec()`` (PySide6).

Wake-ups from other threads are a queued signal to an object that lives in the GUI thread;
the catalyst's timers are one precise single-shot ``QTimer``. ``QApplication`` is created if
none exists yet (one per process: Qt's rule), in the thread that creates the catalyst, which
must be the process's main thread for Qt. Finishing the application quits ``exec()`` and
closes the top-level windows; closing the last window finishes the application.
"""
from __future__ import annotations

import gc
import math
import sys
from collections.abc import Callable
from typing import Any

from .._extras import require
from ..foreign import ForeignLoop, ttForeignCatalyst

QtCore: Any = require("PySide6.QtCore", "qt")
QtWidgets: Any = require("PySide6.QtWidgets", "qt")

__all__ = ["ttQtCatalyst", "QtLoop"]


class _Waker(QtCore.QObject):  # type: ignore[misc]  # PySide6 ships no stubs mypy reads here
    """Lives in the GUI thread: an emit from any thread runs ``target`` there."""

    wake = QtCore.Signal()

    def __init__(self, target: Callable[[], None]) -> None:
        super().__init__()
        self._target = target
        self.wake.connect(self.fire, QtCore.Qt.ConnectionType.QueuedConnection)

    @QtCore.Slot()  # type: ignore[untyped-decorator]  # PySide6 is typed Any here
    def fire(self) -> None:
        self._target()


class QtLoop(ForeignLoop):
    """A sparkle loop run in batches by Qt's event loop."""

    def __init__(self, on_error: Callable) -> None:
        super().__init__(on_error)
        app = QtWidgets.QApplication.instance()
        self.app = app if app is not None else QtWidgets.QApplication(sys.argv[:1] or ["tt"])
        self._waker: _Waker | None = _Waker(self.batch)
        self._timer = timer = QtCore.QTimer()
        timer.setSingleShot(True)
        timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        timer.timeout.connect(self.timer_due)
        self._in_exec = False

    def schedule(self) -> None:
        waker = self._waker
        if waker is not None:  # None once closed
            waker.wake.emit()

    def arm(self, delay: float | None) -> None:
        if delay is None:
            self._timer.stop()
        else:
            self._timer.start(math.ceil(delay * 1000))

    def run_foreign(self) -> None:
        self.begin()
        self._in_exec = True
        try:
            self.app.exec()
        finally:
            self._in_exec = False
            self._timer.stop()

    def quit_foreign(self) -> None:
        if self._in_exec:  # never another application's exec(): Qt has one per process
            self.app.quit()

    def close(self) -> None:
        """Close as a sparkle loop, on the GUI thread: Qt objects must die on their own thread
        (one freed by another thread's garbage collection would abort the process), so the
        waker and the timer are freed here, and so is the application's cyclic garbage."""
        super().close()
        self._waker = None
        self._timer.timeout.disconnect()
        self._timer = None
        self.app.closeAllWindows()
        gc.collect()


class ttQtCatalyst(ttForeignCatalyst):
    """The main catalyst running in Qt's event loop: tonics on it may touch widgets."""

    _tt_loop_class = QtLoop
    _tt_sparkle_loop: QtLoop

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        if self.id != 0:
            raise TypeError("tasktonic: ttQtCatalyst is a main catalyst: create it in "
                            "creating_main_catalyst()")
        super().__init__(name=name, **kwargs)

    @property
    def qt_app(self) -> Any:
        """The ``QApplication``."""
        return self._tt_sparkle_loop.app
