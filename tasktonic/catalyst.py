"""ttCatalyst: a tonic that owns a sparkle loop and the thread that runs it.

The main catalyst (id 0, ``tt_main_catalyst``) runs its loop in the thread that runs the
formula; every other catalyst starts its own thread when it is created. A catalyst hosts the
tonics that run on it. An ordinary catalyst finishes when the last tonic it hosts has finished;
the main catalyst finishes when the application has no tonic of its own left (services do not
count), and then finishes every other catalyst. A finishing catalyst finishes what it hosts,
waits for it, and stops its loop.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from . import _context, lifecycle
from ._switch import loop as _loop
from .errors import handle_sparkle_error
from .essence import ttEssence
from .ledger import MAIN_CATALYST_NAME, ttLedger
from .log import trace_sparkle, ttLog
from .tonic import ttTonic

__all__ = ["ttCatalyst", "join_catalyst_threads"]

_log = logging.getLogger("tasktonic")
_threads: list[threading.Thread] = []
_threads_lock = threading.Lock()


class ttCatalyst(ttTonic):
    """Runs the sparkles of the tonics it hosts, one at a time, in one thread."""

    _tt_is_catalyst = True
    #: The loop this catalyst runs; the selector catalyst waits in ``selectors`` instead.
    _tt_loop_class: Any = _loop.SparkleLoop

    def _tt_pre_init(self, base: Any) -> None:
        self._tt_sparkle_loop = self._tt_loop_class(handle_sparkle_error)
        self._tt_loop = self._tt_sparkle_loop
        self.catalyst = self
        self._tt_hosted: dict = {}
        self._tt_thread: threading.Thread | None = None
        self._tt_start_now = True
        with lifecycle.admitting_catalyst(self):
            ttEssence._tt_pre_init(self, base)  # a catalyst runs itself: no hosting
        if self.id == 0:
            self.name = MAIN_CATALYST_NAME
            self._tt_sparkle_loop.thread_id = threading.get_ident()

    def __init__(self, name: str | None = None, context: Any = None, log_mode: Any = None,
                 dont_start_yet: bool = False, **kwargs: Any) -> None:
        kwargs.pop("catalyst", None)  # a catalyst always runs itself
        super().__init__(name=name, context=context, log_mode=log_mode, **kwargs)
        if self.id == 0:
            self.name = MAIN_CATALYST_NAME
        self._tt_start_now = not dont_start_yet
        if self._tt_log_mode >= ttLog.FULL:
            self._tt_sparkle_loop.tracer = trace_sparkle

    @property
    def is_main(self) -> bool:
        return self.id == 0

    def _tt_activated(self) -> None:
        super()._tt_activated()
        if self.id != 0 and self._tt_start_now:
            self.start_sparkling()

    def on_own_thread(self) -> bool:
        """True when called from the thread that runs this catalyst's loop."""
        return self._tt_sparkle_loop.thread_id == threading.get_ident()

    @property
    def sparkle_loop(self) -> Any:
        """The loop that runs this catalyst's work orders (see ``_pure/loop.py``)."""
        return self._tt_sparkle_loop

    @property
    def timers(self) -> Any:
        """This catalyst's timer heap (touched only on its own thread)."""
        return self._tt_sparkle_loop.timers

    # -- running -----------------------------------------------------------------------
    def start_sparkling(self) -> None:
        """Run the loop: in this thread for the main catalyst, else in a new thread."""
        if self.id == 0:
            self._tt_run()
            return
        if self._tt_thread is not None or self.finished:
            return
        thread = threading.Thread(target=self._tt_run, name=f"tasktonic:{self.name}",
                                  daemon=True)
        self._tt_thread = thread
        with _threads_lock:
            _threads.append(thread)
        thread.start()

    def _tt_run(self) -> None:
        loop = self._tt_sparkle_loop
        _context.bind_loop(loop)
        try:
            try:
                loop.run()
            except BaseException as exc:
                self._tt_stopped_by(exc)
                loop.run()  # run the finishing of what this catalyst hosts, then end
        except BaseException as exc:
            if self.id == 0:
                raise
            _log.error("tasktonic: catalyst %r could not finish after %s; its tonics are "
                       "abandoned", self.name, type(exc).__name__, exc_info=exc)
        finally:
            _context.bind_loop(None)
            loop.close()

    def _tt_stopped_by(self, exc: BaseException) -> None:
        """A BaseException (SystemExit, Ctrl-C, ...) left a sparkle: the application ends.

        Everything finishes in order (``ttse__on_finished`` runs); the formula re-raises it.
        """
        _log.error("tasktonic: catalyst %r stopped by %s; ending the application", self.name,
                   type(exc).__name__, exc_info=exc)
        ledger = ttLedger()
        if ledger.failure is None:
            ledger.failure = exc
        self.finish()
        main = ledger.main_catalyst
        if main is not None:
            main.finish()

    # -- hosting (the rules are in lifecycle) ------------------------------------------
    def _ttss__unhost(self, tonic: ttTonic, finished: bool) -> None:
        lifecycle.unhost(self, tonic, finished)

    def _ttss__app_idle(self) -> None:
        lifecycle.application_idle(self)

    @property
    def hosted(self) -> frozenset:
        """The tonics that run on this catalyst (not counting itself)."""
        return frozenset(self._tt_hosted)

    # -- finishing ---------------------------------------------------------------------
    def _tt_pending(self) -> bool:
        return bool(self._tt_infusions) or bool(self._tt_hosted)

    def _tt_completed(self) -> None:
        super()._tt_completed()
        self._tt_sparkle_loop.stop()

    def _tt_releasing(self) -> None:
        super()._tt_releasing()
        if self._tt_lc == lifecycle.LC_COMPLETED and self._tt_thread is None and self.id != 0:
            self._tt_sparkle_loop.close()  # construction failed: the loop never runs


def join_catalyst_threads(timeout: float | None = None) -> list[threading.Thread]:
    """Wait for every catalyst thread started so far; return those still alive."""
    with _threads_lock:
        threads = list(_threads)
    for thread in threads:
        if thread is not threading.current_thread():
            thread.join(timeout)
    alive = [t for t in threads if t.is_alive()]
    with _threads_lock:
        _threads[:] = alive
    return alive
