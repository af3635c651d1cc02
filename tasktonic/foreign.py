"""ForeignLoop: a sparkle loop run in batches by another event loop (asyncio, trio, Qt, Tk).

A catalyst that lives inside a foreign event loop cannot sleep in its own wait: the foreign
loop does the waiting. This loop therefore never blocks while the foreign loop runs. Its
``wake()`` asks the foreign loop (from any thread) to call ``batch()`` soon; ``batch()`` runs
the orders that were ready when it began (``step()``), fires the due timers (``fire_due``) and
arms the foreign loop's timer for ``timers.next_deadline()``. Between batches the foreign loop
runs its own events, so a GUI stays responsive under a flood of sparkles.

A batch runs at most ``batch_limit`` orders (the rest wait for the next batch), so the foreign
loop handles its own events at least that often under a steady stream of sparkles.

``thread_id`` is set only while a batch runs. A sparkle called on the foreign loop's thread
*outside* a batch (a Qt button callback, an asyncio callback) therefore reaches
``push_threadsafe``; on that thread it is appended without copying its arguments (the same
thread runs it later, as for a call from inside a sparkle), from any other thread it is copied
as usual; both wake the foreign loop.

When the foreign loop ends by itself (the last window was closed), ``on_foreign_exit`` is
called (the catalyst finishes the application with it) and the loop goes on as a plain sparkle
loop until it is stopped, so finishing still runs in order.

A subclass provides four hooks: ``schedule()`` (any thread: have the foreign loop call
``batch()`` soon), ``arm(delay)`` (on the foreign thread: call ``timer_due()`` after ``delay``
seconds, None to disarm), ``run_foreign()`` (run the foreign loop, calling ``begin()`` once it
accepts ``schedule()``; return once ``quit_foreign()`` ran or the foreign loop ended) and
``quit_foreign()`` (on the foreign thread).
"""
from __future__ import annotations

from collections.abc import Callable
from threading import get_ident
from time import monotonic
from typing import Any

from . import _context
from ._switch import loop as _loop
from .catalyst import ttCatalyst

__all__ = ["ForeignLoop", "ttForeignCatalyst"]


class ForeignLoop(_loop.SparkleLoop):
    """A sparkle loop whose waiting, waking and timers belong to another event loop."""

    #: The most orders one batch runs before the foreign loop gets a turn.
    batch_limit = 500

    def __init__(self, on_error: Callable) -> None:
        super().__init__(on_error)
        #: The foreign loop's thread, once it accepts ``schedule()`` (None otherwise).
        self.home: int | None = None
        #: Called when the foreign loop ended without being asked to (the catalyst's finish).
        self.on_foreign_exit: Callable[[], None] | None = None
        self._scheduled = False
        self._stop_asked = False
        self._plain = False  # the foreign loop has ended: waiting is the plain loop's again
        self._armed: float | None = None
        self._failure: BaseException | None = None

    # -- the hooks of a foreign loop ------------------------------------------------------
    def schedule(self) -> None:
        """Have the foreign loop call ``batch()`` soon (any thread)."""
        raise NotImplementedError

    def arm(self, delay: float | None) -> None:
        """Have the foreign loop call ``timer_due()`` in ``delay`` seconds; None disarms."""
        raise NotImplementedError

    def run_foreign(self) -> None:
        """Run the foreign loop until ``quit_foreign()`` or until it ends by itself."""
        raise NotImplementedError

    def quit_foreign(self) -> None:
        """End ``run_foreign()`` (called on the foreign loop's thread)."""
        raise NotImplementedError

    # -- waking ---------------------------------------------------------------------------
    def begin(self) -> None:
        """The foreign loop, on its thread, accepts ``schedule()``: run a first batch."""
        self.home = get_ident()
        self._armed = None
        self._scheduled = True
        self.schedule()

    def wake(self) -> None:
        if self._plain:
            super().wake()
        elif self.home is not None and not self._scheduled:
            self._scheduled = True
            self.schedule()

    def push_threadsafe(self, tonic: Any, entry: Any, args: tuple, kwargs: Any) -> None:
        if self._plain:
            super().push_threadsafe(tonic, entry, args, kwargs)
            return
        if self.home == get_ident() and not self.closed:
            self.push((tonic, entry, args, kwargs))  # the same thread runs it: no copy
        else:
            super().push_threadsafe(tonic, entry, args, kwargs)
        self.wake()

    def stop(self) -> None:
        self._stop_asked = True
        super().stop()

    # -- running --------------------------------------------------------------------------
    def batch(self) -> None:
        """Run what was ready, fire due timers, then ask for the next batch or arm the timer."""
        self._scheduled = False  # first: a push after this line schedules the next batch
        if not self._stop_asked:
            previous = _context.bound_loop()
            _context.bind_loop(self)
            self.thread_id = self.home
            try:
                count = min(len(self), self.batch_limit)
                while count and not self._stop_asked and self.step() is not None:
                    count -= 1
                now = monotonic()
                deadline = self.timers.next_deadline()
                if not self._stop_asked and deadline is not None and deadline <= now:
                    self.fire_due(now)
            except BaseException as exc:  # SystemExit, Ctrl-C: run() re-raises it
                self._failure = exc
            finally:
                self.thread_id = None
                _context.bind_loop(previous)
        if self._stop_asked or self._failure is not None:
            self.quit_foreign()
        elif len(self):
            self.wake()  # more is ready: after the foreign loop's own events
        else:
            self._arm_for(self.timers.next_deadline())

    def timer_due(self) -> None:
        """The foreign timer armed by ``arm`` has fired (perhaps a little early): a batch."""
        self._armed = None  # whatever the batch finds, the timer must be armed again
        self.batch()

    def _arm_for(self, deadline: float | None) -> None:
        if deadline != self._armed:
            self._armed = deadline
            self.arm(None if deadline is None else max(0.0, deadline - monotonic()))

    def run(self) -> None:
        """Run the foreign loop; once it has ended by itself, go on as a plain loop."""
        if not self._plain:
            self.thread_id = None  # own-thread calls wake the foreign loop until a batch runs
            if not self._stop_asked:
                try:
                    self.run_foreign()
                finally:
                    self.home = None
            failure, self._failure = self._failure, None
            if failure is not None:
                raise failure
            if self._stop_asked:
                return
            self._plain = True
            self.thread_id = get_ident()
            if self.on_foreign_exit is not None:
                self.on_foreign_exit()
        super().run()


class ttForeignCatalyst(ttCatalyst):
    """A catalyst whose loop is a ``ForeignLoop`` (set ``_tt_loop_class`` in a subclass).

    When the foreign loop ends by itself, the catalyst finishes (the main catalyst: the
    application).
    """

    _tt_loop_class: Any = ForeignLoop
    _tt_sparkle_loop: ForeignLoop

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self._tt_sparkle_loop.on_foreign_exit = self.finish

    def on_foreign_thread(self) -> bool:
        """True on the thread that runs the foreign loop (also between batches)."""
        return self._tt_sparkle_loop.home == get_ident()
