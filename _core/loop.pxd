# C-level view of the compiled catalyst loop, shared with _core/dispatch.pyx (the queued-call
# path appends work orders straight into the rings below).
from cpython.ref cimport PyObject
from cpython.pythread cimport PyThread_type_lock

from tasktonic._core.timerheap cimport TimerHeap

# Relaxed atomic loads and stores for the fields other threads read or write without the inbox
# lock (lengths, counters, the thread id, the stop and closed flags): without the GIL a plain
# access would be a data race. They compile to plain moves on x86-64 and AArch64.
cdef extern from *:
    """
    #if defined(_MSC_VER)
    #define TT_LOAD_SSIZE(p) (*(volatile Py_ssize_t *)(p))
    #define TT_STORE_SSIZE(p, v) (*(volatile Py_ssize_t *)(p) = (v))
    #define TT_LOAD_ULONG(p) (*(volatile unsigned long *)(p))
    #define TT_STORE_ULONG(p, v) (*(volatile unsigned long *)(p) = (v))
    #define TT_LOAD_INT(p) (*(volatile int *)(p))
    #define TT_STORE_INT(p, v) (*(volatile int *)(p) = (v))
    #else
    #define TT_LOAD_SSIZE(p) __atomic_load_n((p), __ATOMIC_RELAXED)
    #define TT_STORE_SSIZE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
    #define TT_LOAD_ULONG(p) __atomic_load_n((p), __ATOMIC_RELAXED)
    #define TT_STORE_ULONG(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
    #define TT_LOAD_INT(p) __atomic_load_n((p), __ATOMIC_RELAXED)
    #define TT_STORE_INT(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
    #endif
    """
    Py_ssize_t TT_LOAD_SSIZE(Py_ssize_t* p) nogil
    void TT_STORE_SSIZE(Py_ssize_t* p, Py_ssize_t v) nogil
    unsigned long TT_LOAD_ULONG(unsigned long* p) nogil
    void TT_STORE_ULONG(unsigned long* p, unsigned long v) nogil
    int TT_LOAD_INT(int* p) nogil
    void TT_STORE_INT(int* p, int v) nogil


cdef struct Order:
    PyObject* tonic
    PyObject* entry
    PyObject* args
    PyObject* kwargs
    # 0 when the entry is borrowed: a sparkle call's own entry, held by the tonic's class,
    # which the order's tonic holds (no shared reference count touched per order)
    int owns_entry


cdef struct Ring:
    # A growable ring of work orders: the loop's own queue, or its inbox.
    Order* slots
    Py_ssize_t head
    Py_ssize_t count
    Py_ssize_t mask


cdef class SparkleEntry:
    cdef readonly str name
    cdef readonly object generic
    cdef readonly dict by_state
    cdef readonly tuple table
    cdef readonly bint system
    cdef object __weakref__


cdef class SparkleLoop:
    # Only the loop's thread touches _ring (pushes from its own sparkles, and batches moved
    # from the inbox); every other thread appends to _inbox under _inbox_lock, which also
    # guards _sleeping, _wake_pending and closing. A bounded loop keeps every order in the
    # inbox, so that its bound can drop the oldest.
    cdef Ring _ring
    cdef Ring _inbox
    cdef PyThread_type_lock _inbox_lock
    cdef unsigned long _thread_id
    cdef object _extra
    cdef readonly TimerHeap timers
    cdef public object tracer
    cdef object _on_error
    # The order being run, borrowed from whoever runs it (no reference count touched: shared
    # objects such as a class's SparkleEntry would bounce between cores without the GIL).
    cdef PyObject* _cur_tonic
    cdef PyObject* _cur_entry
    cdef PyObject* _cur_args
    cdef PyObject* _cur_kwargs
    cdef PyThread_type_lock _wakeup
    cdef int _sleeping
    cdef int _wake_pending
    cdef int _stopped
    cdef int _closed
    cdef readonly object bound
    cdef object __weakref__
    cdef Py_ssize_t _low_watch
    cdef public Py_ssize_t poll_every
    cdef Py_ssize_t _ran
    cdef Py_ssize_t _high

    cdef int push_order(self, object tonic, object entry, object args, object kwargs,
                        bint class_entry=*) except -1
    cdef int _push_bounded(self, object tonic, object entry, object args,
                           object kwargs) except -1
    cdef int _inbox_push(self, object tonic, object entry, object args,
                         object kwargs) except -1
    cdef void _lock(self) noexcept
    cdef void _unlock(self) noexcept
    cdef Py_ssize_t _waiting(self) noexcept
    cdef void _saw_waiting(self, Py_ssize_t waiting) noexcept
    cdef void _set_current(self, PyObject* tonic, PyObject* entry, PyObject* args,
                           PyObject* kwargs) noexcept
    cdef int _gather(self) except -1
    cdef bint _take(self, Order* order) noexcept
    cdef object _run_next(self, bint want_order)
    cdef int _execute(self, PyObject* tonic, PyObject* entry, PyObject* args,
                      PyObject* kwargs) except -1
    cpdef push_threadsafe(self, object tonic, object entry, object args, object kwargs)
    cpdef wake(self)
    cpdef wait(self, object timeout)
    cpdef block(self, object timeout)
    cpdef poll(self)
    cpdef run_extra(self)
