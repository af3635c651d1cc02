# cython: language_level=3
# C-level declarations of tasktonic._core.timerheap, for other compiled modules:
#     from tasktonic._core.timerheap cimport TimerHeap, TimerHandle
# The methods below are cpdef: a typed ``TimerHeap`` reference calls them at C level.

cdef class TimerHandle:
    # One scheduled entry. ``timer`` is None once the entry is cancelled or has fired.
    cdef readonly double deadline
    cdef readonly long long seq
    cdef readonly object timer


cdef class TimerHeap:
    cdef list _heap              # TimerHandle objects, a binary min-heap on (deadline, seq)
    cdef long long _sequence     # last sequence number handed out
    cdef Py_ssize_t _cancelled   # cancelled entries still in _heap

    cpdef TimerHandle push(self, double deadline, object timer)
    cpdef cancel(self, TimerHandle handle)
    cpdef object next_deadline(self)
    cpdef list pop_due(self, double now)
    cdef int _compact(self) except -1
