# cython: language_level=3, boundscheck=False, wraparound=False
"""The cross-thread argument copier (compiled twin of ``tasktonic/_pure/copy.py``).

A sparkle called from a thread other than its catalyst's gets its arguments copied, so the
receiving tonic never shares mutable state with the caller. The compiled twin must match
these rules exactly:

* immutable scalars (None, bool, int, float, complex, str, bytes, range, Ellipsis) are
  returned as they are;
* ``tuple`` and ``frozenset`` are rebuilt only when an element needed copying, otherwise the
  original is returned (as ``copy.deepcopy`` does);
* ``dict``, ``list``, ``set`` and ``tuple`` are copied recursively with a memo keyed by ``id``,
  so shared and cyclic references keep their shape;
* objects whose type sets ``_tt_by_reference = True`` (tonics, ``ttShared``) and any other
  callable are passed by reference;
* anything else goes to ``copy.deepcopy`` with the same memo.

Only exact built-in types take the fast paths; subclasses (OrderedDict, defaultdict, ...) go
to ``copy.deepcopy`` so their own copy semantics are honoured.

Nesting is limited to ``MAX_DEPTH`` (100) levels, counted by the copier itself, so the limit
is the same whatever the interpreter, its version, its recursion limit or the depth of the
caller's stack. An argument (of ``copy_call``, or the object given to ``copy_value``) is at
level 1; the items, keys and values of a dict, list, tuple, set or frozenset are one level
deeper than their container. Any value other than an immutable scalar found deeper than
``MAX_DEPTH`` (a container, an object passed by reference, one already in the memo, one that
would go to ``copy.deepcopy``) raises ``RecursionError("tasktonic copier: the argument is
nested deeper than 100 levels (MAX_DEPTH)")`` before it is looked at. So an object handed to
``copy.deepcopy`` is one level, where it is found; inside it ``copy.deepcopy`` recurses on its
own, under the interpreter's recursion limit. A level costs the pure twin one Python frame (the
compiled twin none), so a copy started 200 frames deep calls ``copy.deepcopy`` at most about
305 frames deep, which leaves it some 700 frames of the default recursion limit (1000).
"""
# Implementation notes (not part of the contract above, which is shared with the pure twin):
#
# * The algorithm is the pure twin's, step for step: the same order of memo lookups, type
#   tests and fallbacks, the same order of memo insertions and keep-alive appends (so a
#   ``__deepcopy__`` or ``copy.deepcopy`` fallback sees the same memo), values before keys in
#   dicts (``result[k] = v`` evaluates ``v`` first), and the same errors when a container is
#   resized while it is being copied.
# * The memo: while only the fast paths run, no Python code can see the memo (only
#   ``copy.deepcopy`` and the ``__deepcopy__`` methods it calls receive it), so the first
#   MEMO_SLOTS (original, copy) pairs live in two C arrays on the stack (owned references,
#   so no original can die and have its id reused). Right before the first ``copy.deepcopy``
#   fallback, or when the arrays are full, they are written into a real memo dict, in the
#   order the pure twin would have written it (``memo[id(first)]``, then the keep-alive list
#   at ``memo[id(memo)]``, then the others), and the copy goes on with that dict. So a fallback
#   sees exactly the memo the pure twin would have built, and a plain payload costs no dict,
#   no ``id()`` integers and no keep-alive list. ``copy_value(obj, memo)`` with a memo of the
#   caller's uses that dict from the start.
# * Exact-type tests compare ``Py_TYPE(o)`` with cached type pointers; the atomic test is a
#   chain of pointer comparisons (the pure twin's ``_ATOMIC``, checked at import).
# * A list is pre-sized (one slice) only when all its items are atomic: then no Python code
#   can run while it is being filled. Otherwise it is appended to, like the pure twin, because
#   it is already in the memo and a ``__deepcopy__`` may look at it half-built.
# * A tuple is filled in place (PyTuple_New + PyTuple_SET_ITEM) while untracked by the GC,
#   so no Python code can reach it with empty slots; it enters the memo only when complete.
# * Depth: the levels travel as C ints (``_copy_inner`` and ``_copy_tuple_items`` get the
#   level of what they copy, the dict, list, set and frozenset copies that of the items),
#   and ``_copy_inner`` raises the pure twin's RecursionError beyond MAX_DEPTH, at the same
#   point of the algorithm (after the atomic test, before the memo lookup). Recursion into
#   containers also goes through Py_EnterRecursiveCall, so a copy started with hardly any
#   stack left raises RecursionError instead of crashing. Py_EnterRecursiveCall returns
#   nonzero (1, not -1) on failure: ``_enter`` turns that into Cython's ``except -1``, and
#   Py_LeaveRecursiveCall runs only after a successful enter.
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE, PyCallable_Check
from cpython.ref cimport Py_INCREF, Py_DECREF
from cpython.dict cimport PyDict_Next, PyDict_GetItemWithError, PyDict_SetItem, PyDict_Size
from cpython.dict cimport PyDict_Copy
from cpython.list cimport PyList_Append, PyList_GET_ITEM, PyList_GET_SIZE, PyList_GetSlice
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM, PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.set cimport PySet_Add
from cpython.long cimport PyLong_FromVoidPtr

import copy as _copy

cdef extern from "Python.h":
    int Py_EnterRecursiveCall(const char *where) noexcept   # nonzero (exception set) on failure
    void Py_LeaveRecursiveCall()
    void PyObject_GC_Track(void *op)
    void PyObject_GC_UnTrack(void *op)
    object PyFrozenSet_New(object iterable)

__all__ = ["MAX_DEPTH", "copy_call", "copy_value"]

cdef enum:
    _MAX_DEPTH = 100

#: The deepest level the copier accepts (see the module docstring).
MAX_DEPTH = _MAX_DEPTH

_TOO_DEEP = (f"tasktonic copier: the argument is nested deeper than {MAX_DEPTH} levels "
             "(MAX_DEPTH)")

_ATOMIC = frozenset((type(None), bool, int, float, complex, str, bytes, range,
                     type(Ellipsis), type(NotImplemented)))

# Cached type pointers (the built-in types are immortal for the life of the interpreter).
cdef PyTypeObject* _T_STR = <PyTypeObject*>str
cdef PyTypeObject* _T_INT = <PyTypeObject*>int
cdef PyTypeObject* _T_FLOAT = <PyTypeObject*>float
_NoneType = type(None)
_EllipsisType = type(Ellipsis)
_NotImplementedType = type(NotImplemented)
cdef PyTypeObject* _T_NONE = <PyTypeObject*>_NoneType
cdef PyTypeObject* _T_BOOL = <PyTypeObject*>bool
cdef PyTypeObject* _T_BYTES = <PyTypeObject*>bytes
cdef PyTypeObject* _T_COMPLEX = <PyTypeObject*>complex
cdef PyTypeObject* _T_RANGE = <PyTypeObject*>range
cdef PyTypeObject* _T_ELLIPSIS = <PyTypeObject*>_EllipsisType
cdef PyTypeObject* _T_NOTIMPL = <PyTypeObject*>_NotImplementedType

cdef PyTypeObject* _T_DICT = <PyTypeObject*>dict
cdef PyTypeObject* _T_LIST = <PyTypeObject*>list
cdef PyTypeObject* _T_TUPLE = <PyTypeObject*>tuple
cdef PyTypeObject* _T_SET = <PyTypeObject*>set
cdef PyTypeObject* _T_FROZENSET = <PyTypeObject*>frozenset


cdef inline bint _atomic_type(PyTypeObject* t) noexcept:
    return (t == _T_STR or t == _T_INT or t == _T_FLOAT or t == _T_NONE or t == _T_BOOL
            or t == _T_BYTES or t == _T_COMPLEX or t == _T_RANGE or t == _T_ELLIPSIS
            or t == _T_NOTIMPL)


cdef inline bint _atomic(object o) noexcept:
    return _atomic_type(Py_TYPE(o))


cdef inline int _enter(const char* where) except -1:
    """Py_EnterRecursiveCall with Cython's error convention."""
    if Py_EnterRecursiveCall(where):
        return -1
    return 0


def _check_atomic_types():
    # The pointer chain above and ``_ATOMIC`` must name the same ten types.
    for cls in _ATOMIC:
        if not _atomic_type(<PyTypeObject*>cls):
            raise ImportError(f"tasktonic._core.copy: {cls!r} missing from the atomic test")
    if len(_ATOMIC) != 10:
        raise ImportError("tasktonic._core.copy: the atomic types changed")

_check_atomic_types()
del _check_atomic_types


cdef enum:
    MEMO_SLOTS = 32

cdef struct _Memo:
    PyObject* memo          # the memo dict (owned), or NULL while the C arrays hold the memo
    PyObject* memo_id       # id(memo) (owned), when ``memo`` is set
    Py_ssize_t n            # pairs in the C arrays (only while ``memo`` is NULL)
    PyObject* orig[MEMO_SLOTS]    # originals, in the order the pure twin remembers them
    PyObject* dup[MEMO_SLOTS]     # their copies


cdef inline void _memo_init(_Memo* m) noexcept:
    m.memo = NULL
    m.memo_id = NULL
    m.n = 0


cdef int _memo_use_dict(_Memo* m, dict memo) except -1:
    cdef object memo_id = PyLong_FromVoidPtr(<void*>memo)
    Py_INCREF(memo)
    m.memo = <PyObject*>memo
    Py_INCREF(memo_id)
    m.memo_id = <PyObject*>memo_id
    return 0


cdef void _memo_release(_Memo* m) noexcept:
    cdef Py_ssize_t i
    cdef Py_ssize_t n = m.n
    m.n = 0
    for i in range(n):
        Py_DECREF(<object>m.orig[i])
        Py_DECREF(<object>m.dup[i])
    if m.memo is not NULL:
        Py_DECREF(<object>m.memo)
        m.memo = NULL
    if m.memo_id is not NULL:
        Py_DECREF(<object>m.memo_id)
        m.memo_id = NULL


cdef int _materialize(_Memo* m) except -1:
    """Write the C arrays into a memo dict, exactly as the pure twin would have built it."""
    cdef Py_ssize_t i
    cdef dict memo = {}
    cdef list keep = None
    cdef object original
    _memo_use_dict(m, memo)
    for i in range(m.n):
        original = <object>m.orig[i]
        PyDict_SetItem(memo, PyLong_FromVoidPtr(<void*>original), <object>m.dup[i])
        if keep is None:
            keep = [original]
            PyDict_SetItem(memo, <object>m.memo_id, keep)
        else:
            PyList_Append(keep, original)
    # The dict and the keep-alive list now own what the arrays held.
    for i in range(m.n):
        Py_DECREF(<object>m.orig[i])
        Py_DECREF(<object>m.dup[i])
    m.n = 0
    return 0


cdef inline PyObject* _lookup(_Memo* m, object obj) except? NULL:
    """The copy already made of ``obj`` (borrowed), or NULL."""
    cdef Py_ssize_t i
    cdef PyObject* p = <PyObject*>obj
    if m.memo is NULL:
        for i in range(m.n):
            if m.orig[i] == p:
                return m.dup[i]
        return NULL
    return PyDict_GetItemWithError(<object>m.memo, PyLong_FromVoidPtr(<void*>obj))


cdef int _remember(_Memo* m, object original, object duplicate) except -1:
    """Record a copy the way ``copy.deepcopy`` does, so a fallback shares the memo."""
    cdef Py_ssize_t n = m.n
    cdef PyObject* keep
    if m.memo is NULL:
        if n < MEMO_SLOTS:
            Py_INCREF(original)
            Py_INCREF(duplicate)
            m.orig[n] = <PyObject*>original
            m.dup[n] = <PyObject*>duplicate
            m.n = n + 1
            return 0
        _materialize(m)
    memo = <object>m.memo
    PyDict_SetItem(memo, PyLong_FromVoidPtr(<void*>original), duplicate)
    keep = PyDict_GetItemWithError(memo, <object>m.memo_id)
    if keep is NULL:
        PyDict_SetItem(memo, <object>m.memo_id, [original])
    elif Py_TYPE(<object>keep) == _T_LIST:
        PyList_Append(<object>keep, original)
    else:
        (<object>keep).append(original)
    return 0


def copy_value(obj, memo=None):
    """Return a deep copy of ``obj`` under the rules in the module docstring."""
    cdef _Memo m
    if _atomic(obj):
        return obj
    if memo is not None and type(memo) is not dict:
        # An exotic memo (a mapping that is not a plain dict): the pure twin handles it
        # through the mapping's own methods, so the semantics stay the same.
        from tasktonic._pure.copy import copy_value as pure_copy_value
        return pure_copy_value(obj, memo)
    _memo_init(&m)
    try:
        if memo is not None:
            _memo_use_dict(&m, <dict>memo)
        return _copy_inner(obj, &m, 1)
    finally:
        _memo_release(&m)


def copy_call(args, kwargs):
    """Copy the arguments of one sparkle call with one memo shared by args and kwargs."""
    if ((args is not None and type(args) is not tuple)
            or (kwargs is not None and type(kwargs) is not dict)):
        # Not what a sparkle call passes (a tuple subclass, a mapping): the pure twin takes
        # it through the objects' own methods, so the semantics stay the same.
        from tasktonic._pure.copy import copy_call as pure_copy_call
        return pure_copy_call(args, kwargs)
    return _copy_call(<tuple>args, <dict>kwargs)


cdef object _copy_call(tuple args, dict kwargs):
    cdef Py_ssize_t i, n, pos
    cdef PyObject* kp
    cdef PyObject* vp
    cdef dict new_kwargs
    cdef object key, value
    cdef _Memo m
    # Fast exit: nothing to copy (no Python code can run).
    n = PyTuple_GET_SIZE(args) if args is not None else 0
    for i in range(n):
        if not _atomic_type(Py_TYPE(<object>PyTuple_GET_ITEM(args, i))):
            break
    else:
        if not kwargs:
            return args, kwargs
        pos = 0
        while PyDict_Next(kwargs, &pos, &kp, &vp):
            if not _atomic_type(Py_TYPE(<object>vp)):
                break
        else:
            return args, PyDict_Copy(kwargs)
    _memo_init(&m)
    try:
        if args:
            # The memo is empty: the pure twin's lookup of ``args`` in it always misses.
            # The arguments are at level 1, so ``args`` itself counts as level 0.
            args = _copy_tuple_items(args, &m, 0)
        if kwargs:
            new_kwargs = {}
            n = PyDict_Size(kwargs)
            pos = 0
            while PyDict_Next(kwargs, &pos, &kp, &vp):
                key = <object>kp
                value = <object>vp
                if not _atomic(value):
                    value = _copy_inner(value, &m, 1)
                PyDict_SetItem(new_kwargs, key, value)
                if PyDict_Size(kwargs) != n:
                    raise RuntimeError("dictionary changed size during iteration")
            kwargs = new_kwargs
    finally:
        _memo_release(&m)
    return args, kwargs


cdef object _copy_inner(object obj, _Memo* m, int depth):
    """Copy a non-atomic ``obj`` found at level ``depth`` (the callers did the atomic test)."""
    cdef PyTypeObject* t = Py_TYPE(obj)
    cdef PyObject* found
    if depth > _MAX_DEPTH:
        raise RecursionError(_TOO_DEEP)
    found = _lookup(m, obj)
    if found is not NULL:
        return <object>found
    if t == _T_DICT:
        return _copy_dict(<dict>obj, m, depth + 1)
    if t == _T_LIST:
        return _copy_list(<list>obj, m, depth + 1)
    if t == _T_TUPLE:
        return _copy_tuple_items(<tuple>obj, m, depth)
    if t == _T_SET:
        return _copy_set(<set>obj, m, depth + 1)
    if t == _T_FROZENSET:
        return _copy_frozenset(obj, m, depth + 1)
    if getattr(<object>t, "_tt_by_reference", False) or PyCallable_Check(obj):
        return obj
    if m.memo is NULL:
        _materialize(m)
    return _copy.deepcopy(obj, <object>m.memo)


cdef object _copy_dict(dict obj, _Memo* m, int inner):
    """Copy a dict whose keys and values are at level ``inner``."""
    cdef dict result = {}
    cdef Py_ssize_t pos = 0
    cdef Py_ssize_t size
    cdef PyObject* kp
    cdef PyObject* vp
    cdef object k, v
    _remember(m, obj, result)
    _enter(" while copying a dict")
    try:
        size = PyDict_Size(obj)
        while PyDict_Next(obj, &pos, &kp, &vp):
            k = <object>kp      # owned references: the copies below may run Python code
            v = <object>vp
            if not _atomic(v):  # ``result[k] = v`` evaluates ``v`` first
                v = _copy_inner(v, m, inner)
            if not _atomic(k):
                k = _copy_inner(k, m, inner)
            PyDict_SetItem(result, k, v)
            if PyDict_Size(obj) != size:
                raise RuntimeError("dictionary changed size during iteration")
    finally:
        Py_LeaveRecursiveCall()
    return result


cdef object _copy_list(list obj, _Memo* m, int inner):
    """Copy a list whose items are at level ``inner``."""
    cdef Py_ssize_t i
    cdef Py_ssize_t n = PyList_GET_SIZE(obj)
    cdef list result
    cdef object v
    for i in range(n):
        if not _atomic_type(Py_TYPE(<object>PyList_GET_ITEM(obj, i))):
            break
    else:
        # Only atomic items: one pre-sized copy; no Python code runs before it is complete.
        result = PyList_GetSlice(obj, 0, n)
        _remember(m, obj, result)
        return result
    result = []
    _remember(m, obj, result)
    _enter(" while copying a list")
    try:
        i = 0
        while i < PyList_GET_SIZE(obj):   # re-read, like the list iterator of the pure twin
            v = <object>PyList_GET_ITEM(obj, i)
            if not _atomic(v):
                v = _copy_inner(v, m, inner)
            PyList_Append(result, v)
            i += 1
    finally:
        Py_LeaveRecursiveCall()
    return result


cdef object _copy_tuple_items(tuple obj, _Memo* m, int depth):
    """The tuple branch of the pure twin's ``_copy_inner`` (the caller did the depth test and
    the memo lookup): ``obj`` is at level ``depth`` (0: the arguments of a call), its items
    one level deeper."""
    cdef Py_ssize_t i, j
    cdef Py_ssize_t n = PyTuple_GET_SIZE(obj)
    cdef bint changed = False
    cdef tuple result
    cdef object item, dup
    cdef PyObject* found
    for i in range(n):
        if not _atomic_type(Py_TYPE(<object>PyTuple_GET_ITEM(obj, i))):
            break
    else:
        return obj          # nothing inside needs copying (also the empty tuple)
    result = PyTuple_New(n)
    PyObject_GC_UnTrack(<void*>result)     # invisible to gc.get_objects() while half-filled
    _enter(" while copying a tuple")
    try:
        for j in range(i):
            item = <object>PyTuple_GET_ITEM(obj, j)
            Py_INCREF(item)
            PyTuple_SET_ITEM(result, j, item)
        for j in range(i, n):
            item = <object>PyTuple_GET_ITEM(obj, j)
            if _atomic(item):
                dup = item
            else:
                dup = _copy_inner(item, m, depth + 1)
                if dup is not item:
                    changed = True
            Py_INCREF(dup)
            PyTuple_SET_ITEM(result, j, dup)
    finally:
        Py_LeaveRecursiveCall()
    PyObject_GC_Track(<void*>result)
    # A cyclic reference back to this tuple may already have produced its copy.
    found = _lookup(m, obj)
    if found is not NULL:
        return <object>found
    if not changed:
        return obj
    _remember(m, obj, result)
    return result


cdef object _copy_set(set obj, _Memo* m, int inner):
    """Copy a set whose items are at level ``inner``."""
    cdef set result = set()
    cdef object v
    _remember(m, obj, result)
    _enter(" while copying a set")
    try:
        for v in obj:       # Cython's set iteration raises if the set changes size
            if not _atomic(v):
                v = _copy_inner(v, m, inner)
            PySet_Add(result, v)
    finally:
        Py_LeaveRecursiveCall()
    return result


cdef object _copy_frozenset(object obj, _Memo* m, int inner):
    """Copy a frozenset whose items are at level ``inner``."""
    cdef list items
    cdef bint changed = False
    cdef object v, dup
    for v in obj:
        if not _atomic(v):
            break
    else:
        return obj          # nothing inside needs copying
    items = []
    _enter(" while copying a frozenset")
    try:
        for v in obj:
            if _atomic(v):
                dup = v
            else:
                dup = _copy_inner(v, m, inner)
                if dup is not v:
                    changed = True
            PyList_Append(items, dup)
    finally:
        Py_LeaveRecursiveCall()
    if not changed:
        return obj
    result = PyFrozenSet_New(items)
    _remember(m, obj, result)
    return result
