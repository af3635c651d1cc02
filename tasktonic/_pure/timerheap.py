"""The timer heap of one catalyst (pure twin of ``_core/timerheap.pyx``).

A binary min-heap of ``[deadline, sequence, timer]`` entries on the monotonic clock. Starting a
timer is a push (O(log n)); stopping it marks its entry cancelled (O(1)) and the heap drops
cancelled entries lazily when they reach the top, compacting itself when more than half of it
is cancelled (the scheme of CPython's asyncio event loop). The sequence number makes equal
deadlines fire in start order. The compiled twin must match:

* ``push(deadline, timer) -> handle``; ``cancel(handle)``; ``next_deadline() -> float | None``;
  ``pop_due(now) -> list`` of the timers whose deadline is ``<= now``, earliest first;
  ``len(heap)`` counts live (not cancelled) entries;
* a handle is the entry itself; cancelling twice, or after it fired, does nothing.

Only the owning catalyst's thread touches its heap.
"""
from __future__ import annotations

from heapq import heapify, heappop, heappush
from typing import Any

__all__ = ["TimerHeap"]


class TimerHeap:
    """Binary heap of timers with lazy cancellation."""

    __slots__ = ("_heap", "_sequence", "_cancelled")

    def __init__(self) -> None:
        self._heap: list[list] = []
        self._sequence = 0
        self._cancelled = 0

    def __len__(self) -> int:
        return len(self._heap) - self._cancelled

    def push(self, deadline: float, timer: Any) -> list:
        """Schedule ``timer`` at ``deadline``; return the handle that ``cancel`` takes."""
        if timer is None:
            raise TypeError("push() needs a timer, not None (None marks a cancelled entry)")
        self._sequence += 1
        entry = [deadline, self._sequence, timer]
        heappush(self._heap, entry)
        return entry

    def cancel(self, handle: list) -> None:
        """Cancel a scheduled entry; a no-op for one already cancelled or fired."""
        if handle[2] is None:
            return
        handle[2] = None
        self._cancelled += 1
        if self._cancelled * 2 > len(self._heap) and self._cancelled > 32:
            self._heap = [entry for entry in self._heap if entry[2] is not None]
            heapify(self._heap)
            self._cancelled = 0

    def next_deadline(self) -> float | None:
        """The earliest live deadline, or None when nothing is scheduled."""
        heap = self._heap
        while heap and heap[0][2] is None:
            heappop(heap)
            self._cancelled -= 1
        return heap[0][0] if heap else None

    def pop_due(self, now: float) -> list:
        """Remove and return the timers due at ``now``, earliest deadline first."""
        heap = self._heap
        due = []
        while heap and heap[0][0] <= now:
            entry = heappop(heap)
            timer = entry[2]
            if timer is None:
                self._cancelled -= 1
                continue
            entry[2] = None  # a fired handle behaves as cancelled
            due.append(timer)
        return due
