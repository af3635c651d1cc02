"""Flow control: the bound of a catalyst's queue and what happens to an order that finds it full.

A catalyst made with ``max_queue=N`` (or under the formula keys ``tasktonic/queue/max`` and
``tasktonic/queue/overflow``) lets at most N work orders wait. Its loop hands every order that
is not a system one (finish, on_start, state transitions, timers' deliveries, service
bookkeeping: ``SparkleEntry.system``) to ``QueueBound.push``, which appends it while there is
room, else applies the catalyst's ``overflow`` policy:

* ``'block'``: the sender waits until the queue has drained to its low water mark, at most
  ``block_timeout`` seconds (then ``ttQueueFull``). A sender that must not wait is admitted
  over the bound instead: the catalyst's own thread (it would wait for itself), and anyone
  while the catalyst's loop does not run yet. A wait that would close a cycle of catalysts
  waiting for each other raises ``ttQueueFull`` at once instead of deadlocking.
* ``'drop_newest'``: the new order is dropped; ``'drop_oldest'``: the oldest waiting order
  that is not a system one is dropped and the new one queued.
* ``'raise'``: ``ttQueueFull`` in the sender, naming the catalyst, the tonic and the sparkle.
* ``'signal'``: the order is queued; the sending tonic (if any) gets
  ``ttse__on_queue_high(catalyst)`` once, and ``ttse__on_queue_low(catalyst)`` when the queue
  has drained to the low water mark (asyncio's ``pause_writing`` / ``resume_writing``).

The same policy holds for every sender, the catalyst's own thread included, except that
``'block'`` never blocks there. Drops are counted (``catalyst.stats()``) and logged as one
warning when a burst begins and one when it ends (the queue drained or the catalyst closed).

Thread safety: one lock per bound guards the admission (check and append in one step), the
counters, and the waiting senders; the loop takes it too where its queue needs it (the pure
twin). Nothing holds it while other code runs: signals are sent and warnings logged (a
logging handler may send sparkles) after it is released.
"""
from __future__ import annotations

import logging
import math
import threading
from time import monotonic
from typing import Any, NamedTuple

from . import _context
from .errors import ttError

__all__ = ["OVERFLOW_POLICIES", "QueueBound", "QueueStats", "ttQueueFull"]

OVERFLOW_POLICIES = ("block", "drop_newest", "drop_oldest", "raise", "signal")

_log = logging.getLogger("tasktonic")

#: Which loop each blocked sender's thread waits for (thread id -> loop): deadlock detection.
_waiting_for: dict[int, Any] = {}
_waiting_lock = threading.Lock()


class ttQueueFull(ttError):
    """A bounded catalyst refused a work order (``'raise'``, or ``'block'`` that timed out or
    would deadlock)."""

    def __init__(self, catalyst: str, tonic: str, sparkle: str, max_queue: int,
                 reason: str) -> None:
        super().__init__(f"tasktonic: catalyst {catalyst!r} is full (max_queue={max_queue}): "
                         f"{sparkle} for tonic {tonic!r} {reason}")
        self.catalyst = catalyst
        self.tonic = tonic
        self.sparkle = sparkle
        self.max_queue = max_queue


class QueueStats(NamedTuple):
    """What a catalyst's queue has seen (``catalyst.stats()``)."""

    queued: int          #: orders waiting now
    high_water: int      #: the most orders seen waiting
    dropped: int         #: orders dropped by the overflow policy
    run: int             #: orders taken from the queue and run
    blocked: int         #: senders waiting for room now (``'block'``)
    max_queue: int | None
    overflow: str | None


def _name(obj: Any) -> str:
    return str(getattr(obj, "name", obj))


def check_bound_settings(owner: str, max_queue: Any, overflow: Any,
                         block_timeout: Any) -> None:
    """Raise a clear error for settings a bound cannot have (``owner`` names the catalyst)."""
    if max_queue is not None and (type(max_queue) is not int or max_queue < 1):
        raise ValueError(f"tasktonic: max_queue of catalyst {owner!r} must be an int >= 1 or "
                         f"None (unbounded), got {max_queue!r}")
    if overflow not in OVERFLOW_POLICIES:
        raise ValueError(f"tasktonic: overflow of catalyst {owner!r} must be one of "
                         f"{', '.join(OVERFLOW_POLICIES)}; got {overflow!r}")
    if block_timeout is not None and (
            isinstance(block_timeout, bool) or not isinstance(block_timeout, (int, float))
            or not math.isfinite(block_timeout) or block_timeout <= 0):
        raise ValueError(f"tasktonic: block_timeout of catalyst {owner!r} must be a finite "
                         f"number of seconds > 0 or None, got {block_timeout!r}")


class QueueBound:
    """The bound of one catalyst's queue: admission, the overflow policy, the drop count."""

    def __init__(self, catalyst: Any, max_queue: int, overflow: str = "block",
                 block_timeout: float | None = None) -> None:
        check_bound_settings(_name(catalyst), max_queue, overflow, block_timeout)
        self.catalyst = catalyst
        self.max_queue = max_queue
        self.overflow = overflow
        self.block_timeout = block_timeout
        #: Below this many waiting orders blocked senders resume and ``on_queue_low`` is sent.
        self.low_water = max_queue // 4
        self.lock = threading.Lock()
        self._room = threading.Condition(self.lock)
        self.dropped = 0
        self._burst = 0       # orders dropped since the burst began (0: no burst)
        self._waiters = 0     # senders blocked in push
        self._told: dict[int, Any] = {}  # tonics told on_queue_high, by id()

    @property
    def blocked(self) -> int:
        """How many senders wait for room now."""
        return self._waiters

    # -- what the loop calls -------------------------------------------------------------
    def push(self, loop: Any, order: tuple) -> None:
        """Admit ``order`` (appended with ``loop.append``) or apply the overflow policy."""
        high_to = None
        notes: list[tuple] = []
        with self.lock:
            if len(loop) < self.max_queue:
                loop.append(order)
                return
            policy = self.overflow
            if policy == "signal":
                loop.append(order)
                sender = _context.current_tonic()
                if sender is not None and id(sender) not in self._told:
                    self._told[id(sender)] = high_to = sender
                    loop.low_watch = self.low_water
            elif policy == "drop_newest":
                self._drop(loop, order, notes)
            elif policy == "drop_oldest":
                oldest = loop.drop_oldest()
                if oldest is None:  # only system orders wait: the new one goes
                    self._drop(loop, order, notes)
                else:
                    loop.append(order)
                    self._drop(loop, oldest, notes)
            elif policy == "raise":
                raise self._full(order, "refused (overflow='raise')")
            elif loop.thread_id in (None, threading.get_ident()):
                loop.append(order)  # 'block', but this sender must not wait
            else:
                self._wait_for_room(loop, order)
        _emit(notes)
        if high_to is not None:
            high_to.ttse__on_queue_high(self.catalyst)

    def drained(self, loop: Any) -> None:
        """The queue has drained to ``loop.low_watch``: wake senders, end a burst, signal."""
        notes: list[tuple] = []
        with self.lock:
            if len(loop) > self.low_water:  # refilled meanwhile: the next order asks again
                return
            loop.low_watch = -1
            if self._waiters:
                self._room.notify_all()
            self._end_burst("drained", notes)
            told = list(self._told.values())
            self._told.clear()
        _emit(notes)
        for tonic in told:
            tonic.ttse__on_queue_low(self.catalyst)

    def closed(self, loop: Any) -> None:
        """The loop has closed: blocked senders return (their orders are dropped)."""
        notes: list[tuple] = []
        with self.lock:
            loop.low_watch = -1
            self._room.notify_all()
            self._end_burst("finished", notes)
            self._told.clear()
        _emit(notes)

    # -- inside ---------------------------------------------------------------------------
    def _full(self, order: tuple, reason: str) -> ttQueueFull:
        return ttQueueFull(_name(self.catalyst), _name(order[0]), _name(order[1]),
                           self.max_queue, reason)

    def _drop(self, loop: Any, order: tuple, notes: list[tuple]) -> None:
        self.dropped += 1
        if not self._burst:
            notes.append(("tasktonic: catalyst %r is full (max_queue=%d, overflow=%r): dropping "
                          "orders, the first %s for tonic %r; a count follows when it drains",
                          _name(self.catalyst), self.max_queue, self.overflow,
                          _name(order[1]), _name(order[0])))
            loop.low_watch = self.low_water
        self._burst += 1

    def _end_burst(self, why: str, notes: list[tuple]) -> None:
        if self._burst:
            notes.append(("tasktonic: catalyst %r dropped %d orders (overflow=%r) before it %s",
                          _name(self.catalyst), self._burst, self.overflow, why))
            self._burst = 0

    def _wait_for_room(self, loop: Any, order: tuple) -> None:
        # Called with the lock held; the Condition releases it while waiting.
        me = threading.get_ident()
        with _waiting_lock:
            target = loop
            seen = 0
            while target is not None and seen < 1000:
                if target.thread_id == me:
                    raise self._full(order, "would wait for a catalyst that waits for this "
                                            "thread (overflow='block' deadlock)")
                target = _waiting_for.get(target.thread_id)
                seen += 1
            _waiting_for[me] = loop
        deadline = None if self.block_timeout is None else monotonic() + self.block_timeout
        self._waiters += 1
        try:
            # low_watch is set before each look at the length: a compiled loop takes orders
            # without this lock, and must see it once it drains below
            loop.low_watch = self.low_water
            while len(loop) >= self.max_queue and not loop.closed:
                remaining = None if deadline is None else deadline - monotonic()
                if remaining is not None and remaining <= 0:
                    raise self._full(order, f"not queued within block_timeout="
                                            f"{self.block_timeout:g} s")
                self._room.wait(remaining)
                loop.low_watch = self.low_water
        finally:
            self._waiters -= 1
            with _waiting_lock:
                _waiting_for.pop(me, None)
        if loop.closed:
            _log.debug("dropped %s for finished tonic %s", _name(order[1]), order[0])
            return
        loop.append(order)


def _emit(notes: list[tuple]) -> None:
    for message, *args in notes:
        _log.warning(message, *args)
