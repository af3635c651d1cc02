"""ttCatalyst: a tonic that owns a sparkle loop and the thread that runs it.

The main catalyst (id 0, ``tt_main_catalyst``) runs its loop in the thread that runs the
formula; every other catalyst starts its own thread when it is created. A catalyst hosts the
tonics that run on it. An ordinary catalyst finishes when the last tonic it hosts has finished;
the main catalyst finishes when the application has no tonic of its own left (services do not
count), and then finishes every other catalyst. A finishing catalyst finishes what it hosts,
waits for it, and stops its loop.

Extension points (seed 002, sections 3 and 5A). A catalyst that overrides neither of these runs
the fast loop (compiled when available) and has no catalyst queue (``catalyst_queue`` is None):

* ``new_catalyst_queue()`` returns the object every work order for this catalyst goes through:
  a subclass that overrides it gets ``catalyst.catalyst_queue``, whose ``put(order)`` receives
  each work order (from any thread; arguments already copied across threads) as a
  ``CatalystWorkOrder(tonic, sparkle, args, kwargs, source)`` (``tasktonic.queue_loop``), and
  the loop reads it with ``get(timeout=...)``, still firing timers and running extra sparkles.
  ``get`` and ``get_nowait`` must raise ``queue.Empty`` when nothing is there.
* ``sparkle()`` is the loop the catalyst's thread runs. A subclass that overrides it writes its
  own loop over the catalyst queue (the default queue is a ``queue.SimpleQueue`` unless
  ``new_catalyst_queue`` is overridden too) with ``self.sparkling``, ``catalyst_queue.get()`` /
  ``get_nowait()``, ``instance._execute_sparkle(sparkle, *args, **kwargs)``,
  ``self.next_timer_expire()`` (fires due timers, returns the seconds to the next one) and, if
  it wants, ``self.extra_sparkles`` / ``self.run_extra_sparkles()``.

``ttSelectorCatalyst`` (``tasktonic.selector``) remains the recommended way to wait on sockets.

Flow control: ``max_queue=N`` bounds the work orders waiting on the catalyst and ``overflow``
says what a sender that finds it full gets (``tasktonic/flow.py``); the formula keys
``tasktonic/queue/max``, ``tasktonic/queue/overflow`` and ``tasktonic/queue/block_timeout``
are the defaults. ``stats()`` tells what the queue has seen.
"""
from __future__ import annotations

import logging
import queue
import threading
from time import monotonic
from typing import Any

from . import _context, lifecycle
from ._switch import loop as _loop
from .errors import handle_sparkle_error
from .essence import ttEssence
from .flow import QueueBound, QueueStats, check_bound_settings
from .ledger import MAIN_CATALYST_NAME, ttLedger
from .log import trace_sparkle, ttLog
from .queue_loop import QueueLoop
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
    #: The queue every work order goes through (``new_catalyst_queue()``); None on a catalyst
    #: that overrides neither ``new_catalyst_queue`` nor ``sparkle`` (it runs the fast loop).
    catalyst_queue: Any = None
    #: False in a subclass whose ``sparkle`` means something else (the distiller's stepping).
    _tt_sparkle_is_the_loop = True
    #: The fast loop (``_tt_loop_class``), or a QueueLoop over ``catalyst_queue``.
    _tt_sparkle_loop: _loop.SparkleLoop | QueueLoop

    def _tt_pre_init(self, base: Any) -> None:
        self._tt_sparkling = False
        self._tt_stopping = False
        cls = type(self)
        if (cls.new_catalyst_queue is not ttCatalyst.new_catalyst_queue
                or (cls._tt_sparkle_is_the_loop and cls.sparkle is not ttCatalyst.sparkle)):
            if cls._tt_loop_class is not _loop.SparkleLoop:
                raise TypeError(f"tasktonic: {cls.__name__} runs its own loop "
                                f"({cls._tt_loop_class.__name__}); it cannot override "
                                "new_catalyst_queue() or sparkle()")
            self.catalyst_queue = self.new_catalyst_queue()
            self._tt_sparkle_loop = QueueLoop(self.catalyst_queue, handle_sparkle_error)
        else:
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
                 dont_start_yet: bool = False, max_queue: int | None = None,
                 overflow: str | None = None, block_timeout: float | None = None,
                 **kwargs: Any) -> None:
        kwargs.pop("catalyst", None)  # a catalyst always runs itself
        super().__init__(name=name, context=context, log_mode=log_mode, **kwargs)
        if self.id == 0:
            self.name = MAIN_CATALYST_NAME
        self._tt_start_now = not dont_start_yet
        if self._tt_log_mode >= ttLog.FULL:
            self._tt_sparkle_loop.tracer = trace_sparkle
        self._tt_bound_queue(max_queue, overflow, block_timeout)

    def _tt_bound_queue(self, max_queue: int | None, overflow: str | None,
                        block_timeout: float | None) -> None:
        """Bound the queue as asked, else as the formula says (unbounded by default)."""
        ledger = ttLedger()
        if max_queue is None:
            max_queue = ledger.setting("tasktonic/queue/max")
        if overflow is None:
            overflow = ledger.setting("tasktonic/queue/overflow", "block")
        if block_timeout is None:
            block_timeout = ledger.setting("tasktonic/queue/block_timeout")
        check_bound_settings(self.name, max_queue, overflow, block_timeout)
        if max_queue is None:
            return
        loop = self._tt_sparkle_loop
        if isinstance(loop, QueueLoop):
            raise TypeError(f"tasktonic: catalyst {self.name!r} has its own catalyst queue "
                            "(new_catalyst_queue() or sparkle() overridden): bound that queue "
                            "itself instead of passing max_queue")
        loop.set_bound(QueueBound(self, max_queue, overflow, block_timeout))

    def stats(self) -> QueueStats:
        """What this catalyst's queue has seen: waiting now, high water, dropped, run."""
        loop = self._tt_sparkle_loop
        bound = getattr(loop, "bound", None)
        return QueueStats(
            queued=len(loop), high_water=loop.high_water,
            dropped=0 if bound is None else bound.dropped, run=loop.ran,
            blocked=0 if bound is None else bound.blocked,
            max_queue=None if bound is None else bound.max_queue,
            overflow=None if bound is None else bound.overflow)

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

    # -- the extension points (seed 002, sections 3 and 5A) ----------------------------
    def new_catalyst_queue(self) -> Any:
        """The catalyst queue: override to return your own (``put``, ``get(timeout=...)``,
        ``get_nowait()``, both raising ``queue.Empty`` when empty).

        Called once, while the catalyst is built (before its ``__init__`` body runs). The default
        is a ``queue.SimpleQueue``, used only by a subclass that overrides ``sparkle()``; a
        catalyst that overrides neither runs the fast loop and has no queue.
        """
        return queue.SimpleQueue()

    def sparkle(self) -> None:
        """The loop this catalyst's thread runs until the catalyst has finished.

        The default runs the loop of ``sparkle_loop``. An override runs its own loop over
        ``self.catalyst_queue`` while ``self.sparkling`` is true: it takes work orders with
        ``get(timeout=...)`` or ``get_nowait()``, runs each with
        ``order.tonic._execute_sparkle(order.sparkle, *order.args, **order.kwargs)`` (which also
        runs the extra sparkles it queued), and fires timers with ``self.next_timer_expire()``
        (its result is the timeout for the next wait). Anything it gets from the queue must be
        run with ``_execute_sparkle`` (a stop from another thread puts a work order that does
        nothing, so that a blocked ``get`` returns).
        """
        self._tt_sparkle_loop.run()

    @property
    def sparkling(self) -> bool:
        """True while the loop runs and the catalyst has not stopped it (it has finished)."""
        return self._tt_sparkling and not self._tt_stopping

    @sparkling.setter
    def sparkling(self, value: bool) -> None:
        if value:
            self._tt_sparkling = True  # a stopped catalyst stays stopped
        else:
            self._tt_stopping = True
            self._tt_sparkle_loop.stop()

    @property
    def extra_sparkles(self) -> Any:
        """The extra sparkles (state transitions) queued by the sparkle just run and not run yet
        (a catalyst queue's loop only; ``_execute_sparkle`` runs them itself)."""
        loop = self._tt_sparkle_loop
        return loop.extra if isinstance(loop, QueueLoop) else ()

    def run_extra_sparkles(self) -> None:
        """Run the extra sparkles still queued (on this catalyst's thread, between orders)."""
        self._tt_sparkle_loop.run_extra()

    def fire_due_timers(self) -> int:
        """Fire the timers that are due (each queues its sparkle); return how many fired."""
        return self._tt_sparkle_loop.fire_due(monotonic())

    def next_timer_expire(self) -> float | None:
        """Fire the due timers, then return the seconds until the next timer expires (None
        when there is none): the timeout for a hand-written loop's next wait. Call it on this
        catalyst's thread, between work orders."""
        loop = self._tt_sparkle_loop
        while True:
            deadline = loop.timers.next_deadline()
            if deadline is None:
                return None
            now = monotonic()
            if deadline > now:
                return deadline - now
            loop.fire_due(now)

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
        if isinstance(loop, QueueLoop):
            loop.thread_id = threading.get_ident()  # an overriding sparkle() never calls run()
        sparkle = self.sparkle if self._tt_sparkle_is_the_loop else loop.run
        self._tt_sparkling = True
        try:
            try:
                sparkle()
            except BaseException as exc:
                self._tt_stopped_by(exc)
                sparkle()  # run the finishing of what this catalyst hosts, then end
        except BaseException as exc:
            if self.id == 0:
                raise
            _log.error("tasktonic: catalyst %r could not finish after %s; its tonics are "
                       "abandoned", self.name, type(exc).__name__, exc_info=exc)
        finally:
            self._tt_sparkling = False
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
        self._tt_stopping = True
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
