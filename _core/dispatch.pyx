# cython: language_level=3
"""The per-class sparkle dispatch table (compiled twin of ``tasktonic/_pure/dispatch.py``).

When a tonic class is created, its sparkles are found once: methods named
``prefix[_state]__name`` with prefix ``ttsc`` (command), ``ttse`` (event), ``tts`` (internal),
``_tts`` (private) or ``_ttss`` (system). For each ``prefix__name`` there is one
``SparkleEntry`` whose ``table`` holds the handler per state index: index 0 is "no active
state" (the generic handler), index ``i`` the handler for state ``i`` (its specific handler, else
the generic one), and the last slot is always None (a completed tonic's index). A missing
handler is None: the loop skips it. An entry is ``system`` (it bypasses a queue bound) when its
prefix is ``_ttss`` or the class names it in ``_tt_system_sparkles`` (finish, on_start: the
lifecycle's own public sparkles).

Every sparkle name on the class is replaced by a *sparkle method*: calling it never runs the
handler, it queues the work order ``(tonic, entry, args, kwargs)`` on the tonic's catalyst loop
(``tonic._tt_loop``): a plain append on the catalyst's own thread, ``push_threadsafe`` (copy and
wake) from any other thread. A sparkle method reached through ``super()`` or through an explicit
``Base.ttse__x(self)`` runs that class's handler at once, inside the running sparkle, so
overriding hooks can extend their parent's.

The compiled twin must match: ``parse_sparkle_name``, ``build_class_sparkles(cls,
declared_states)`` returning ``(entries, state_names)``, and the queued-call behaviour of the
installed methods. ``SparkleEntry`` belongs to the loop module (the loop runs work orders; this
module builds them).
"""
# Here the discovery (cold, once per class) is the pure twin's own code; the sparkle method is a
# SparkleMethod whose vectorcall appends straight into the loop's C ring of work orders.

from tasktonic._pure.dispatch import PREFIXES, describe_sparkle_method, parse_sparkle_name
from tasktonic._pure.dispatch import build_class_sparkles as _discover
from threading import get_ident as _get_ident
from types import FunctionType as _FunctionType

from cpython.ref cimport Py_INCREF, PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE, PyTuple_New, PyTuple_SET_ITEM

from tasktonic._core.loop cimport TT_LOAD_ULONG, SparkleEntry, SparkleLoop

__all__ = ["PREFIXES", "SparkleEntry", "parse_sparkle_name", "build_class_sparkles"]

globals()["SparkleEntry"] = SparkleEntry  # the Python-level name, as in the pure twin

# Deferred reference counting for the objects a class shares between catalysts (its sparkle
# methods and handlers). Without the GIL each reference count change of an object that another
# thread owns is an atomic on its shared count, and two catalysts running one class would fight
# over one cache line per object per sparkle. The interpreter exempts what it makes deferred:
# 3.14t skips the counts of deferred objects on its stack, and 3.13t makes every deferred object
# immortal once a second thread has started (module-level functions, classes, their method
# descriptors). A class's sparkle methods and handlers live as long as the class, so they get
# what the class gets: 3.14t through the public PyUnstable_Object_EnableDeferredRefcount; 3.13t
# through the few stores of its _PyObject_SetDeferredRefcount (not exported), used only when a
# probe shows this interpreter's own deferral is exactly those stores. With the GIL: a no-op.
cdef extern from *:
    """
    #if defined(Py_GIL_DISABLED) && PY_VERSION_HEX >= 0x030E0000
    static int tt_deferral_matches(PyObject *probe) { (void)probe; return 1; }
    static void tt_defer_refcount(PyObject *op, PyObject *owner) {
        (void)owner;
        PyUnstable_Object_EnableDeferredRefcount(op);
    }
    #elif defined(Py_GIL_DISABLED) && PY_VERSION_HEX >= 0x030D0000
    #define TT_GC_BITS_TRACKED 1   /* _PyGC_BITS_TRACKED */
    #define TT_GC_BITS_DEFERRED 64 /* _PyGC_BITS_DEFERRED */
    static int tt_can_defer = 0;
    /* probe: a function of top-level code, just made; the interpreter deferred it */
    static int tt_deferral_matches(PyObject *probe) {
        int immortal = probe->ob_ref_local == _Py_IMMORTAL_REFCNT_LOCAL
                       && probe->ob_ref_shared == 0;
        int queued = probe->ob_ref_shared == _Py_REF_QUEUED;
        tt_can_defer = (probe->ob_gc_bits & TT_GC_BITS_DEFERRED) && (immortal || queued);
        return tt_can_defer;
    }
    static void tt_defer_refcount(PyObject *op, PyObject *owner) {
        /* only a new object that no other thread has seen */
        if (!tt_can_defer || !PyObject_IS_GC(op) || (op->ob_gc_bits & TT_GC_BITS_DEFERRED)
                || !_Py_IsOwnedByCurrentThread(op) || op->ob_ref_shared != 0) {
            return;
        }
        op->ob_gc_bits |= TT_GC_BITS_DEFERRED;
        if (_Py_IsImmortal(owner)) {  /* as the class: immortal, untracked, unowned */
            op->ob_gc_bits &= ~TT_GC_BITS_TRACKED;
            op->ob_tid = _Py_UNOWNED_TID;
            op->ob_ref_local = _Py_IMMORTAL_REFCNT_LOCAL;
            op->ob_ref_shared = 0;
        } else {  /* the interpreter makes it immortal when the next thread starts */
            op->ob_ref_local += 1;
            op->ob_ref_shared = _Py_REF_QUEUED;
        }
    }
    #else
    static int tt_deferral_matches(PyObject *probe) { (void)probe; return 0; }
    static void tt_defer_refcount(PyObject *op, PyObject *owner) { (void)op; (void)owner; }
    #endif
    """
    int tt_deferral_matches(PyObject* probe)
    void tt_defer_refcount(PyObject* op, PyObject* owner)


cdef _probe_deferral():
    code = compile("def probe(): pass", "<tasktonic deferral probe>", "exec").co_consts[0]
    probe = _FunctionType(code, {})
    tt_deferral_matches(<PyObject*>probe)


_probe_deferral()


cdef extern from "Python.h":
    unsigned long PyThread_get_thread_ident()
    Py_ssize_t PyVectorcall_NARGS(size_t nargsf)
    object PyMethod_New(object func, object self)
    ctypedef struct PyTypeObject:
        Py_ssize_t tp_vectorcall_offset
        unsigned long tp_flags
    PyTypeObject* Py_TYPE(object o)
    unsigned long Py_TPFLAGS_HAVE_VECTORCALL
    unsigned long Py_TPFLAGS_METHOD_DESCRIPTOR


def build_class_sparkles(cls, declared_states=(), *, entry_type=SparkleEntry,
                         make_method=None):
    """Find the sparkles of ``cls`` (once, at class creation) and install its sparkle methods.

    Returns ``(entries, state_names)``: the entry per generic sparkle name and the class's
    states in index order (index ``i + 1`` in every table is ``state_names[i]``). The compiled
    twin reuses this discovery and passes its own ``entry_type`` and ``make_method``.
    """
    entries, state_names = _discover(cls, tuple(declared_states), entry_type=entry_type,
                                     make_method=make_method or _make_sparkle_method)
    # Only handlers written in this class's body: no other thread can have reached them yet
    # (3.13t's deferral must not race another thread's count); inherited ones were handled
    # with their own class.
    body = cls.__qualname__ + "."
    for entry in entries.values():
        for handler in entry.table:
            if type(handler) is _FunctionType and handler.__qualname__.startswith(body):
                tt_defer_refcount(<PyObject*>handler, <PyObject*>cls)
    return entries, state_names


cdef inline object _queue(PyObject* tonic, PyObject* entry, PyObject* owner, tuple args,
                          object kwargs):
    # The tonic, entry and owner are borrowed: entry and owner are shared by every catalyst
    # that runs the class, and without the GIL each reference count change of a shared object
    # is a contended atomic. kwargs is None when the call had no keyword arguments.
    if <PyObject*>Py_TYPE(<object>tonic) != owner:  # reached through super() or Base.x(self)
        return (<SparkleEntry>entry).call_now(<object>tonic, args,
                                              {} if kwargs is None else kwargs)
    loop = (<object>tonic)._tt_loop
    if isinstance(loop, SparkleLoop):
        if TT_LOAD_ULONG(&(<SparkleLoop>loop)._thread_id) == PyThread_get_thread_ident():
            # entry belongs to type(tonic) (checked above): the order may borrow it
            (<SparkleLoop>loop).push_order(<object>tonic, <object>entry, args, kwargs, True)
        else:
            (<SparkleLoop>loop).push_threadsafe(<object>tonic, <SparkleEntry>entry, args, kwargs)
        return None
    # any other loop (the pure twin's, a stand-in): its public methods, as the pure twin calls them
    kwargs = {} if kwargs is None else kwargs
    if loop.thread_id == _get_ident():
        loop.push((<object>tonic, <object>entry, args, kwargs))
    else:
        loop.push_threadsafe(<object>tonic, <object>entry, args, kwargs)
    return None


cdef class SparkleMethod:
    """A sparkle's queued-call method: called with the tonic first, it queues the call.

    It is a method descriptor with its own vectorcall entry, so ``tonic.ttsc__x(...)`` reaches
    the C enqueue without building a bound method, a keyword dict or a parsed signature.
    """

    cdef void* vectorcall          # the vectorcall slot (tp_vectorcall_offset points here)
    cdef SparkleEntry entry
    cdef object owner
    cdef dict __dict__
    cdef object __weakref__        # weakly referenced like the pure twin's function

    def __get__(self, obj, objtype):
        return self if obj is None else PyMethod_New(self, obj)

    def __call__(self, *args, **kwargs):
        if not args:
            raise _no_tonic(self)
        return _queue(<PyObject*>args[0], <PyObject*>self.entry, <PyObject*>self.owner, args[1:],
                      kwargs or None)


cdef object _no_tonic(SparkleMethod method):
    # the pure twin's method is a function ``(self, *args, **kwargs)``: the same error
    return TypeError(f"{method.__qualname__}() missing 1 required positional argument: 'self'")


cdef object _sparkle_vectorcall(PyObject* method, PyObject** args, size_t nargsf,
                                PyObject* kwnames):
    # method, entry and owner stay borrowed pointers (see _queue): no shared reference count
    cdef Py_ssize_t nargs = PyVectorcall_NARGS(nargsf)
    cdef Py_ssize_t i, nkw
    cdef tuple positional
    cdef object value
    if nargs < 1:
        raise _no_tonic(<SparkleMethod>method)
    positional = PyTuple_New(nargs - 1)
    for i in range(1, nargs):
        value = <object>args[i]
        Py_INCREF(value)
        PyTuple_SET_ITEM(positional, i - 1, value)
    kwargs = None
    if kwnames is not NULL:
        nkw = PyTuple_GET_SIZE(<object>kwnames)
        if nkw:
            kwargs = {}
            for i in range(nkw):
                kwargs[<object>PyTuple_GET_ITEM(<object>kwnames, i)] = <object>args[nargs + i]
    return _queue(args[0], <PyObject*>(<SparkleMethod>method).entry,
                  <PyObject*>(<SparkleMethod>method).owner, positional, kwargs)


cdef void _enable_vectorcall():
    cdef SparkleMethod probe = SparkleMethod.__new__(SparkleMethod)
    cdef PyTypeObject* tp = <PyTypeObject*>SparkleMethod
    tp.tp_vectorcall_offset = <Py_ssize_t>(<char*>&probe.vectorcall - <char*><void*>probe)
    tp.tp_flags |= Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_METHOD_DESCRIPTOR


_enable_vectorcall()


def _make_sparkle_method(SparkleEntry entry, object owner, original):
    """The queued-call method installed under a sparkle's name on ``owner``."""
    cdef SparkleMethod method = SparkleMethod.__new__(SparkleMethod)
    method.vectorcall = <void*>_sparkle_vectorcall
    method.entry = entry
    method.owner = owner
    tt_defer_refcount(<PyObject*>method, <PyObject*>owner)
    return describe_sparkle_method(method, entry, owner, original)
