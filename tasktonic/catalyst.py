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

from . import _context
from ._switch import loop as _loop
from .errors import handle_sparkle_error
from .essence import LC_ACTIVE, LC_FINISHING, ttEssence
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
        self._tt_hosted: set = set()
        self._tt_thread: threading.Thread | None = None
        self._tt_start_now = True
        ttEssence._tt_pre_init(self, base)
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

    @property
    def _tt_counts_as_app(self) -> bool:
        return not self._tt_is_service and self.id != 0

    def _tt_post_init_action(self) -> None:
        super()._tt_post_init_action()
        if self.id != 0 and self._tt_start_now:
            self.start_sparkling()

    # -- running -----------------------------------------------------------------------
    def start_sparkling(self) -> None:
        """Run the loop: in this thread for the main catalyst, else in a new thread."""
        if self.id == 0:
            self._tt_run()
            return
        if self._tt_thread is not None:
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
                if self.id == 0:
                    raise
                self._tt_stopped_by(exc)
                loop.run()  # run the finishing of what this catalyst hosts, then end
        except BaseException as exc:
            if self.id == 0:
                raise
            _log.error("tasktonic: catalyst %r could not finish after %s; its tonics are "
                       "abandoned", self.name, type(exc).__name__, exc_info=exc)
        finally:
            _context.bind_loop(None)
            for tonic, entry, _args, _kwargs in loop.drain():
                _log.debug("dropped %s for %s: catalyst %r has finished", entry.name, tonic,
                           self.name)

    def _tt_stopped_by(self, exc: BaseException) -> None:
        """A BaseException (SystemExit, ...) left a sparkle: the application ends with it."""
        _log.error("tasktonic: catalyst %r stopped by %s; ending the application", self.name,
                   type(exc).__name__, exc_info=exc)
        ledger = ttLedger()
        if ledger.failure is None:
            ledger.failure = exc  # type: ignore[assignment]
        self.finish()
        main = ledger.main_catalyst
        if main is not None:
            main.finish()

    # -- hosting -----------------------------------------------------------------------
    def _tt_host(self, tonic: ttTonic) -> None:
        self._tt_hosted.add(tonic)
        if tonic._tt_log_mode >= ttLog.FULL:
            self._tt_sparkle_loop.tracer = trace_sparkle

    def _tt_unhost(self, tonic: ttTonic) -> None:
        self._tt_hosted.discard(tonic)
        if self._tt_hosted:
            return
        if self._tt_lc == LC_ACTIVE and self.id != 0 and not self._tt_is_service:
            self.finish()  # a service catalyst ends by the service rule instead
        else:
            self._tt_check_complete()

    @property
    def hosted(self) -> frozenset:
        """The tonics that run on this catalyst (not counting itself)."""
        return frozenset(self._tt_hosted)

    # -- finishing ---------------------------------------------------------------------
    def _tt_begin_finish(self) -> None:
        if self._tt_lc >= LC_FINISHING:
            return
        super()._tt_begin_finish()
        for tonic in list(self._tt_hosted):
            tonic.finish()
        if self.id == 0:
            for essence in list(ttLedger().records.values()):
                if essence._tt_is_catalyst and essence is not self:
                    essence.finish()
        self._tt_check_complete()

    def _tt_pending(self) -> bool:
        return bool(self.infusions) or bool(self._tt_hosted)

    def _tt_complete(self) -> None:
        super()._tt_complete()
        self._tt_sparkle_loop.stop()


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
