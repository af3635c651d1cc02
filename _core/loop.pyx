# cython: language_level=3
"""The catalyst's sparkle loop (compiled twin of ``tasktonic/_pure/loop.py``).

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
# Here the ready queue is a ring of C structs (no tuple per order), the handler is called with
# vectorcall, and the wait is a lock acquired with the GIL released, released by ``wake``.

import logging
from collections import deque
from time import monotonic

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.pythread cimport (PyThread_acquire_lock, PyThread_allocate_lock,
                               PyThread_free_lock, PyThread_release_lock, PyThread_type_lock)
from cpython.ref cimport Py_DECREF, Py_INCREF, Py_XDECREF, PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE

from tasktonic._core.copy cimport _copy_call
from tasktonic._core.copy import copy_call
from tasktonic._core.timerheap cimport TimerHeap

__all__ = ["SparkleEntry", "SparkleLoop", "FINISHED_LOOP"]

cdef extern from "Python.h":
    unsigned long PyThread_get_thread_ident()
    int PyThread_acquire_lock_timed(PyThread_type_lock lock, long long microseconds,
                                    int intr_flag) nogil
    object PyObject_Vectorcall(object callable, PyObject** args, size_t nargsf, PyObject* kwnames)
    object PyObject_VectorcallDict(object callable, PyObject** args, size_t nargs, PyObject* kwargs)
    Py_ssize_t PyDict_GET_SIZE(object d)

cdef object _log = logging.getLogger("tasktonic")
cdef enum:
    MAX_STACK_ARGS = 8        # handlers with more positional arguments take the slow call
    INITIAL_RING = 64         # work-order slots; the ring doubles when full
    MAX_WAIT_MICROS = 3600000000  # wake at least hourly: a far timer never overflows the lock


cdef class SparkleEntry:
    """One sparkle of one class: its name and its handler for every state."""

    def __init__(self, str name, object generic, dict by_state, tuple state_names):
        self.name = name
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
    cdef tuple table = (<SparkleEntry>entry).table
    cdef Py_ssize_t state = tonic._tt_state
    if state < 0:
        state += PyTuple_GET_SIZE(table)
    return <object>PyTuple_GET_ITEM(table, state)


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
        self.extra = deque()
        self.timers = TimerHeap()
        self._thread_id = 0
        self.tracer = None
        self._on_error = on_error
        self._sleeping = False
        self._stopped = False
        self._closed = False

    def __dealloc__(self):
        cdef Py_ssize_t i
        cdef Order* order
        if self._ring is not NULL:
            for i in range(self._count):
                order = &self._ring[(self._head + i) & self._mask]
                Py_XDECREF(order.tonic)
                Py_XDECREF(order.entry)
                Py_XDECREF(order.args)
                Py_XDECREF(order.kwargs)
            PyMem_Free(self._ring)
            self._ring = NULL
        if self._wakeup is not NULL:
            PyThread_free_lock(self._wakeup)
            self._wakeup = NULL

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
        if self._cur_tonic is None:
            return None
        return (self._cur_tonic, self._cur_entry, self._cur_args, _kwargs(self._cur_kwargs))

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

    def push(self, tuple order):
        """Append an order from the loop's own thread."""
        tonic, entry, args, kwargs = order
        self.push_order(tonic, entry, args, kwargs)

    cpdef push_threadsafe(self, object tonic, object entry, object args, object kwargs):
        """Queue an order from another thread: copy the arguments, append, wake the loop."""
        if self._closed:
            _log.debug("dropped %s for finished tonic %s", entry.name, tonic)
            return
        if kwargs is not None and PyDict_GET_SIZE(kwargs) == 0:
            kwargs = None
        if args or kwargs is not None:
            if type(args) is tuple and (kwargs is None or type(kwargs) is dict):
                args, kwargs = _copy_call(<tuple>args, <dict>kwargs)
            else:
                args, kwargs = copy_call(args, kwargs)
        self.push_order(tonic, entry, args, kwargs)
        if self._sleeping:
            self._sleeping = False
            self.wake()

    def close(self):
        """From now on every order is dropped with a debug line (the loop of finished tonics)."""
        self._closed = True
        self._thread_id = 0

    # -- waiting ---------------------------------------------------------------------------
    cpdef wake(self):
        """Wake a loop sleeping in ``wait``; a wake before the sleep is not lost."""
        PyThread_release_lock(self._wakeup)

    cpdef wait(self, object timeout):
        """Sleep until ``wake`` or ``timeout`` seconds, unless an order is already ready."""
        self._sleeping = True
        try:
            if self._count == 0 and not self._stopped:
                self.block(timeout)
        finally:
            self._sleeping = False

    cpdef block(self, object timeout):
        """Wait for ``wake`` (or ``timeout``); what ``wait`` calls once nothing is ready."""
        cdef long long micros = -1
        if timeout is not None:
            micros = <long long>(min(timeout, MAX_WAIT_MICROS / 1e6) * 1e6)
        with nogil:
            PyThread_acquire_lock_timed(self._wakeup, micros, 0)

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
                _log.debug("dropped %s for finished tonic %s", entry.name, tonic)
            return 0
        if self.tracer is not None:
            self.tracer(tonic, entry, args, _kwargs(kwargs))
        self._cur_tonic = tonic
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
        extra = self.extra
        while extra:
            tonic, entry, args, kwargs = extra.popleft()
            self._execute(tonic, entry, args, kwargs)

    cdef object _run_next(self, bint want_order):
        """Pop the next order, run it and its extras; return it as a tuple when asked."""
        cdef Order order = self._pop()
        tonic = <object>order.tonic
        entry = <object>order.entry
        args = <object>order.args
        kwargs = <object>order.kwargs
        Py_DECREF(tonic)   # the locals now hold the ring's references
        Py_DECREF(entry)
        Py_DECREF(args)
        Py_DECREF(kwargs)
        self._execute(tonic, entry, args, kwargs)
        if self.extra:
            self.run_extra()
        return (tonic, entry, args, _kwargs(kwargs)) if want_order else None

    def step(self):
        """Run the next ready order and its extra sparkles; None when nothing is ready."""
        if self._count == 0:
            return None
        return self._run_next(True)

    def fire_due(self, double now):
        """Fire the timers due at ``now`` (each queues its sparkle); return how many."""
        due = self.timers.pop_due(now)
        for timer in due:
            timer._tt_expire(now)
        return len(due)

    def run(self):
        """Run orders and timers until ``stop``."""
        cdef Py_ssize_t count
        self._thread_id = PyThread_get_thread_ident()
        try:
            while not self._stopped:
                count = self._count
                while count > 0:
                    count -= 1
                    self._run_next(False)
                timeout = None
                deadline = self.timers.next_deadline()
                if deadline is not None:
                    now = monotonic()
                    if deadline <= now:
                        self.fire_due(now)
                        continue
                    timeout = deadline - now
                if self._count == 0 and not self._stopped:
                    self.wait(timeout)
        finally:
            self._cur_tonic = None
            self._cur_entry = None
            self._cur_args = None
            self._cur_kwargs = None

    def drain(self):
        """Remove and return the orders still queued (used once the catalyst has finished)."""
        cdef Order order
        orders = []
        while self._count:
            order = self._pop()
            orders.append((<object>order.tonic, <object>order.entry, <object>order.args,
                           _kwargs(<object>order.kwargs)))
            Py_DECREF(<object>order.tonic)
            Py_DECREF(<object>order.entry)
            Py_DECREF(<object>order.args)
            Py_DECREF(<object>order.kwargs)
        return orders


def _finished_loop():
    loop = SparkleLoop(lambda tonic, entry, exc: None)
    loop.close()
    return loop


#: Where a finished tonic's sparkles go: dropped, with a debug line.
FINISHED_LOOP = _finished_loop()
