"""The two records the loop and the dispatch table share: ``WorkOrder`` and ``SparkleEntry``.

In a module of their own, with no imports beyond ``typing``, so the compiled core can use them
without importing the pure loop (and its logging) when it runs: ``import tasktonic`` stays cheap.
``tasktonic._pure.loop`` re-exports both (its contract documents them).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["WorkOrder", "SparkleEntry"]


class WorkOrder(NamedTuple):
    """One queued sparkle call: who, which sparkle, with what."""

    tonic: Any
    sparkle: Any
    args: tuple
    kwargs: dict


class SparkleEntry:
    """One sparkle of one class: its name and its handler for every state."""

    __slots__ = ("name", "table", "by_state", "generic", "system", "__weakref__")

    def __init__(self, name: str, generic: Callable | None, by_state: dict[str, Callable],
                 state_names: tuple[str, ...], system: bool = False) -> None:
        self.name = name
        self.system = system
        self.generic = generic
        self.by_state = by_state
        self.table = ((generic,) + tuple(by_state.get(s, generic) for s in state_names)
                      + (None,))

    def __repr__(self) -> str:
        return f"<sparkle {self.name}>"

    def call_now(self, tonic: Any, args: tuple, kwargs: dict) -> Any:
        """Run the handler for ``tonic``'s active state synchronously (the ``super()`` path)."""
        handler = self.by_state.get(tonic._tt_state_name, self.generic)
        if handler is None:
            return None
        return handler(tonic, *args, **kwargs)
