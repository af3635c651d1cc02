# C-level view of the compiled catalyst loop, shared with _core/dispatch.pyx (the queued-call
# path appends work orders straight into the ring below).
from cpython.ref cimport PyObject
from cpython.pythread cimport PyThread_type_lock

from tasktonic._core.timerheap cimport TimerHeap


cdef struct Order:
    PyObject* tonic
    PyObject* entry
    PyObject* args
    PyObject* kwargs


cdef class SparkleEntry:
    cdef readonly str name
    cdef readonly object generic
    cdef readonly dict by_state
    cdef readonly tuple table
    cdef readonly bint system
    cdef object __weakref__


cdef class SparkleLoop:
    cdef Order* _ring
    cdef Py_ssize_t _head
    cdef Py_ssize_t _count
    cdef Py_ssize_t _mask
    cdef unsigned long _thread_id
    cdef object _extra
    cdef readonly TimerHeap timers
    cdef public object tracer
    cdef object _on_error
    cdef object _cur_tonic
    cdef object _cur_entry
    cdef object _cur_args
    cdef object _cur_kwargs
    cdef PyThread_type_lock _wakeup
    cdef bint _sleeping
    cdef bint _wake_pending
    cdef bint _stopped
    cdef bint _closed
    cdef readonly object bound
    cdef object __weakref__
    cdef public Py_ssize_t low_watch
    cdef public Py_ssize_t poll_every
    cdef unsigned long long _ran
    cdef Py_ssize_t _high

    cdef int push_order(self, object tonic, object entry, object args, object kwargs) except -1
    cdef int _append_order(self, object tonic, object entry, object args,
                           object kwargs) except -1
    cdef int _push_bounded(self, object tonic, object entry, object args,
                           object kwargs) except -1
    cdef int _grow(self) except -1
    cdef Order _pop(self)
    cdef void _clear_ring(self) noexcept
    cdef void _set_current(self, object tonic, object entry, object args,
                           object kwargs) noexcept
    cdef object _run_next(self, bint want_order)
    cdef int _execute(self, object tonic, object entry, object args, object kwargs) except -1
    cpdef push_threadsafe(self, object tonic, object entry, object args, object kwargs)
    cpdef wake(self)
    cpdef wait(self, object timeout)
    cpdef block(self, object timeout)
    cpdef poll(self)
    cpdef run_extra(self)
