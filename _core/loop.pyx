# cython: language_level=3
"""The catalyst's sparkle loop (compiled twin of ``tasktonic/_pure/loop.py``).

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
# Here both queues are rings of C structs (no tuple per order), the handler is called with
# vectorcall, and the wait is a lock acquired with the GIL released, released by ``wake``. The
# type's GC slots are extended at import so that the collector sees (and can clear) the rings.
# The module declares itself free-threading compatible (setup.py): see _core/loop.pxd.

import logging
from collections import deque
from time import monotonic

from tasktonic._pure.orders import WorkOrder

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.pythread cimport (PyThread_acquire_lock, PyThread_allocate_lock,
                               PyThread_free_lock, PyThread_release_lock, PyThread_type_lock)
from cpython.object cimport PyTypeObject
from cpython.ref cimport Py_DECREF, Py_INCREF, Py_XDECREF, PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE

from tasktonic._core.copy cimport _copy_call
from tasktonic._core.copy import copy_call
from tasktonic._core.timerheap cimport TimerHeap

__all__ = ["WorkOrder", "SparkleEntry", "SparkleLoop", "FINISHED_LOOP"]

cdef extern from "Python.h":
    # Borrowed-pointer forms for _execute (no reference counts touched).
    bint tt_type_check "PyObject_TypeCheck"(PyObject* obj, PyTypeObject* kind)
    Py_ssize_t tt_tuple_size "PyTuple_GET_SIZE"(PyObject* t)
    PyObject* tt_tuple_item "PyTuple_GET_ITEM"(PyObject* t, Py_ssize_t i)
    object tt_vectorcall "PyObject_Vectorcall"(PyObject* callable, PyObject** args,
                                               size_t nargsf, PyObject* kwnames)
    object tt_vectorcall_dict "PyObject_VectorcallDict"(PyObject* callable, PyObject** args,
                                                        size_t nargs, PyObject* kwargs)
    unsigned long PyThread_get_thread_ident()
    int PyThread_acquire_lock_timed(PyThread_type_lock lock, long long microseconds,
                                    int intr_flag) nogil
    int PY_LOCK_INTR
    int PY_LOCK_ACQUIRED
    int PyErr_CheckSignals() except -1
    Py_ssize_t PyDict_GET_SIZE(object d)
    ctypedef int (*visitproc_t "visitproc")(PyObject*, void*) noexcept
    ctypedef int (*traverseproc_t "traverseproc")(PyObject*, visitproc_t, void*) noexcept
    ctypedef int (*inquiry_t "inquiry")(PyObject*) noexcept
    ctypedef struct PyTypeObject_gc "PyTypeObject":
        traverseproc_t tp_traverse
        inquiry_t tp_clear

cdef object _log = logging.getLogger("tasktonic")
cdef enum:
    MAX_STACK_ARGS = 8        # handlers with more positional arguments take the slow call
    INITIAL_RING = 64         # work-order slots; the ring doubles when full
# Wake at least hourly: a far timer never overflows the lock's timeout.
cdef long long MAX_WAIT_MICROS = 3600LL * 1000000LL


cdef class SparkleEntry:
    """One sparkle of one class: its name and its handler for every state."""

    def __init__(self, str name, object generic, dict by_state, tuple state_names,
                 bint system=False):
        self.name = name
        self.system = system
        self.generic = generic
        self.by_state = by_state
        self.table = ((generic,) + tuple([by_state.get(s, generic) for s in state_names])
                      + (None,))

    def __repr__(self):
        return f"<sparkle {self.name}>"

    def call_now(self, tonic, tuple args, dict kwargs):
        """Run the handler for ``tonic``'s active state synchronously (the ``super()`` path)."""
        handler = self.by_state.get(tonic._tt_state_name, self.generic)
        if handler is None:
            return None
        return handler(tonic, *args, **kwargs)


cdef inline object _kwargs(object kwargs):
    # The ring stores None for "no keyword arguments" (no empty dict kept per order).
    return {} if kwargs is None else kwargs


cdef inline object _as_args(object args):
    # The ring holds a tuple (or a tuple subclass): _execute reads it with the tuple macros.
    return args if isinstance(args, tuple) else tuple(args)


cdef inline object _as_kwargs(object kwargs):
    # None (no keyword arguments) or a dict: _execute reads it with the dict macros.
    return kwargs if kwargs is None or isinstance(kwargs, dict) else dict(kwargs)


cdef inline bint _is_system(object entry):
    if isinstance(entry, SparkleEntry):
        return (<SparkleEntry>entry).system
    return getattr(entry, "system", False)


cdef inline bint _is_system_entry(PyObject* entry) noexcept:
    # drop_oldest's test, under the inbox lock: a real entry's flag, no Python code
    return isinstance(<object>entry, SparkleEntry) and (<SparkleEntry><object>entry).system


cdef inline void _dropped(object tonic, object entry):
    _log.debug("dropped %s for finished tonic %s", entry.name, tonic)


cdef object _copy_error(object tonic, object entry, object exc):
    return TypeError(f"tasktonic: cannot copy the arguments of {entry.name} for tonic "
                     f"{getattr(tonic, 'name', tonic)!r} across threads: "
                     f"{type(exc).__name__}: {exc} (wrap an object that must be shared in "
                     "ttShared to hand it over by reference)")


# -- a ring of work orders (the loop's own queue, and its inbox) ------------------------------
cdef int ring_init(Ring* ring) except -1:
    ring.slots = <Order*>PyMem_Malloc(INITIAL_RING * sizeof(Order))
    if ring.slots is NULL:
        raise MemoryError()
    ring.mask = INITIAL_RING - 1
    ring.head = 0
    ring.count = 0
    return 0


cdef int ring_grow(Ring* ring) except -1:
    cdef Py_ssize_t size = ring.mask + 1
    cdef Py_ssize_t i
    cdef Order* slots = <Order*>PyMem_Malloc(2 * size * sizeof(Order))
    if slots is NULL:
        raise MemoryError()
    for i in range(ring.count):
        slots[i] = ring.slots[(ring.head + i) & ring.mask]
    PyMem_Free(ring.slots)
    ring.slots = slots
    ring.head = 0
    ring.mask = 2 * size - 1
    return 0


cdef inline int ring_push(Ring* ring, object tonic, object entry, object args,
                          object kwargs, bint owns_entry=True) except -1:
    if ring.count > ring.mask:
        ring_grow(ring)
    cdef Order* order = &ring.slots[(ring.head + ring.count) & ring.mask]
    Py_INCREF(tonic)
    if owns_entry:
        Py_INCREF(entry)
    Py_INCREF(args)
    Py_INCREF(kwargs)
    order.owns_entry = owns_entry
    order.tonic = <PyObject*>tonic
    order.entry = <PyObject*>entry
    order.args = <PyObject*>args
    order.kwargs = <PyObject*>kwargs
    TT_STORE_SSIZE(&ring.count, ring.count + 1)
    return 0


cdef inline Order ring_pop(Ring* ring) noexcept:
    # The caller owns the four references of the returned order.
    cdef Order order = ring.slots[ring.head]
    ring.head = (ring.head + 1) & ring.mask
    TT_STORE_SSIZE(&ring.count, ring.count - 1)
    return order


cdef int ring_move_all(Ring* into, Ring* source) except -1:
    # Append every order of source to into, references and all; source ends empty.
    while into.count + source.count > into.mask + 1:
        ring_grow(into)
    while source.count:
        into.slots[(into.head + into.count) & into.mask] = ring_pop(source)
        TT_STORE_SSIZE(&into.count, into.count + 1)
    return 0


cdef inline void order_release(Order order) noexcept:
    Py_XDECREF(order.tonic)
    if order.owns_entry:
        Py_XDECREF(order.entry)
    Py_XDECREF(order.args)
    Py_XDECREF(order.kwargs)


cdef void ring_clear(Ring* ring) noexcept:
    # Release every queued order's references (dealloc, close, the collector's tp_clear).
    while ring.count:
        order_release(ring_pop(ring))


cdef void ring_free(Ring* ring) noexcept:
    if ring.slots is not NULL:
        ring_clear(ring)
        PyMem_Free(ring.slots)
        ring.slots = NULL


cdef inline object order_as_work_order(Order order):
    return WorkOrder(<object>order.tonic, <object>order.entry, <object>order.args,
                     _kwargs(<object>order.kwargs))


cdef int ring_traverse(Ring* ring, visitproc_t visit, void* arg) noexcept:
    cdef Py_ssize_t i
    cdef Order* order
    cdef int result
    if ring.slots is NULL:
        return 0
    for i in range(ring.count):
        order = &ring.slots[(ring.head + i) & ring.mask]
        result = visit(order.tonic, arg)
        if result == 0 and order.owns_entry:
            result = visit(order.entry, arg)
        if result == 0 and order.args is not NULL:
            result = visit(order.args, arg)
        if result == 0 and order.kwargs is not NULL:
            result = visit(order.kwargs, arg)
        if result:
            return result
    return 0


cdef class SparkleLoop:
    """Ready queue, extra sparkles, timers and the wait of one catalyst."""

    def __cinit__(self, *args, **kwargs):
        ring_init(&self._ring)
        ring_init(&self._inbox)
        self._inbox_lock = PyThread_allocate_lock()
        self._wakeup = PyThread_allocate_lock()
        if self._wakeup is NULL or self._inbox_lock is NULL:
            raise MemoryError()
        PyThread_acquire_lock(self._wakeup, 1)  # held: wait() blocks until wake() releases

    def __init__(self, on_error):
        self._extra = deque()
        self.timers = TimerHeap()
        self._thread_id = 0
        self.tracer = None
        self._on_error = on_error
        self._sleeping = False
        self._wake_pending = False
        self._stopped = False
        self._closed = False
        self.bound = None
        self._low_watch = -1
        self.poll_every = 0
        self._ran = 0
        self._high = 0

    def __dealloc__(self):
        ring_free(&self._ring)
        ring_free(&self._inbox)
        if self._wakeup is not NULL:
            PyThread_free_lock(self._wakeup)
            self._wakeup = NULL
        if self._inbox_lock is not NULL:
            PyThread_free_lock(self._inbox_lock)
            self._inbox_lock = NULL

    cdef inline void _lock(self) noexcept:
        # The inbox lock guards the inbox, the sleeping/wake flags and closing, and is never
        # held while Python code runs. Uncontended (always, under the GIL) it is taken at once;
        # a wait for it lets go of the GIL (or, free-threaded, of the thread state).
        if not PyThread_acquire_lock(self._inbox_lock, 0):
            with nogil:
                PyThread_acquire_lock(self._inbox_lock, 1)

    cdef inline void _unlock(self) noexcept:
        PyThread_release_lock(self._inbox_lock)

    cdef inline Py_ssize_t _waiting(self) noexcept:
        return TT_LOAD_SSIZE(&self._ring.count) + TT_LOAD_SSIZE(&self._inbox.count)

    def __len__(self):
        return self._waiting()

    @property
    def thread_id(self):
        cdef unsigned long ident = TT_LOAD_ULONG(&self._thread_id)
        return None if ident == 0 else ident

    @thread_id.setter
    def thread_id(self, value):
        TT_STORE_ULONG(&self._thread_id, 0 if value is None else value)

    @property
    def current(self):
        """The order being run, or None."""
        if self._cur_tonic is NULL:
            return None
        return WorkOrder(<object>self._cur_tonic, <object>self._cur_entry,
                         <object>self._cur_args, _kwargs(<object>self._cur_kwargs))

    @property
    def current_tonic(self):
        """The tonic whose order is being run, or None."""
        return None if self._cur_tonic is NULL else <object>self._cur_tonic

    @property
    def closed(self):
        """True once ``close`` ran: every order sent here is dropped."""
        return TT_LOAD_INT(&self._closed) != 0

    @property
    def ran(self):
        """How many orders ``run`` and ``step`` have taken from the queue."""
        return TT_LOAD_SSIZE(&self._ran)

    @property
    def high_water(self):
        """The most orders seen waiting."""
        return max(TT_LOAD_SSIZE(&self._high), self._waiting())

    @property
    def low_watch(self):
        return TT_LOAD_SSIZE(&self._low_watch)

    @low_watch.setter
    def low_watch(self, Py_ssize_t value):
        TT_STORE_SSIZE(&self._low_watch, value)

    cdef inline void _saw_waiting(self, Py_ssize_t waiting) noexcept:
        if waiting > TT_LOAD_SSIZE(&self._high):  # a lost race only loses a sample
            TT_STORE_SSIZE(&self._high, waiting)

    def set_bound(self, bound):
        """Put every non-system order through ``bound`` from now on (None: no bound)."""
        self.bound = bound

    cdef void _set_current(self, PyObject* tonic, PyObject* entry, PyObject* args,
                           PyObject* kwargs) noexcept:
        # borrowed: valid while the order runs, and reset (NULL) before its references go
        self._cur_tonic = tonic
        self._cur_entry = entry
        self._cur_args = args
        self._cur_kwargs = kwargs

    # -- queueing -------------------------------------------------------------------------
    cdef int push_order(self, object tonic, object entry, object args, object kwargs,
                        bint class_entry=False) except -1:
        # class_entry: the dispatch's own call, ``entry`` is the sparkle of ``type(tonic)``
        if self.bound is None:
            return ring_push(&self._ring, tonic, entry, args, kwargs, not class_entry)
        if _is_system(entry):  # bounded: every order waits in the inbox, in the order sent
            self._inbox_push(tonic, entry, args, kwargs)
            return 0
        return self._push_bounded(tonic, entry, args, kwargs)

    cdef int _push_bounded(self, object tonic, object entry, object args,
                           object kwargs) except -1:
        self.bound.push(self, (tonic, entry, args, _kwargs(kwargs)))
        return 0

    cdef int _inbox_push(self, object tonic, object entry, object args,
                         object kwargs) except -1:
        """Append to the inbox and wake the loop if it sleeps; a closed loop drops it."""
        cdef bint closed, wake = False
        cdef Py_ssize_t waiting = 0
        self._lock()
        try:
            closed = self._closed
            if not closed:
                ring_push(&self._inbox, tonic, entry, args, kwargs)
                waiting = self._waiting()
                wake = self._sleeping
                self._sleeping = False
        finally:
            self._unlock()
        if closed:
            _dropped(tonic, entry)
            return 0
        self._saw_waiting(waiting)
        if wake:
            self.wake()
        return 0

    def push(self, order):
        """Append an order from the loop's own thread."""
        tonic, entry, args, kwargs = order
        self.push_order(tonic, entry, _as_args(args), _as_kwargs(kwargs))

    def append(self, order):
        """Append an order as it is: the bound's way in, under ``bound.lock``."""
        tonic, entry, args, kwargs = order
        kwargs = _as_kwargs(kwargs)
        if kwargs is not None and PyDict_GET_SIZE(kwargs) == 0:
            kwargs = None
        self._inbox_push(tonic, entry, _as_args(args), kwargs)

    def drop_oldest(self):
        """Remove and return the oldest order that is not a system one (None: there is none).

        The bound calls it under ``bound.lock``.
        """
        cdef Py_ssize_t i, j
        cdef Order order
        cdef Ring* ring = &self._inbox  # a bounded loop keeps every waiting order here
        cdef bint found = False
        self._lock()
        try:
            for i in range(ring.count):
                order = ring.slots[(ring.head + i) & ring.mask]
                if _is_system_entry(order.entry):
                    continue
                for j in range(i, 0, -1):  # close the gap: the older system orders move up
                    ring.slots[(ring.head + j) & ring.mask] = \
                        ring.slots[(ring.head + j - 1) & ring.mask]
                ring.head = (ring.head + 1) & ring.mask
                TT_STORE_SSIZE(&ring.count, ring.count - 1)
                found = True
                break
        finally:
            self._unlock()
        if not found:
            return None
        result = order_as_work_order(order)
        order_release(order)
        return result

    cpdef push_threadsafe(self, object tonic, object entry, object args, object kwargs):
        """Queue an order from another thread: copy the arguments, append, wake the loop."""
        if TT_LOAD_INT(&self._closed):
            _dropped(tonic, entry)
            return
        kwargs = _as_kwargs(kwargs)
        if kwargs is not None and PyDict_GET_SIZE(kwargs) == 0:
            kwargs = None
        if args or kwargs is not None:
            try:
                if type(args) is tuple and (kwargs is None or type(kwargs) is dict):
                    args, kwargs = _copy_call(<tuple>args, <dict>kwargs)
                else:
                    args, kwargs = copy_call(args, kwargs)
                    args = _as_args(args)
            except Exception as exc:
                raise _copy_error(tonic, entry, exc) from exc
        elif not isinstance(args, tuple):
            args = ()  # empty, and not a tuple
        if self.bound is not None and not _is_system(entry):
            self._push_bounded(tonic, entry, args, kwargs)
        else:
            self._inbox_push(tonic, entry, args, kwargs)

    def push_extra(self, tonic, entry, args):
        """Queue a system sparkle to run right after the order being run."""
        self._extra.append((tonic, entry, _as_args(args), None))

    def run_now(self, tonic, entry, args):
        """Run a sparkle now, inside the running order: routed, traced, errors handled."""
        args = _as_args(args)
        cdef PyObject* tonic_ = self._cur_tonic
        cdef PyObject* entry_ = self._cur_entry
        cdef PyObject* args_ = self._cur_args
        cdef PyObject* kwargs_ = self._cur_kwargs
        try:
            self._execute(<PyObject*>tonic, <PyObject*>entry, <PyObject*>args, <PyObject*>None)
        finally:
            self._set_current(tonic_, entry_, args_, kwargs_)

    def close(self):
        """Drop what is queued and everything sent from now on (debug lines, never run)."""
        self._lock()
        TT_STORE_INT(&self._closed, 1)  # from here on the inbox takes nothing
        self._unlock()
        TT_STORE_ULONG(&self._thread_id, 0)
        self._set_current(NULL, NULL, NULL, NULL)
        for tonic, entry, _args, _kwargs in self.drain():
            _dropped(tonic, entry)
        if self.bound is not None:
            self.bound.closed(self)

    # -- waiting ---------------------------------------------------------------------------
    cpdef wake(self):
        """Wake a loop sleeping in ``wait``; a wake before the sleep is not lost."""
        # One pending wake at most (an Event's set, not a semaphore's count): wakes that come
        # before one sleep end that sleep only.
        cdef bint release = False
        self._lock()
        if not self._wake_pending:
            self._wake_pending = release = True
        self._unlock()
        if release:
            PyThread_release_lock(self._wakeup)

    cpdef wait(self, object timeout):
        """Sleep until ``wake`` or ``timeout`` seconds, unless an order is already ready."""
        cdef bint idle
        self._set_current(NULL, NULL, NULL, NULL)
        self._lock()
        idle = self._waiting() == 0 and not TT_LOAD_INT(&self._stopped)
        self._sleeping = idle  # a sender that appends from now on sees it, and wakes us
        self._unlock()
        if not idle:
            return
        try:
            self.block(timeout)
        finally:
            self._lock()
            self._sleeping = False
            self._unlock()

    cpdef block(self, object timeout):
        """Wait for ``wake`` (or ``timeout``); what ``wait`` calls once nothing is ready."""
        cdef long long micros = -1
        cdef double deadline = 0.0
        cdef int got
        if timeout is not None:
            if timeout > 0:
                micros = <long long>(min(timeout, MAX_WAIT_MICROS / 1e6) * 1e6)
            else:
                micros = 0  # already passed: take a pending wake, never sleep (a negative
                            # count of microseconds would mean "forever" to the lock)
            deadline = monotonic() + micros / 1e6
        while True:
            with nogil:
                got = PyThread_acquire_lock_timed(self._wakeup, micros, 1)
            if got == PY_LOCK_ACQUIRED:
                self._lock()
                self._wake_pending = False  # the lock is held again: the next wake releases it
                self._unlock()
                return
            if got != PY_LOCK_INTR:
                return
            PyErr_CheckSignals()  # a signal (Ctrl-C) woke us: its handler may raise
            if micros >= 0:
                micros = <long long>((deadline - monotonic()) * 1e6)
                if micros <= 0:
                    return

    cpdef poll(self):
        """Look for I/O without waiting (a selector loop); a plain loop has none."""

    def stop(self):
        """End ``run`` after the order being run; safe from any thread."""
        TT_STORE_INT(&self._stopped, 1)
        self.wake()

    # -- running ---------------------------------------------------------------------------
    cdef int _execute(self, PyObject* tonic, PyObject* entry, PyObject* args,
                      PyObject* kwargs) except -1:
        """Run one order: route by state, trace, call, hand an Exception to on_error.

        The order's parts are borrowed from the caller, and so are the table and the handler
        (the entry holds them): no reference count of an object shared between catalysts (a
        class's entry, its handlers) is touched here.
        """
        cdef PyObject* stack[MAX_STACK_ARGS + 1]
        cdef PyObject* table
        cdef PyObject* handler
        cdef Py_ssize_t nargs, i, size, state
        cdef object held  # the handler, on the path where nothing else may hold it
        if tt_type_check(entry, <PyTypeObject*>SparkleEntry):
            table = <PyObject*>(<SparkleEntry>entry).table
            size = tt_tuple_size(table)
            state = (<object>tonic)._tt_state
            if state < 0:
                state += size
            if state < 0 or state >= size:
                raise IndexError("tuple index out of range")
            handler = tt_tuple_item(table, state)
        else:  # any object with a table, as in the pure twin: the caller's order holds it
            held = (<object>entry).table[(<object>tonic)._tt_state]
            handler = <PyObject*>held
        if handler == <PyObject*>None:
            if (<object>tonic)._tt_state == -1:
                _dropped(<object>tonic, <object>entry)
            return 0
        if self.tracer is not None:
            self.tracer(<object>tonic, <object>entry, <object>args, _kwargs(<object>kwargs))
        self._cur_tonic = tonic  # as _set_current, written out: this is the hot path
        self._cur_entry = entry
        self._cur_args = args
        self._cur_kwargs = kwargs
        nargs = tt_tuple_size(args)
        try:
            if nargs <= MAX_STACK_ARGS:
                stack[0] = tonic
                for i in range(nargs):
                    stack[i + 1] = tt_tuple_item(args, i)
                if kwargs == <PyObject*>None or PyDict_GET_SIZE(<object>kwargs) == 0:
                    tt_vectorcall(handler, stack, nargs + 1, NULL)
                else:
                    tt_vectorcall_dict(handler, stack, nargs + 1, kwargs)
            else:
                (<object>handler)(<object>tonic, *<object>args, **_kwargs(<object>kwargs))
        except Exception as exc:
            self._on_error(<object>tonic, <object>entry, exc)
        return 0

    cpdef run_extra(self):
        """Run the extra sparkles queued by the order just run (state transitions)."""
        extra = self._extra
        if not extra:
            return
        # the order that queued them is current again afterwards (a handler may call this)
        cdef PyObject* tonic_ = self._cur_tonic
        cdef PyObject* entry_ = self._cur_entry
        cdef PyObject* args_ = self._cur_args
        cdef PyObject* kwargs_ = self._cur_kwargs
        try:
            while extra:
                tonic, entry, args, kwargs = extra.popleft()
                self._execute(<PyObject*>tonic, <PyObject*>entry, <PyObject*>args,
                              <PyObject*>kwargs)
        finally:
            self._set_current(tonic_, entry_, args_, kwargs_)

    cdef int _gather(self) except -1:
        """Move the inbox behind the loop's own queue (one lock for a whole batch)."""
        self._lock()
        try:
            ring_move_all(&self._ring, &self._inbox)
        finally:
            self._unlock()
        return 0

    cdef bint _take(self, Order* order) noexcept:
        """The next order: from the loop's own queue, else (a bounded loop) from the inbox."""
        if self._ring.count:
            order[0] = ring_pop(&self._ring)
            return True
        self._lock()
        cdef bint found = self._inbox.count != 0
        if found:
            order[0] = ring_pop(&self._inbox)
        self._unlock()
        return found

    cdef object _run_next(self, bint want_order):
        """Take the next order, run it and its extras; return it as a WorkOrder when asked.

        Returns False when there was none (a bound dropped it meanwhile).
        """
        cdef Order order
        cdef Py_ssize_t low_watch
        if not self._take(&order):
            return False
        # The order keeps the ring's references until it has run (and its extras); it is
        # current meanwhile, and not anymore before they are let go.
        try:
            low_watch = TT_LOAD_SSIZE(&self._low_watch)
            if low_watch >= 0 and self._waiting() <= low_watch:
                self.bound.drained(self)  # it asked; no order is current during this
            self._execute(order.tonic, order.entry, order.args, order.kwargs)
            if self._extra:
                self.run_extra()
            result = order_as_work_order(order) if want_order else True
        finally:
            self._set_current(NULL, NULL, NULL, NULL)
            order_release(order)
        return result

    def step(self):
        """Run the next ready order and its extra sparkles; None when nothing is ready."""
        if TT_LOAD_SSIZE(&self._inbox.count) and self.bound is None:
            self._gather()
        try:
            order = self._run_next(True)
        finally:
            self._set_current(NULL, NULL, NULL, NULL)
        if order is False:
            return None
        TT_STORE_SSIZE(&self._ran, self._ran + 1)
        return order

    def fire_due(self, double now):
        """Fire the timers due at ``now`` (each queues its sparkle); return how many."""
        due = self.timers.pop_due(now)
        for timer in due:
            timer._tt_expire(now)
        return len(due)

    def run(self):
        """Run orders and timers until ``stop``."""
        cdef Py_ssize_t count, since_poll = 0, planned
        cdef Py_ssize_t poll_every = self.poll_every
        cdef bint bounded = self.bound is not None
        TT_STORE_ULONG(&self._thread_id, PyThread_get_thread_ident())
        try:
            while not TT_LOAD_INT(&self._stopped):
                if TT_LOAD_SSIZE(&self._inbox.count) and not bounded:
                    self._gather()
                # this pass's orders: the own queue's, or (bounded) the inbox's
                count = TT_LOAD_SSIZE(&self._inbox.count) if bounded else self._ring.count
                self._saw_waiting(count)
                if poll_every and count > poll_every:
                    count = poll_every
                planned = count
                # stop() ends run after this order
                while count > 0 and not TT_LOAD_INT(&self._stopped):
                    if self._run_next(False) is False:  # a bound dropped the rest of the pass
                        break
                    count -= 1
                TT_STORE_SSIZE(&self._ran, self._ran + planned - count)
                if poll_every:
                    since_poll += planned - count
                    if (since_poll >= poll_every and self._waiting()
                            and not TT_LOAD_INT(&self._stopped)):
                        self._set_current(NULL, NULL, NULL, NULL)
                        self.poll()
                        since_poll = 0
                timeout = None
                deadline = self.timers.next_deadline()
                if deadline is not None:
                    now = monotonic()
                    if deadline <= now:
                        self._set_current(NULL, NULL, NULL, NULL)  # no order runs now
                        self.fire_due(now)
                        continue
                    timeout = deadline - now
                if self._waiting() == 0 and not TT_LOAD_INT(&self._stopped):
                    self.wait(timeout)
                    since_poll = 0
        finally:
            self._set_current(NULL, NULL, NULL, NULL)

    def drain(self):
        """Remove and return the orders still queued, oldest first (the loop's own queue, then
        its inbox); on the loop's thread, or while the loop does not run."""
        orders = []
        cdef Order order
        while self._ring.count:  # the loop's own queue is older than its inbox
            order = ring_pop(&self._ring)
            orders.append(order_as_work_order(order))
            order_release(order)
        while self._take(&order):
            orders.append(order_as_work_order(order))
            order_release(order)
        return orders


# -- the collector sees the rings ------------------------------------------------------------
cdef traverseproc_t _base_traverse = NULL
cdef inquiry_t _base_clear = NULL


cdef int _loop_traverse(PyObject* obj, visitproc_t visit, void* arg) noexcept:
    cdef SparkleLoop loop = <SparkleLoop><void*>obj
    cdef int result = ring_traverse(&loop._ring, visit, arg)
    if result == 0:
        result = ring_traverse(&loop._inbox, visit, arg)
    if result:
        return result
    return _base_traverse(obj, visit, arg)


cdef int _loop_clear(PyObject* obj) noexcept:
    cdef SparkleLoop loop = <SparkleLoop><void*>obj
    ring_clear(&loop._ring)
    ring_clear(&loop._inbox)
    return _base_clear(obj)


cdef void _see_the_ring():
    global _base_traverse, _base_clear
    cdef PyTypeObject_gc* tp = <PyTypeObject_gc*>SparkleLoop
    _base_traverse = tp.tp_traverse
    _base_clear = tp.tp_clear
    tp.tp_traverse = _loop_traverse
    tp.tp_clear = _loop_clear


_see_the_ring()


def _finished_loop():
    loop = SparkleLoop(lambda tonic, entry, exc: None)
    loop.close()
    return loop


#: Where a finished tonic's sparkles go: dropped, with a debug line.
FINISHED_LOOP = _finished_loop()
