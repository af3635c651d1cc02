"""The cross-thread argument copier (pure twin of ``_core/copy.pyx``).

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
from __future__ import annotations

import copy as _copy
from typing import Any

__all__ = ["MAX_DEPTH", "copy_call", "copy_value"]

#: The deepest level the copier accepts (see the module docstring).
MAX_DEPTH = 100

_TOO_DEEP = (f"tasktonic copier: the argument is nested deeper than {MAX_DEPTH} levels "
             "(MAX_DEPTH)")

_ATOMIC = frozenset((type(None), bool, int, float, complex, str, bytes, range,
                     type(Ellipsis), type(NotImplemented)))


def copy_value(obj: Any, memo: dict | None = None) -> Any:
    """Return a deep copy of ``obj`` under the rules in the module docstring."""
    cls = type(obj)
    if cls in _ATOMIC:
        return obj
    if memo is None:
        memo = {}
    return _copy_inner(obj, cls, memo, 1)


def copy_call(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Copy the arguments of one sparkle call with one memo shared by args and kwargs."""
    memo: dict = {}
    if args:
        args = _copy_inner(args, tuple, memo, 0)    # the arguments themselves are at level 1
    if kwargs:
        copied = {}
        for key, value in kwargs.items():
            copied[key] = (value if type(value) in _ATOMIC
                           else _copy_inner(value, type(value), memo, 1))
        kwargs = copied
    return args, kwargs


def _copy_inner(obj: Any, cls: type, memo: dict, depth: int) -> Any:
    """Copy ``obj``, found at level ``depth``; what it holds is at ``depth + 1``.

    Plain loops, no comprehensions: one Python frame per level on every Python version.
    """
    if cls in _ATOMIC:
        return obj
    if depth > MAX_DEPTH:
        raise RecursionError(_TOO_DEEP)
    found = memo.get(id(obj), memo)
    if found is not memo:
        return found
    inner = depth + 1
    if cls is dict:
        result: Any = {}
        _remember(memo, obj, result)
        for key, value in obj.items():
            result[key if type(key) in _ATOMIC else _copy_inner(key, type(key), memo, inner)] = (
                value if type(value) in _ATOMIC else _copy_inner(value, type(value), memo, inner))
        return result
    if cls is list:
        result = []
        _remember(memo, obj, result)
        append = result.append
        for value in obj:
            append(value if type(value) in _ATOMIC
                   else _copy_inner(value, type(value), memo, inner))
        return result
    if cls is tuple:
        items: list = []
        append = items.append
        for value in obj:
            append(value if type(value) in _ATOMIC
                   else _copy_inner(value, type(value), memo, inner))
        # A cyclic reference back to this tuple may already have produced its copy.
        found = memo.get(id(obj), memo)
        if found is not memo:
            return found
        if all(a is b for a, b in zip(items, obj)):
            return obj
        result = tuple(items)
        _remember(memo, obj, result)
        return result
    if cls is set:
        result = set()
        _remember(memo, obj, result)
        for value in obj:
            result.add(value if type(value) in _ATOMIC
                       else _copy_inner(value, type(value), memo, inner))
        return result
    if cls is frozenset:
        items = []
        append = items.append
        for value in obj:
            append(value if type(value) in _ATOMIC
                   else _copy_inner(value, type(value), memo, inner))
        if all(a is b for a, b in zip(items, obj)):
            return obj
        result = frozenset(items)
        _remember(memo, obj, result)
        return result
    if getattr(cls, "_tt_by_reference", False) or callable(obj):
        return obj
    return _copy.deepcopy(obj, memo)


def _remember(memo: dict, original: Any, duplicate: Any) -> None:
    """Record a copy the way ``copy.deepcopy`` does, so a fallback shares the memo."""
    memo[id(original)] = duplicate
    keep = memo.setdefault(id(memo), [])
    keep.append(original)
