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
"""
from __future__ import annotations

import copy as _copy
from typing import Any

__all__ = ["copy_call", "copy_value"]

_ATOMIC = frozenset((type(None), bool, int, float, complex, str, bytes, range,
                     type(Ellipsis), type(NotImplemented)))


def copy_value(obj: Any, memo: dict | None = None) -> Any:
    """Return a deep copy of ``obj`` under the rules in the module docstring."""
    cls = type(obj)
    if cls in _ATOMIC:
        return obj
    if memo is None:
        memo = {}
    return _copy_inner(obj, cls, memo)


def copy_call(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Copy the arguments of one sparkle call with one memo shared by args and kwargs."""
    memo: dict = {}
    if args:
        args = _copy_tuple(args, memo)
    if kwargs:
        kwargs = {key: (value if type(value) in _ATOMIC else _copy_inner(value, type(value), memo))
                  for key, value in kwargs.items()}
    return args, kwargs


def _copy_inner(obj: Any, cls: type, memo: dict) -> Any:
    if cls in _ATOMIC:
        return obj
    found = memo.get(id(obj), memo)
    if found is not memo:
        return found
    if cls is dict:
        result: Any = {}
        _remember(memo, obj, result)
        for key, value in obj.items():
            result[key if type(key) in _ATOMIC else _copy_inner(key, type(key), memo)] = (
                value if type(value) in _ATOMIC else _copy_inner(value, type(value), memo))
        return result
    if cls is list:
        result = []
        _remember(memo, obj, result)
        append = result.append
        for value in obj:
            append(value if type(value) in _ATOMIC else _copy_inner(value, type(value), memo))
        return result
    if cls is tuple:
        return _copy_tuple(obj, memo)
    if cls is set:
        result = set()
        _remember(memo, obj, result)
        for value in obj:
            result.add(value if type(value) in _ATOMIC else _copy_inner(value, type(value), memo))
        return result
    if cls is frozenset:
        items = [v if type(v) in _ATOMIC else _copy_inner(v, type(v), memo) for v in obj]
        if all(a is b for a, b in zip(items, obj)):
            return obj
        result = frozenset(items)
        _remember(memo, obj, result)
        return result
    if getattr(cls, "_tt_by_reference", False) or callable(obj):
        return obj
    return _copy.deepcopy(obj, memo)


def _copy_tuple(obj: tuple, memo: dict) -> tuple:
    found = memo.get(id(obj), memo)
    if found is not memo:
        return found
    items = [v if type(v) in _ATOMIC else _copy_inner(v, type(v), memo) for v in obj]
    # A cyclic reference back to this tuple may already have produced its copy.
    found = memo.get(id(obj), memo)
    if found is not memo:
        return found
    if all(a is b for a, b in zip(items, obj)):
        return obj
    result = tuple(items)
    _remember(memo, obj, result)
    return result


def _remember(memo: dict, original: Any, duplicate: Any) -> None:
    """Record a copy the way ``copy.deepcopy`` does, so a fallback shares the memo."""
    memo[id(original)] = duplicate
    keep = memo.setdefault(id(memo), [])
    keep.append(original)
