"""The catalyst's sparkle loop (pure twin of ``_core/loop.pyx``).

One loop per catalyst, run by the catalyst's thread. It owns the ready queue of work orders
``(tonic, entry, args, kwargs)`` and the extra-sparkle queue (state transitions), and fires the
catalyst's timers. The compiled twin must match this behaviour:

* ``push(order)`` appends from the loop's own thread (no lock, no wake: the loop is busy
  running the caller); ``push_threadsafe(tonic, entry, args, kwargs)`` copies the arguments
  (``copy_call``), appends and wakes the loop if it sleeps. Orders from one sender run in the
  order sent.
* Each pass runs the orders that were ready when the pass began; after every order it drains
  ``extra`` (on_exit, state change, on_enter of a ``to_state``) before the next order; after the
  pass it fires due timers (``timer._tt_expire(now)``, which queues the timer's sparkle).
* The handler is ``entry.table[tonic._tt_state]``; None means "nothing to run" (a completed
  tonic has state index -1, whose slot is always None, and its order is dropped with a debug
  line). ``current`` is the order being run (who is running, for base detection and logs).
* An ``Exception`` from a handler goes to ``on_error(tonic, entry, exc)`` and the loop goes on;
  ``BaseException`` (KeyboardInterrupt, SystemExit) leaves ``run``.
* With nothing ready it waits, without holding the GIL, until the next timer deadline or a
  ``push_threadsafe``. ``stop()`` (from any thread) ends ``run`` after the current order.
* ``tracer``, when not None, is called as ``tracer(tonic, entry, args, kwargs)`` before each
  order (FULL logging, the distiller); when None no trace work happens at all.
* ``step()`` runs one ready order with its extras and ``fire_due(now)`` fires due timers: the
  distiller drives a catalyst with them instead of ``run``.
* ``SparkleEntry`` is the sparkle part of a work order: its name and its handler per state.
* ``FINISHED_LOOP`` is a closed loop: a finished tonic points at it, and every order sent to it
  is dropped with a debug line (never an exception in the caller).

Subclasses (the selector catalyst) override ``block(timeout)`` and ``wake()`` only: ``wait``
keeps the protocol (mark sleeping, sleep only if nothing is ready) and calls ``block``; a
``wake`` that comes before ``block`` must make it return at once.
"""
from __future__ import annotations

import logging
from collections import deque
from threading import Event, get_ident
from time import monotonic
from typing import Any, Callable

from .copy import copy_call
from .timerheap import TimerHeap

__all__ = ["SparkleEntry", "SparkleLoop", "FINISHED_LOOP"]

_log = logging.getLogger("tasktonic")


class SparkleEntry:
    """One sparkle of one class: its name and its handler for every state."""

    __slots__ = ("name", "table", "by_state", "generic", "__weakref__")

    def __init__(self, name: str, generic: Callable | None, by_state: dict[str, Callable],
                 state_names: tuple[str, ...]) -> None:
        self.name = name
        self.generic = generic
        self.by_state = by_state
        self.table = ((generic,) + tuple(by_state.get(s, generic) for s in state_names)
                      + (None,))

    def __repr__(self) -> str:
        return f"<sparkle {self.name}>"

    def call_now(self, tonic: Any, args: tuple, kwargs: dict) -> Any:
        """Run the handler for ``tonic``'s active state synchronously (the ``super()`` path)."""
        handler = self.by_state.get(tonic._tt_state_name, self.generic)
        if handler is None:
            return None
        return handler(tonic, *args, **kwargs)


class SparkleLoop:
    """Ready queue, extra sparkles, timers and the wait of one catalyst."""

    def __init__(self, on_error: Callable[[Any, Any, Exception], None]) -> None:
        self._ready: deque = deque()
        self.push = self._ready.append  # shadows the method below: one call level less
        self.extra: deque = deque()
        self.timers = TimerHeap()
        self.thread_id: int | None = None
        self.current: tuple | None = None
        self.tracer: Callable | None = None
        self._on_error = on_error
        self._wakeup = Event()
        self._sleeping = False
        self._stopped = False
        self._closed = False

    def __len__(self) -> int:
        return len(self._ready)

    def push(self, order: tuple) -> None:
        """Append an order from the loop's own thread."""
        self._ready.append(order)

    def close(self) -> None:
        """From now on every order is dropped with a debug line (the loop of finished tonics)."""
        self._closed = True
        self.thread_id = None

    def push_threadsafe(self, tonic: Any, entry: Any, args: tuple, kwargs: dict) -> None:
        """Queue an order from another thread: copy the arguments, append, wake the loop."""
        if self._closed:
            _log.debug("dropped %s for finished tonic %s", entry.name, tonic)
            return
        if args or kwargs:
            args, kwargs = copy_call(args, kwargs)
        self._ready.append((tonic, entry, args, kwargs))
        if self._sleeping:
            self._sleeping = False
            self.wake()

    def wake(self) -> None:
        """Wake a loop sleeping in ``wait``; a wake before the sleep is not lost."""
        self._wakeup.set()

    def wait(self, timeout: float | None) -> None:
        """Sleep until ``wake`` or ``timeout`` seconds, unless an order is already ready."""
        self._sleeping = True
        try:
            if not self._ready and not self._stopped:
                self.block(timeout)
        finally:
            self._sleeping = False

    def block(self, timeout: float | None) -> None:
        """Wait for ``wake`` (or ``timeout``); what ``wait`` calls once nothing is ready."""
        self._wakeup.wait(timeout)
        self._wakeup.clear()

    def stop(self) -> None:
        """End ``run`` after the order being run; safe from any thread."""
        self._stopped = True
        self.wake()

    def run_extra(self) -> None:
        """Run the extra sparkles queued by the order just run (state transitions)."""
        extra = self.extra
        while extra:
            self._run_one(extra.popleft())

    def _run_one(self, order: tuple) -> None:
        tonic, entry, args, kwargs = order
        handler = entry.table[tonic._tt_state]
        if handler is None:
            if tonic._tt_state == -1:
                _log.debug("dropped %s for finished tonic %s", entry.name, tonic)
            return
        if self.tracer is not None:
            self.tracer(tonic, entry, args, kwargs)
        self.current = order
        try:
            handler(tonic, *args, **kwargs)
        except Exception as exc:
            self._on_error(tonic, entry, exc)

    def step(self) -> tuple | None:
        """Run the next ready order and its extra sparkles; None when nothing is ready."""
        if not self._ready:
            return None
        order = self._ready.popleft()
        self._run_one(order)
        self.run_extra()
        return order

    def fire_due(self, now: float) -> int:
        """Fire the timers due at ``now`` (each queues its sparkle); return how many."""
        due = self.timers.pop_due(now)
        for timer in due:
            timer._tt_expire(now)
        return len(due)

    def run(self) -> None:
        """Run orders and timers until ``stop``."""
        self.thread_id = get_ident()
        ready = self._ready
        extra = self.extra
        popleft = ready.popleft
        timers = self.timers
        on_error = self._on_error
        try:
            while not self._stopped:
                count = len(ready)
                tracer = self.tracer
                while count:
                    count -= 1
                    order = popleft()
                    tonic, entry, args, kwargs = order
                    handler = entry.table[tonic._tt_state]
                    if handler is not None:
                        if tracer is not None:
                            tracer(tonic, entry, args, kwargs)
                        self.current = order
                        try:
                            handler(tonic, *args, **kwargs)
                        except Exception as exc:
                            on_error(tonic, entry, exc)
                        if extra:
                            self.run_extra()
                    elif tonic._tt_state == -1:
                        _log.debug("dropped %s for finished tonic %s", entry.name, tonic)
                deadline = timers.next_deadline()
                timeout = None
                if deadline is not None:
                    now = monotonic()
                    if deadline <= now:
                        self.fire_due(now)
                        continue
                    timeout = deadline - now
                if not ready and not self._stopped:
                    self.wait(timeout)
        finally:
            self.current = None

    def drain(self) -> list:
        """Remove and return the orders still queued (used once the catalyst has finished)."""
        orders = list(self._ready)
        self._ready.clear()
        return orders


def _finished_loop() -> SparkleLoop:
    loop = SparkleLoop(lambda tonic, entry, exc: None)
    loop.close()
    return loop


#: Where a finished tonic's sparkles go: dropped, with a debug line.
FINISHED_LOOP = _finished_loop()
