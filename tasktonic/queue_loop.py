"""The catalyst queue: a sparkle loop whose work orders go through a catalyst's own queue.

A catalyst that overrides nothing runs the fast loop (``_pure/loop.py`` or its compiled twin)
and has no catalyst queue. A catalyst subclass that overrides ``new_catalyst_queue()`` or
``sparkle()`` (the extension points of seed 002, sections 3 and 5A) runs a ``QueueLoop``:

* Every work order for the catalyst, from its own thread and from any other (a sparkle call, a
  timer's sparkle), is a ``CatalystWorkOrder(tonic, sparkle, args, kwargs, source)`` handed to
  ``catalyst.catalyst_queue.put(order)``; ``source`` is the tonic that sent it (None outside
  any tonic). Arguments are copied across threads as on the fast loop, before the ``put``.
* The loop reads the queue with ``get(timeout=...)`` (the time to the next timer; no timeout
  when there is none), fires due timers, and runs each order with its extra sparkles (state
  transitions) right after it, with the fast loop's routing, tracing and error handling.
  ``get_nowait()`` is what ``step()`` uses. The queue must raise ``queue.Empty`` from both when
  it has nothing (as ``queue.SimpleQueue`` does).
* ``wake()`` (a stop from another thread) puts ``WAKE_ORDER`` on the queue: a work order whose
  execution does nothing, so a loop blocked in ``get`` returns and a hand-written ``sparkle()``
  that runs every order it gets needs no special case.

Execution reuses the fast loop: each order is handed to an inner ``SparkleLoop`` and run by its
``step()``; extra sparkles are kept here (a hand-written loop sees them as
``catalyst.extra_sparkles``) and run with the inner loop's ``run_now``.
"""
from __future__ import annotations

import logging
import queue as _queue_module
from collections import deque
from collections.abc import Callable
from threading import get_ident
from time import monotonic
from typing import Any, NamedTuple

from . import _context
from ._switch import copy as _copy, loop as _loop

__all__ = ["CatalystWorkOrder", "QueueLoop", "WAKE_ORDER"]

_log = logging.getLogger("tasktonic")
_MAX_WAIT = 3600.0  # one get() waits at most this long, then the loop looks again


class CatalystWorkOrder(NamedTuple):
    """One work order on a catalyst queue: who, which sparkle, with what, sent by whom."""

    tonic: Any
    sparkle: Any
    args: tuple
    kwargs: dict
    source: Any


class _Wake:
    """The sparkle of ``WAKE_ORDER``: running it does nothing."""

    name = "wake"

    def __repr__(self) -> str:
        return "<sparkle wake>"


_WAKE_SPARKLE = _Wake()


class _Nobody:
    """The tonic of ``WAKE_ORDER``: its ``_execute_sparkle`` does nothing."""

    name = "wake"

    def _execute_sparkle(self, sparkle: Any, *args: Any, **kwargs: Any) -> None:
        return None


#: Put on a catalyst queue to make a blocked ``get`` return; executing it does nothing.
WAKE_ORDER = CatalystWorkOrder(_Nobody(), _WAKE_SPARKLE, (), {}, None)


def _dropped(tonic: Any, entry: Any) -> None:
    _log.debug("dropped %s for finished tonic %s", getattr(entry, "name", entry), tonic)


class QueueLoop:
    """A catalyst's loop whose work orders go through ``queue`` (``put``/``get``)."""

    def __init__(self, catalyst_queue: Any, on_error: Callable[[Any, Any, Exception], None]
                 ) -> None:
        self.queue = catalyst_queue
        self._inner = _loop.SparkleLoop(on_error)  # runs the orders: routing, tracing, errors
        self.extra: deque = deque()
        self.thread_id: int | None = None
        self._stopped = False
        self._closed = False
        self._high = 0

    # -- what the rest of tasktonic reads --------------------------------------------------
    def __len__(self) -> int:
        qsize = getattr(self.queue, "qsize", None)
        return qsize() if qsize is not None else 0

    @property
    def timers(self) -> Any:
        return self._inner.timers

    @property
    def tracer(self) -> Callable | None:
        return self._inner.tracer

    @tracer.setter
    def tracer(self, value: Callable | None) -> None:
        self._inner.tracer = value

    @property
    def current(self) -> Any:
        return self._inner.current

    @property
    def current_tonic(self) -> Any:
        return self._inner.current_tonic

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def ran(self) -> int:
        """How many orders have been run (``run``, ``step``, ``_execute_sparkle``)."""
        return self._inner.ran

    @property
    def high_water(self) -> int:
        """The most orders seen waiting (at each take, as far as the queue tells its size)."""
        return max(self._high, len(self))

    @property
    def stopped(self) -> bool:
        """True once ``stop`` ran: the loop ends after the order being run."""
        return self._stopped

    # -- queueing ------------------------------------------------------------------------------
    def push(self, order: tuple) -> None:
        """Queue an order from the loop's own thread (no copy)."""
        tonic, entry, args, kwargs = order
        self.queue.put(CatalystWorkOrder(tonic, entry, args, kwargs or {},
                                         _context.current_tonic()))

    def push_threadsafe(self, tonic: Any, entry: Any, args: tuple, kwargs: dict) -> None:
        """Queue an order from another thread: copy the arguments, then ``put`` it."""
        if self._closed:
            _dropped(tonic, entry)
            return
        kwargs = kwargs or {}
        if args or kwargs:
            try:
                args, kwargs = _copy.copy_call(tuple(args), dict(kwargs))
            except Exception as exc:
                raise TypeError(
                    f"tasktonic: cannot copy the arguments of {entry.name} for tonic "
                    f"{getattr(tonic, 'name', tonic)!r} across threads: "
                    f"{type(exc).__name__}: {exc} (wrap an object that must be shared in "
                    "ttShared to hand it over by reference)") from exc
            kwargs = kwargs or {}
        self.queue.put(CatalystWorkOrder(tonic, entry, args, kwargs, _context.current_tonic()))
        if self._closed:  # closed while we put it: drop it as close() would have
            self._drop_queued()

    def push_extra(self, tonic: Any, entry: Any, args: tuple) -> None:
        """Queue a system sparkle to run right after the order being run."""
        self.extra.append((tonic, entry, args))

    def run_now(self, tonic: Any, entry: Any, args: tuple) -> None:
        self._inner.run_now(tonic, entry, args)

    def run_extra(self) -> None:
        """Run the extra sparkles queued by the order just run (state transitions)."""
        extra = self.extra
        while extra:
            tonic, entry, args = extra.popleft()
            self._inner.run_now(tonic, entry, args)

    # -- running -------------------------------------------------------------------------------
    def execute(self, tonic: Any, entry: Any, args: tuple, kwargs: dict) -> None:
        """Run one work order now and then its extra sparkles (what ``_execute_sparkle`` does)."""
        if entry is _WAKE_SPARKLE:
            return
        inner = self._inner
        waiting = len(self) + 1
        if waiting > self._high:
            self._high = waiting
        inner.push((tonic, entry, tuple(args), dict(kwargs) if kwargs else {}))
        inner.step()
        self.run_extra()

    def _run_order(self, order: Any) -> Any:
        tonic, entry, args, kwargs = order[0], order[1], order[2], order[3]
        self.execute(tonic, entry, args, kwargs)
        return _loop.WorkOrder(tonic, entry, args, kwargs)

    def next_timeout(self) -> float | None:
        """Seconds until the next timer (0.0 when one is due), None when there is none."""
        deadline = self._inner.timers.next_deadline()
        if deadline is None:
            return None
        return max(0.0, deadline - monotonic())

    def fire_due(self, now: float) -> int:
        return self._inner.fire_due(now)

    def step(self) -> Any:
        """Run the next queued order (``get_nowait``) and its extras; None when none is queued."""
        while True:
            try:
                order = self.queue.get_nowait()
            except _queue_module.Empty:
                return None
            if order[1] is not _WAKE_SPARKLE:
                return self._run_order(order)

    def run(self) -> None:
        """Run orders (``get(timeout=...)``) and timers until ``stop``."""
        self.thread_id = get_ident()
        get = self.queue.get
        timers = self._inner.timers
        while not self._stopped:
            deadline = timers.next_deadline()
            timeout = None
            if deadline is not None:
                now = monotonic()
                if deadline <= now:
                    self._inner.fire_due(now)
                    continue
                timeout = min(deadline - now, _MAX_WAIT)
            try:
                order = get(timeout=timeout)
            except _queue_module.Empty:
                continue
            if order[1] is not _WAKE_SPARKLE:
                self._run_order(order)
            order = None  # an idle loop keeps no arguments alive

    def wake(self) -> None:
        """Make a ``get`` blocked on the queue return (``WAKE_ORDER``)."""
        self.queue.put(WAKE_ORDER)

    def stop(self) -> None:
        """End ``run`` after the order being run; safe from any thread."""
        self._stopped = True
        if self.thread_id != get_ident():
            self.wake()

    def close(self) -> None:
        """Drop what is queued and everything sent from now on (debug lines, never run)."""
        self._closed = True
        self.thread_id = None
        self.extra.clear()
        self._inner.close()
        self._drop_queued()

    def _drop_queued(self) -> None:
        for order in self.drain():
            _dropped(order.tonic, order.sparkle)

    def drain(self) -> list:
        """Remove and return the orders still queued, oldest first (as ``WorkOrder``)."""
        orders = []
        get_nowait = self.queue.get_nowait
        while True:
            try:
                order = get_nowait()
            except _queue_module.Empty:
                break
            if order[1] is not _WAKE_SPARKLE:
                orders.append(_loop.WorkOrder(order[0], order[1], order[2], order[3]))
        return orders


def execute_sparkle(tonic: Any, sparkle: Any, args: tuple, kwargs: dict) -> None:
    """``tonic._execute_sparkle``: run a work order taken from a catalyst queue, on its loop."""
    if sparkle is _WAKE_SPARKLE:
        return
    loop = _context.bound_loop()
    if not isinstance(loop, QueueLoop):
        raise RuntimeError("tasktonic: _execute_sparkle runs a work order taken from a catalyst "
                           "queue, inside that catalyst's sparkle() loop")
    loop.execute(tonic, sparkle, args, kwargs)
