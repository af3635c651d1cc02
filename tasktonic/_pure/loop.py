"""The catalyst's sparkle loop (pure twin of ``_core/loop.pyx``).

One loop per catalyst, run by the catalyst's thread. It owns the work orders: the ready
queue, the extra sparkles of the order being run (state transitions), and the catalyst's
timers. Only this module and its dispatch partner build work orders; everyone else reads them
as ``WorkOrder(tonic, sparkle, args, kwargs)``. The compiled twin must match this behaviour:

* Two queues: the loop's own, which only its thread touches, and an inbox for every other
  thread, guarded by one lock (with the sleeping flag and closing). ``push(order)`` appends the
  order ``(tonic, entry, args, kwargs)`` to the own queue from the loop's own thread (no lock,
  no wake: the loop is busy running the caller); only the dispatch twin calls it.
  ``push_threadsafe(tonic, entry, args, kwargs)`` copies the arguments (``copy_call``), appends
  to the inbox and wakes the loop if it sleeps; a copy that fails raises ``TypeError`` naming
  the sparkle and the tonic (the original error is its ``__cause__``). At the start of each
  pass the loop moves the whole inbox behind its own queue: orders from one thread run in the
  order sent; orders from different threads have no order between them.
* ``push_extra(tonic, entry, args)`` queues a system sparkle to run right after the order
  being run, before any other order (on_exit, state change, on_enter of a ``to_state``).
  ``run_now(tonic, entry, args)`` runs a sparkle at once, inside the running order, routed,
  traced and with its errors handled like any order (lifecycle hooks, timer callbacks).
* Each pass runs the orders that were ready when the pass began, each followed by its extras;
  after the pass it fires due timers (``timer._tt_expire(now)``, which queues the timer's
  sparkle).
* The handler is ``entry.table[tonic._tt_state]`` (an index outside the table is an
  ``IndexError``); None means "nothing to run" (a completed tonic has state index -1, whose slot
  is always None, and its order is dropped with a debug line). ``current`` is the order being
  run as a ``WorkOrder`` and ``current_tonic`` its tonic (who is running, for base detection
  and logs); both are None while the loop waits or fires its timers, so an idle loop keeps no
  arguments alive.
* An ``Exception`` from a handler goes to ``on_error(tonic, entry, exc)`` and the loop goes on;
  ``BaseException`` (KeyboardInterrupt, SystemExit) leaves ``run``.
* With nothing ready it waits until the next timer deadline or a ``push_threadsafe``, without
  holding the GIL, and a signal (Ctrl-C) in the main thread interrupts the wait at once.
  ``stop()`` (from any thread) ends ``run`` after the current order.
* ``tracer``, when not None, is called as ``tracer(tonic, entry, args, kwargs)`` before each
  order (FULL logging, the distiller); when None no trace work happens at all.
* ``step()`` runs one ready order with its extras and returns it as a ``WorkOrder``;
  ``fire_due(now)`` fires due timers: the distiller drives a catalyst with them instead of
  ``run``.
* ``close()`` (on the loop's thread, once its catalyst has completed) drops every queued order
  with a debug line and makes the loop closed: from then on every order sent to it, from any
  thread, is dropped the same way, never run and never kept. ``drain()`` (on the loop's thread,
  or while it does not run) removes and returns the queued orders without closing: the own
  queue's, then the inbox's. Queued orders are visible to the garbage collector.
* Without the GIL (free-threaded CPython) all of this holds as well: the own queue has one
  thread, the inbox and the flags have their lock, and what other threads read without it
  (lengths, counters, ``thread_id``, ``closed``) are single values read whole.
* ``SparkleEntry`` is the sparkle part of a work order: its name, its handler per state, and
  ``system`` (a lifecycle sparkle: it bypasses a queue bound).
* ``FINISHED_LOOP`` is a closed loop: a finished tonic points at it.
* A bound (``set_bound(bound)``, ``tasktonic/flow.py``; None, the default, means no bound)
  sees every order that is not ``system``, from any thread: the loop hands it to
  ``bound.push(loop, order)``, which appends it with ``append(order)`` or refuses
  it (``drop_oldest()`` removes the oldest non-system order for it). While ``low_watch`` is
  not -1, the loop calls ``bound.drained(loop)`` each time an order taken from the queue
  leaves ``low_watch`` or fewer waiting; ``close()`` calls ``bound.closed(loop)``. A bounded
  loop keeps every order (its own thread's too) in the inbox, in the order sent, and takes
  them one by one, so that ``drop_oldest`` sees every waiting order.
* Counters: ``ran`` (orders taken from the queue by ``run`` and ``step``) and ``high_water``
  (the most orders seen waiting: at the start of each pass, at each push from another thread
  and at each push through a bound). While ``run`` runs orders they may lag: they are exact
  whenever the loop waits, fires timers or has stopped, and otherwise at most one pass or 64
  orders behind.
* ``set_bound`` and ``poll_every`` are set before ``run`` starts: it reads them once.
* With ``poll_every = N`` (0, the default, means never) one pass runs at most N orders and
  ``poll()`` is called once N orders have run since the last wait or poll while more are
  ready: a selector loop looks at its sockets without waiting, so a busy loop cannot starve
  its I/O.

Subclasses (the selector catalyst) override ``block(timeout)``, ``wake()`` and ``poll()`` only:
``wait`` keeps the protocol (mark sleeping, sleep only if nothing is ready) and calls
``block``; a ``wake`` that comes before ``block`` must make it return at once (several such
wakes end one ``block`` only, like an Event that is set).
"""
from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from threading import Event, Lock, get_ident
from time import monotonic
from typing import Any

from .copy import copy_call
from .orders import SparkleEntry, WorkOrder
from .timerheap import TimerHeap

__all__ = ["WorkOrder", "SparkleEntry", "SparkleLoop", "FINISHED_LOOP"]

_log = logging.getLogger("tasktonic")


def _is_system(entry: Any) -> bool:
    return getattr(entry, "system", False)


def _dropped(tonic: Any, entry: Any) -> None:
    _log.debug("dropped %s for finished tonic %s", entry.name, tonic)


def _copy_error(tonic: Any, entry: Any, exc: Exception) -> TypeError:
    return TypeError(f"tasktonic: cannot copy the arguments of {entry.name} for tonic "
                     f"{getattr(tonic, 'name', tonic)!r} across threads: "
                     f"{type(exc).__name__}: {exc} (wrap an object that must be shared in "
                     "ttShared to hand it over by reference)")


class SparkleLoop:
    """Ready queue, extra sparkles, timers and the wait of one catalyst."""

    def __init__(self, on_error: Callable[[Any, Any, Exception], None]) -> None:
        self._ready: deque = deque()  # the loop's own queue: only its thread touches it
        self._inbox: deque = deque()  # from other threads (every order, on a bounded loop)
        # guards the inbox's appends and takes with the sleeping flag and closing
        self._inbox_lock = Lock()
        # Shadows the method below with the bound deque.append: one call level less per order.
        # mypy refuses assigning over a method; the signatures agree (one tuple, returns None).
        self.push = self._ready.append  # type: ignore[method-assign,assignment]
        self._extra: deque = deque()
        self.timers = TimerHeap()
        self.thread_id: int | None = None
        self._current: tuple | None = None
        self.tracer: Callable | None = None
        self._on_error = on_error
        self._wakeup = Event()
        self._sleeping = False
        self._stopped = False
        self._closed = False
        self.bound: Any = None
        self.low_watch = -1
        self.poll_every = 0
        self._ran = 0
        self._high = 0

    def __len__(self) -> int:
        return len(self._ready) + len(self._inbox)

    @property
    def current(self) -> WorkOrder | None:
        """The order being run, or None."""
        order = self._current
        return None if order is None else WorkOrder(*order)

    @property
    def current_tonic(self) -> Any:
        """The tonic whose order is being run, or None."""
        order = self._current
        return None if order is None else order[0]

    @property
    def closed(self) -> bool:
        """True once ``close`` ran: every order sent here is dropped."""
        return self._closed

    @property
    def ran(self) -> int:
        """How many orders ``run`` and ``step`` have taken from the queue."""
        return self._ran

    @property
    def high_water(self) -> int:
        """The most orders seen waiting."""
        return max(self._high, len(self))

    # -- queueing -------------------------------------------------------------------------
    def push(self, order: tuple) -> None:
        """Append an order from the loop's own thread."""
        self._ready.append(order)

    def _push_bounded(self, order: tuple) -> None:
        # ``push`` of a bounded loop: every order waits in the inbox, in the order sent, and
        # the bound sees it unless it is a system one
        if _is_system(order[1]):
            self._inbox_push(order)
        else:
            self.bound.push(self, order)

    def set_bound(self, bound: Any) -> None:
        """Put every non-system order through ``bound`` from now on (None: no bound)."""
        self.bound = bound
        # the shadowing bound method, as in __init__
        push: Callable[[tuple], None] = (
            self._ready.append if bound is None else self._push_bounded)
        self.push = push  # type: ignore[method-assign,assignment]

    def _inbox_push(self, order: tuple) -> None:
        """Append to the inbox and wake the loop if it sleeps; a closed loop drops it."""
        with self._inbox_lock:
            closed = self._closed
            if not closed:
                self._inbox.append(order)
                waiting = len(self)
                wake = self._sleeping
                self._sleeping = False
        if closed:
            _dropped(order[0], order[1])
            return
        if waiting > self._high:  # a lost race only loses a sample
            self._high = waiting
        if wake:
            self.wake()

    def append(self, order: tuple) -> None:
        """Append an order as it is: the bound's way in, under ``bound.lock``."""
        self._inbox_push(order)

    def drop_oldest(self) -> WorkOrder | None:
        """Remove and return the oldest order that is not a system one (None: there is none).

        The bound calls it under ``bound.lock``.
        """
        with self._inbox_lock:  # a bounded loop keeps every waiting order in the inbox
            inbox = self._inbox
            for index, order in enumerate(inbox):
                if not _is_system(order[1]):
                    del inbox[index]
                    return WorkOrder(*order)
        return None

    def push_threadsafe(self, tonic: Any, entry: Any, args: tuple, kwargs: dict) -> None:
        """Queue an order from another thread: copy the arguments, append, wake the loop."""
        if self._closed:
            _dropped(tonic, entry)
            return
        if args or kwargs:
            try:
                args, kwargs = copy_call(args, kwargs)
            except Exception as exc:
                raise _copy_error(tonic, entry, exc) from exc
        if self.bound is not None and not _is_system(entry):
            self.bound.push(self, (tonic, entry, args, kwargs))
        else:
            self._inbox_push((tonic, entry, args, kwargs))

    def push_extra(self, tonic: Any, entry: Any, args: tuple) -> None:
        """Queue a system sparkle to run right after the order being run."""
        self._extra.append((tonic, entry, args, {}))

    def run_now(self, tonic: Any, entry: Any, args: tuple) -> None:
        """Run a sparkle now, inside the running order: routed, traced, errors handled."""
        self._run_one((tonic, entry, args, {}))

    def close(self) -> None:
        """Drop what is queued and everything sent from now on (debug lines, never run)."""
        with self._inbox_lock:
            self._closed = True  # from here on the inbox takes nothing
        self.thread_id = None
        self._current = None
        for tonic, entry, _args, _kwargs in self.drain():
            _dropped(tonic, entry)
        if self.bound is not None:
            self.bound.closed(self)

    # -- waiting ---------------------------------------------------------------------------
    def wake(self) -> None:
        """Wake a loop sleeping in ``wait``; a wake before the sleep is not lost."""
        self._wakeup.set()

    def wait(self, timeout: float | None) -> None:
        """Sleep until ``wake`` or ``timeout`` seconds, unless an order is already ready."""
        self._current = None
        with self._inbox_lock:
            idle = not self._ready and not self._inbox and not self._stopped
            self._sleeping = idle  # a sender that appends from now on sees it, and wakes us
        if not idle:
            return
        try:
            self.block(timeout)
        finally:
            with self._inbox_lock:
                self._sleeping = False

    def block(self, timeout: float | None) -> None:
        """Wait for ``wake`` (or ``timeout``); what ``wait`` calls once nothing is ready."""
        self._wakeup.wait(timeout)
        self._wakeup.clear()

    def poll(self) -> None:
        """Look for I/O without waiting (a selector loop); a plain loop has none."""

    def stop(self) -> None:
        """End ``run`` after the order being run; safe from any thread."""
        self._stopped = True
        self.wake()

    # -- running ---------------------------------------------------------------------------
    def run_extra(self) -> None:
        """Run the extra sparkles queued by the order just run (state transitions)."""
        extra = self._extra
        while extra:
            self._run_one(extra.popleft())

    def _run_one(self, order: tuple) -> None:
        tonic, entry, args, kwargs = order
        handler = entry.table[tonic._tt_state]
        if handler is None:
            if tonic._tt_state == -1:
                _dropped(tonic, entry)
            return
        if self.tracer is not None:
            self.tracer(tonic, entry, args, kwargs)
        previous = self._current
        self._current = order
        try:
            handler(tonic, *args, **kwargs)
        except Exception as exc:
            self._on_error(tonic, entry, exc)
        finally:
            self._current = previous

    def _gather(self) -> None:
        """Move the inbox behind the loop's own queue (one lock for a whole batch)."""
        with self._inbox_lock:
            inbox = self._inbox
            self._ready.extend(inbox)
            inbox.clear()

    def _take_bounded(self) -> tuple:
        # a bounded loop's next order, from the inbox (IndexError: a bound dropped the rest);
        # then tell the bound if it asked
        with self._inbox_lock:
            order: tuple = self._inbox.popleft()
        if self.low_watch >= 0 and len(self) <= self.low_watch:
            self._current = None  # no order is current while the bound is told
            self.bound.drained(self)
        return order

    def step(self) -> WorkOrder | None:
        """Run the next ready order and its extra sparkles; None when nothing is ready."""
        if self.bound is None and self._inbox:
            self._gather()
        try:
            order = self._ready.popleft() if self.bound is None else self._take_bounded()
        except IndexError:
            return None
        self._ran += 1
        try:
            self._run_one(order)
            self.run_extra()
        finally:
            self._current = None
        return WorkOrder(*order)

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
        inbox = self._inbox
        extra = self._extra
        timers = self.timers
        on_error = self._on_error
        bounded = self.bound is not None
        queue = inbox if bounded else ready  # where this pass's orders are
        popleft = self._take_bounded if bounded else ready.popleft
        poll_every = self.poll_every
        since_poll = 0
        # The counters live in locals while orders run and are published every 64 orders and
        # whenever the loop pauses: an attribute store per pass, or an int above 256 (which
        # is allocated), costs a chain of sparkles 15%.
        ran = high = 0
        try:
            while not self._stopped:
                if inbox and not bounded:
                    self._gather()
                count = len(queue)
                if count > high:
                    high = count
                if poll_every and count > poll_every:
                    count = poll_every
                planned = count
                while count and not self._stopped:  # stop() ends run after this order
                    try:
                        order = popleft()
                    except IndexError:  # a bound dropped what was left of this pass
                        break
                    count -= 1
                    tonic, entry, args, kwargs = order
                    handler = entry.table[tonic._tt_state]
                    if handler is not None:
                        tracer = self.tracer  # read per order: a handler may set or clear it
                        if tracer is not None:
                            tracer(tonic, entry, args, kwargs)
                        self._current = order
                        try:
                            handler(tonic, *args, **kwargs)
                        except Exception as exc:
                            on_error(tonic, entry, exc)
                    elif tonic._tt_state == -1:
                        _dropped(tonic, entry)
                    if extra:
                        self.run_extra()
                ran += planned - count
                if ran >= 64:
                    ran, high = self._publish(ran, high)
                if poll_every:
                    since_poll += planned - count
                    if since_poll >= poll_every and len(self) and not self._stopped:
                        self._current = None
                        self.poll()
                        since_poll = 0
                # this frame must not keep the last order alive while timers fire or it waits
                order = tonic = entry = args = kwargs = handler = tracer = None
                deadline = timers.next_deadline()
                timeout = None
                if deadline is not None:
                    now = monotonic()
                    if deadline <= now:
                        self._current = None  # no order runs now
                        ran, high = self._publish(ran, high)
                        self.fire_due(now)
                        continue
                    timeout = deadline - now
                if not ready and not inbox and not self._stopped:
                    ran, high = self._publish(ran, high)
                    self.wait(timeout)
                    since_poll = 0
        finally:
            self._current = None
            self._publish(ran, high)

    def _publish(self, ran: int, high: int) -> tuple[int, int]:
        # run()'s counters into the attributes that ``ran`` and ``high_water`` read
        self._ran += ran
        if high > self._high:
            self._high = high
        return 0, 0

    def drain(self) -> list[WorkOrder]:
        """Remove and return the orders still queued, oldest first (the loop's own queue, then
        its inbox); on the loop's thread, or while the loop does not run."""
        orders = [WorkOrder(*order) for order in self._ready]
        self._ready.clear()
        with self._inbox_lock:
            orders += [WorkOrder(*order) for order in self._inbox]
            self._inbox.clear()
        return orders


def _finished_loop() -> SparkleLoop:
    loop = SparkleLoop(lambda tonic, entry, exc: None)
    loop.close()
    return loop


#: Where a finished tonic's sparkles go: dropped, with a debug line.
FINISHED_LOOP = _finished_loop()
