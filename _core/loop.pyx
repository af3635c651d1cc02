# cython: language_level=3
"""The catalyst's sparkle loop (compiled twin of ``tasktonic/_pure/loop.py``).

One loop per catalyst, run by the catalyst's thread. It owns the work orders: the ready
queue, the extra sparkles of the order being run (state transitions), and the catalyst's
timers. Only this module and its dispatch partner build work orders; everyone else reads them
as ``WorkOrder(tonic, sparkle, args, kwargs)``. The compiled twin must match this behaviour:

* ``push(order)`` appends the order ``(tonic, entry, args, kwargs)`` from the loop's own thread
  (no lock, no wake: the loop is busy running the caller); only the dispatch twin calls it.
  ``push_threadsafe(tonic, entry, args, kwargs)`` copies the arguments (``copy_call``), appends
  and wakes the loop if it sleeps; a copy that fails raises ``TypeError`` naming the sparkle
  and the tonic (the original error is its ``__cause__``). Orders from one sender run in the
  order sent.
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
  thread, is dropped the same way, never run and never kept. ``drain()`` removes and returns the
  queued orders without closing. Queued orders are visible to the garbage collector.
* ``SparkleEntry`` is the sparkle part of a work order: its name, its handler per state, and
  ``system`` (a lifecycle sparkle: it bypasses a queue bound).
* ``FINISHED_LOOP`` is a closed loop: a finished tonic points at it.
* A bound (``set_bound(bound)``, ``tasktonic/flow.py``; None, the default, means no bound)
  sees every order that is not ``system``, from any thread: the loop hands it to
  ``bound.push(loop, order)``, which appends it with ``append(order)`` or refuses
  it (``drop_oldest()`` removes the oldest non-system order for it). While ``low_watch`` is
  not -1, the loop calls ``bound.drained(loop)`` each time an order taken from the queue
  leaves ``low_watch`` or fewer waiting; ``close()`` calls ``bound.closed(loop)``. Here, in the
  pure twin, a bounded loop's queue is guarded by ``bound.lock``; the compiled twin relies on
  the GIL (its queue operations run no Python code).
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
# Here the ready queue is a ring of C structs (no tuple per order), the handler is called with
# vectorcall, and the wait is a lock acquired with the GIL released, released by ``wake``. The
# type's GC slots are extended at import so that the collector sees (and can clear) the ring.

import logging
from collections import deque
from time import monotonic

from tasktonic._pure.loop import WorkOrder

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.pythread cimport (PyThread_acquire_lock, PyThread_allocate_lock,
                               PyThread_free_lock, PyThread_release_lock, PyThread_type_lock)
from cpython.ref cimport Py_DECREF, Py_INCREF, Py_XDECREF, PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE

from tasktonic._core.copy cimport _copy_call
from tasktonic._core.copy import copy_call
from tasktonic._core.timerheap cimport TimerHeap

__all__ = ["WorkOrder", "SparkleEntry", "SparkleLoop", "FINISHED_LOOP"]

cdef extern from "Python.h":
    unsigned long PyThread_get_thread_ident()
    int PyThread_acquire_lock_timed(PyThread_type_lock lock, long long microseconds,
                                    int intr_flag) nogil
    int PY_LOCK_INTR
    int PY_LOCK_ACQUIRED
    int PyErr_CheckSignals() except -1
    object PyObject_Vectorcall(object callable, PyObject** args, size_t nargsf, PyObject* kwnames)
    object PyObject_VectorcallDict(object callable, PyObject** args, size_t nargs, PyObject* kwargs)
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


cdef inline object _handler_for(object tonic, object entry):
    if not isinstance(entry, SparkleEntry):  # any object with a table, as in the pure twin
        return entry.table[tonic._tt_state]
    cdef tuple table = (<SparkleEntry>entry).table
    cdef Py_ssize_t size = PyTuple_GET_SIZE(table)
    cdef Py_ssize_t state = tonic._tt_state
    if state < 0:
        state += size
    if state < 0 or state >= size:
        raise IndexError("tuple index out of range")
    return <object>PyTuple_GET_ITEM(table, state)


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


cdef inline void _dropped(object tonic, object entry):
    _log.debug("dropped %s for finished tonic %s", entry.name, tonic)


cdef object _copy_error(object tonic, object entry, object exc):
    return TypeError(f"tasktonic: cannot copy the arguments of {entry.name} for tonic "
                     f"{getattr(tonic, 'name', tonic)!r} across threads: "
                     f"{type(exc).__name__}: {exc} (wrap an object that must be shared in "
                     "ttShared to hand it over by reference)")


cdef class SparkleLoop:
    """Ready queue, extra sparkles, timers and the wait of one catalyst."""

    def __cinit__(self, *args, **kwargs):
        self._ring = <Order*>PyMem_Malloc(INITIAL_RING * sizeof(Order))
        if self._ring is NULL:
            raise MemoryError()
        self._mask = INITIAL_RING - 1
        self._head = 0
        self._count = 0
        self._wakeup = PyThread_allocate_lock()
        if self._wakeup is NULL:
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
        self.low_watch = -1
        self.poll_every = 0
        self._ran = 0
        self._high = 0

    def __dealloc__(self):
        if self._ring is not NULL:
            self._clear_ring()
            PyMem_Free(self._ring)
            self._ring = NULL
        if self._wakeup is not NULL:
            PyThread_free_lock(self._wakeup)
            self._wakeup = NULL

    cdef void _clear_ring(self) noexcept:
        # Release every queued order's references (dealloc, and the collector's tp_clear).
        cdef Order order
        while self._count:
            order = self._ring[self._head]
            self._head = (self._head + 1) & self._mask
            self._count -= 1
            Py_XDECREF(order.tonic)
            Py_XDECREF(order.entry)
            Py_XDECREF(order.args)
            Py_XDECREF(order.kwargs)

    def __len__(self):
        return self._count

    @property
    def thread_id(self):
        return None if self._thread_id == 0 else self._thread_id

    @thread_id.setter
    def thread_id(self, value):
        self._thread_id = 0 if value is None else value

    @property
    def current(self):
        """The order being run, or None."""
        if self._cur_tonic is None:
            return None
        return WorkOrder(self._cur_tonic, self._cur_entry, self._cur_args,
                         _kwargs(self._cur_kwargs))

    @property
    def current_tonic(self):
        """The tonic whose order is being run, or None."""
        return self._cur_tonic

    @property
    def closed(self):
        """True once ``close`` ran: every order sent here is dropped."""
        return self._closed

    @property
    def ran(self):
        """How many orders ``run`` and ``step`` have taken from the queue."""
        return self._ran

    @property
    def high_water(self):
        """The most orders seen waiting."""
        return max(self._high, self._count)

    def set_bound(self, bound):
        """Put every non-system order through ``bound`` from now on (None: no bound)."""
        self.bound = bound

    cdef void _set_current(self, object tonic, object entry, object args,
                           object kwargs) noexcept:
        self._cur_tonic = tonic
        self._cur_entry = entry
        self._cur_args = args
        self._cur_kwargs = kwargs

    # -- the ring of work orders ---------------------------------------------------------
    cdef int _grow(self) except -1:
        cdef Py_ssize_t size = self._mask + 1
        cdef Py_ssize_t i
        cdef Order* ring = <Order*>PyMem_Malloc(2 * size * sizeof(Order))
        if ring is NULL:
            raise MemoryError()
        for i in range(self._count):
            ring[i] = self._ring[(self._head + i) & self._mask]
        PyMem_Free(self._ring)
        self._ring = ring
        self._head = 0
        self._mask = 2 * size - 1
        return 0

    cdef int push_order(self, object tonic, object entry, object args, object kwargs) except -1:
        if self.bound is not None and not _is_system(entry):
            return self._push_bounded(tonic, entry, args, kwargs)
        return self._append_order(tonic, entry, args, kwargs)

    cdef int _push_bounded(self, object tonic, object entry, object args,
                           object kwargs) except -1:
        self.bound.push(self, (tonic, entry, args, _kwargs(kwargs)))
        return 0

    def append(self, order):
        """Append an order as it is: the bound's way in, under ``bound.lock``."""
        tonic, entry, args, kwargs = order
        kwargs = _as_kwargs(kwargs)
        if kwargs is not None and PyDict_GET_SIZE(kwargs) == 0:
            kwargs = None
        self._append_order(tonic, entry, _as_args(args), kwargs)
        if self._count > self._high:
            self._high = self._count

    def drop_oldest(self):
        """Remove and return the oldest order that is not a system one (None: there is none).

        The bound calls it under ``bound.lock``.
        """
        cdef Py_ssize_t i, j
        cdef Order order
        for i in range(self._count):
            order = self._ring[(self._head + i) & self._mask]
            if _is_system(<object>order.entry):
                continue
            for j in range(i, 0, -1):  # close the gap: the older system orders move up one
                self._ring[(self._head + j) & self._mask] = \
                    self._ring[(self._head + j - 1) & self._mask]
            self._head = (self._head + 1) & self._mask
            self._count -= 1
            result = WorkOrder(<object>order.tonic, <object>order.entry, <object>order.args,
                               _kwargs(<object>order.kwargs))
            Py_DECREF(<object>order.tonic)
            Py_DECREF(<object>order.entry)
            Py_DECREF(<object>order.args)
            Py_XDECREF(order.kwargs)
            return result
        return None

    cdef int _append_order(self, object tonic, object entry, object args,
                           object kwargs) except -1:
        if self._count > self._mask:
            self._grow()
        cdef Order* order = &self._ring[(self._head + self._count) & self._mask]
        Py_INCREF(tonic)
        Py_INCREF(entry)
        Py_INCREF(args)
        Py_INCREF(kwargs)
        order.tonic = <PyObject*>tonic
        order.entry = <PyObject*>entry
        order.args = <PyObject*>args
        order.kwargs = <PyObject*>kwargs
        self._count += 1
        return 0

    cdef Order _pop(self):
        # The caller owns the four references of the returned order.
        cdef Order order = self._ring[self._head]
        self._head = (self._head + 1) & self._mask
        self._count -= 1
        return order

    def push(self, order):
        """Append an order from the loop's own thread."""
        tonic, entry, args, kwargs = order
        self.push_order(tonic, entry, _as_args(args), _as_kwargs(kwargs))

    cpdef push_threadsafe(self, object tonic, object entry, object args, object kwargs):
        """Queue an order from another thread: copy the arguments, append, wake the loop."""
        if self._closed:
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
        if self._closed:  # closed while Python code ran (the copy, a mapping's items)
            _dropped(tonic, entry)
            return
        if self.bound is not None and not _is_system(entry):
            self._push_bounded(tonic, entry, args, kwargs)
            if self._closed:  # closed while the bound ran Python code: drop as close() does
                for tonic, entry, _args, _kwargs in self.drain():
                    _dropped(tonic, entry)
        else:
            # from the check above to the append no Python code runs: close() cannot come
            # between
            self._append_order(tonic, entry, args, kwargs)
            if self._count > self._high:
                self._high = self._count
        if self._sleeping:
            self._sleeping = False
            self.wake()

    def push_extra(self, tonic, entry, args):
        """Queue a system sparkle to run right after the order being run."""
        self._extra.append((tonic, entry, _as_args(args), None))

    def run_now(self, tonic, entry, args):
        """Run a sparkle now, inside the running order: routed, traced, errors handled."""
        args = _as_args(args)
        tonic_, entry_, args_, kwargs_ = (self._cur_tonic, self._cur_entry, self._cur_args,
                                          self._cur_kwargs)
        try:
            self._execute(tonic, entry, args, None)
        finally:
            self._set_current(tonic_, entry_, args_, kwargs_)

    def close(self):
        """Drop what is queued and everything sent from now on (debug lines, never run)."""
        self._closed = True
        self._thread_id = 0
        self._set_current(None, None, None, None)
        for tonic, entry, _args, _kwargs in self.drain():
            _dropped(tonic, entry)
        if self.bound is not None:
            self.bound.closed(self)

    # -- waiting ---------------------------------------------------------------------------
    cpdef wake(self):
        """Wake a loop sleeping in ``wait``; a wake before the sleep is not lost."""
        # One pending wake at most (an Event's set, not a semaphore's count): wakes that come
        # before one sleep end that sleep only. The GIL orders this with block()'s reset.
        if not self._wake_pending:
            self._wake_pending = True
            PyThread_release_lock(self._wakeup)

    cpdef wait(self, object timeout):
        """Sleep until ``wake`` or ``timeout`` seconds, unless an order is already ready."""
        self._set_current(None, None, None, None)
        self._sleeping = True
        try:
            if self._count == 0 and not self._stopped:
                self.block(timeout)
        finally:
            self._sleeping = False

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
                self._wake_pending = False  # the lock is held again: the next wake releases it
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
        self._stopped = True
        self.wake()

    # -- running ---------------------------------------------------------------------------
    cdef int _execute(self, object tonic, object entry, object args, object kwargs) except -1:
        """Run one order: route by state, trace, call, hand an Exception to on_error."""
        cdef PyObject* stack[MAX_STACK_ARGS + 1]
        cdef Py_ssize_t nargs, i
        handler = _handler_for(tonic, entry)
        if handler is None:
            if tonic._tt_state == -1:
                _dropped(tonic, entry)
            return 0
        if self.tracer is not None:
            self.tracer(tonic, entry, args, _kwargs(kwargs))
        self._cur_tonic = tonic  # as _set_current, written out: this is the hot path
        self._cur_entry = entry
        self._cur_args = args
        self._cur_kwargs = kwargs
        nargs = PyTuple_GET_SIZE(args)
        try:
            if nargs <= MAX_STACK_ARGS:
                stack[0] = <PyObject*>tonic
                for i in range(nargs):
                    stack[i + 1] = PyTuple_GET_ITEM(args, i)
                if kwargs is None or PyDict_GET_SIZE(kwargs) == 0:
                    PyObject_Vectorcall(handler, stack, nargs + 1, NULL)
                else:
                    PyObject_VectorcallDict(handler, stack, nargs + 1, <PyObject*>kwargs)
            else:
                handler(tonic, *args, **_kwargs(kwargs))
        except Exception as exc:
            self._on_error(tonic, entry, exc)
        return 0

    cpdef run_extra(self):
        """Run the extra sparkles queued by the order just run (state transitions)."""
        extra = self._extra
        if not extra:
            return
        # the order that queued them is current again afterwards (a handler may call this)
        tonic_, entry_, args_, kwargs_ = (self._cur_tonic, self._cur_entry, self._cur_args,
                                          self._cur_kwargs)
        try:
            while extra:
                tonic, entry, args, kwargs = extra.popleft()
                self._execute(tonic, entry, args, kwargs)
        finally:
            self._set_current(tonic_, entry_, args_, kwargs_)

    cdef object _run_next(self, bint want_order):
        """Pop the next order, run it and its extras; return it as a WorkOrder when asked."""
        cdef Order order = self._pop()
        if self.low_watch >= 0 and self._count <= self.low_watch:
            self.bound.drained(self)  # it asked: the order just taken stays alive meanwhile
        tonic = <object>order.tonic
        entry = <object>order.entry
        args = <object>order.args
        kwargs = <object>order.kwargs
        Py_DECREF(tonic)   # the locals now hold the ring's references
        Py_DECREF(entry)
        Py_DECREF(args)
        Py_DECREF(kwargs)
        self._execute(tonic, entry, args, kwargs)
        if self._extra:
            self.run_extra()
        return WorkOrder(tonic, entry, args, _kwargs(kwargs)) if want_order else None

    def step(self):
        """Run the next ready order and its extra sparkles; None when nothing is ready."""
        if self._count == 0:
            return None
        self._ran += 1
        try:
            return self._run_next(True)
        finally:
            self._set_current(None, None, None, None)

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
        self._thread_id = PyThread_get_thread_ident()
        try:
            while not self._stopped:
                count = self._count
                if count > self._high:
                    self._high = count
                if poll_every and count > poll_every:
                    count = poll_every
                planned = count
                while count > 0 and not self._stopped:  # stop() ends run after this order
                    if self._count == 0:  # a bound dropped what was left of this pass
                        break
                    count -= 1
                    self._run_next(False)
                self._ran += planned - count
                if poll_every:
                    since_poll += planned - count
                    if since_poll >= poll_every and self._count and not self._stopped:
                        self._set_current(None, None, None, None)
                        self.poll()
                        since_poll = 0
                timeout = None
                deadline = self.timers.next_deadline()
                if deadline is not None:
                    now = monotonic()
                    if deadline <= now:
                        self._set_current(None, None, None, None)  # no order runs now
                        self.fire_due(now)
                        continue
                    timeout = deadline - now
                if self._count == 0 and not self._stopped:
                    self.wait(timeout)
                    since_poll = 0
        finally:
            self._set_current(None, None, None, None)

    def drain(self):
        """Remove and return the orders still queued, oldest first."""
        cdef Order order
        orders = []
        while self._count:
            order = self._pop()
            orders.append(WorkOrder(<object>order.tonic, <object>order.entry,
                                    <object>order.args, _kwargs(<object>order.kwargs)))
            Py_DECREF(<object>order.tonic)
            Py_DECREF(<object>order.entry)
            Py_DECREF(<object>order.args)
            Py_DECREF(<object>order.kwargs)
        return orders


# -- the collector sees the ring ---------------------------------------------------------------
cdef traverseproc_t _base_traverse = NULL
cdef inquiry_t _base_clear = NULL


cdef int _loop_traverse(PyObject* obj, visitproc_t visit, void* arg) noexcept:
    cdef SparkleLoop loop = <SparkleLoop><void*>obj
    cdef Py_ssize_t i
    cdef Order* order
    cdef int result
    if loop._ring is not NULL:
        for i in range(loop._count):
            order = &loop._ring[(loop._head + i) & loop._mask]
            result = visit(order.tonic, arg)
            if result == 0:
                result = visit(order.entry, arg)
            if result == 0 and order.args is not NULL:
                result = visit(order.args, arg)
            if result == 0 and order.kwargs is not NULL:
                result = visit(order.kwargs, arg)
            if result:
                return result
    return _base_traverse(obj, visit, arg)


cdef int _loop_clear(PyObject* obj) noexcept:
    cdef SparkleLoop loop = <SparkleLoop><void*>obj
    if loop._ring is not NULL:
        loop._clear_ring()
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
