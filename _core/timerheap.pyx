# cython: language_level=3, boundscheck=False, wraparound=False
"""The timer heap of one catalyst (compiled twin of ``tasktonic/_pure/timerheap.py``).

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
# Implementation notes (not part of the contract above, which is shared with the pure twin):
#
# * An entry is a ``TimerHandle`` (C double deadline, C long long sequence, the timer object)
#   instead of a 3-item list; ``timer`` None marks it cancelled or fired, as in the pure twin.
# * The heap is a Python list of handles; the sift-up/sift-down below are heapq's algorithms
#   (same comparisons, same moves, so the same layout as the pure twin's list), comparing
#   the C doubles and then the sequence numbers through raw item pointers: no rich
#   comparisons and no reference-count traffic. A deadline is stored as a C double, so
#   ``next_deadline()`` returns a float where the pure twin returns what was pushed (an int
#   deadline 5 comes back as 5.0, which compares equal).
cimport cython
from cpython.object cimport PyObject
from cpython.list cimport PyList_GET_SIZE

__all__ = ["TimerHeap"]

cdef extern from "Python.h":
    ctypedef struct PyListObject:
        PyObject **ob_item


cdef inline bint _lt(PyObject* a, PyObject* b) noexcept:
    """``a < b`` on (deadline, sequence): the order of the pure twin's list entries."""
    cdef double da = (<TimerHandle>a).deadline
    cdef double db = (<TimerHandle>b).deadline
    return da < db or (da == db and (<TimerHandle>a).seq < (<TimerHandle>b).seq)


cdef inline void _siftdown(list heap, Py_ssize_t startpos, Py_ssize_t pos) noexcept:
    # heapq._siftdown: move the item at ``pos`` up towards ``startpos``.
    cdef PyObject** items = (<PyListObject*>heap).ob_item
    cdef PyObject* newitem = items[pos]
    cdef PyObject* parent
    cdef Py_ssize_t parentpos
    while pos > startpos:
        parentpos = (pos - 1) >> 1
        parent = items[parentpos]
        if _lt(newitem, parent):
            items[pos] = parent
            pos = parentpos
            continue
        break
    items[pos] = newitem


cdef inline void _siftup(list heap, Py_ssize_t pos) noexcept:
    # heapq._siftup: bubble the smaller child up to a leaf, then sift ``newitem`` down there.
    cdef PyObject** items = (<PyListObject*>heap).ob_item
    cdef Py_ssize_t endpos = PyList_GET_SIZE(heap)
    cdef Py_ssize_t startpos = pos
    cdef PyObject* newitem = items[pos]
    cdef Py_ssize_t childpos = 2 * pos + 1
    cdef Py_ssize_t rightpos
    while childpos < endpos:
        rightpos = childpos + 1
        if rightpos < endpos and not _lt(items[childpos], items[rightpos]):
            childpos = rightpos
        items[pos] = items[childpos]
        pos = childpos
        childpos = 2 * pos + 1
    items[pos] = newitem
    _siftdown(heap, startpos, pos)


cdef TimerHandle _heappop(list heap):
    # heapq.heappop; the caller checked that ``heap`` is not empty.
    cdef TimerHandle last = heap.pop()
    cdef TimerHandle first
    if PyList_GET_SIZE(heap):
        first = heap[0]
        heap[0] = last
        _siftup(heap, 0)
        return first
    return last


cdef int _heapify(list heap) except -1:
    # heapq.heapify
    cdef Py_ssize_t i = PyList_GET_SIZE(heap) // 2
    while i > 0:
        i -= 1
        _siftup(heap, i)
    return 0


@cython.final
@cython.freelist(256)
cdef class TimerHandle:
    """One scheduled entry: the handle that ``TimerHeap.push`` returns and ``cancel`` takes."""

    def __repr__(self):
        state = "live" if self.timer is not None else "cancelled or fired"
        return f"<TimerHandle deadline={self.deadline!r} seq={self.seq} {state}>"


cdef class TimerHeap:
    """Binary heap of timers with lazy cancellation."""

    def __cinit__(self):
        self._heap = []
        self._sequence = 0
        self._cancelled = 0

    def __len__(self):
        cdef Py_ssize_t live = PyList_GET_SIZE(self._heap) - self._cancelled
        if live < 0:
            # Only reachable the way the pure twin reaches it (a timer that is None);
            # same error as a Python ``__len__`` returning a negative number.
            raise ValueError("__len__() should return >= 0")
        return live

    cpdef TimerHandle push(self, double deadline, object timer):
        """Schedule ``timer`` at ``deadline``; return the handle that ``cancel`` takes."""
        if timer is None:
            raise TypeError("push() needs a timer, not None (None marks a cancelled entry)")
        cdef TimerHandle entry = TimerHandle.__new__(TimerHandle)
        self._sequence += 1
        entry.deadline = deadline
        entry.seq = self._sequence
        entry.timer = timer
        self._heap.append(entry)
        _siftdown(self._heap, 0, PyList_GET_SIZE(self._heap) - 1)
        return entry

    cpdef cancel(self, TimerHandle handle):
        """Cancel a scheduled entry; a no-op for one already cancelled or fired."""
        if handle is None:
            raise TypeError("cancel() takes a handle returned by push(), not None")
        if handle.timer is None:
            return
        handle.timer = None
        self._cancelled += 1
        if self._cancelled * 2 > PyList_GET_SIZE(self._heap) and self._cancelled > 32:
            self._compact()

    cdef int _compact(self) except -1:
        cdef list live = [entry for entry in self._heap
                          if (<TimerHandle>entry).timer is not None]
        _heapify(live)
        self._heap = live
        self._cancelled = 0
        return 0

    cpdef object next_deadline(self):
        """The earliest live deadline, or None when nothing is scheduled."""
        cdef list heap = self._heap
        while PyList_GET_SIZE(heap) and (<TimerHandle>heap[0]).timer is None:
            _heappop(heap)
            self._cancelled -= 1
        if PyList_GET_SIZE(heap):
            return (<TimerHandle>heap[0]).deadline
        return None

    cpdef list pop_due(self, double now):
        """Remove and return the timers due at ``now``, earliest deadline first."""
        cdef list heap = self._heap
        cdef list due = []
        cdef TimerHandle entry
        cdef object timer
        while PyList_GET_SIZE(heap) and (<TimerHandle>heap[0]).deadline <= now:
            entry = _heappop(heap)
            timer = entry.timer
            if timer is None:
                self._cancelled -= 1
                continue
            entry.timer = None  # a fired handle behaves as cancelled
            due.append(timer)
        return due
