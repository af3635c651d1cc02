"""ttShared: pass one object by reference across catalysts, on purpose.

A sparkle called from another thread gets deep copies of its arguments. For a large object
(a big array, a frame buffer) that copy costs more than the work; wrap it in ``ttShared`` and
the receiving tonic gets the same object, unwrapped with ``.value`` or by calling the wrapper.
"""
from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["ttShared"]

T = TypeVar("T")


class ttShared(Generic[T]):
    """A by-reference wrapper that the cross-thread copier passes through untouched.

    Discipline is yours: after handing the object over, the sender must not mutate it while
    the receiver may be using it (or both must only read it). The framework no longer protects
    this object from concurrent access.
    """

    __slots__ = ("value",)
    _tt_by_reference = True

    def __init__(self, value: T) -> None:
        self.value = value

    def __deepcopy__(self, memo: dict) -> ttShared[T]:
        return self  # by reference, also inside objects that copy.deepcopy handles

    def __call__(self) -> T:
        return self.value

    def __repr__(self) -> str:
        return f"ttShared({self.value!r})"
