"""ttSparkleStack: who is running on this thread (the name published by TaskTonic 0.2.4).

A read-only view on the current thread's catalyst: the tonic whose sparkle runs now and the
sparkle's name. Useful in logs and in services that want to know their caller.
"""
from __future__ import annotations

from typing import Any

from . import _context

__all__ = ["ttSparkleStack"]


class ttSparkleStack:
    """Introspection of the sparkle running on the current thread."""

    def get_tonic(self, pos: int = -1) -> Any:
        return _context.current_tonic()

    def get_tonic_name(self, pos: int = -1) -> str | None:
        tonic = _context.current_tonic()
        return None if tonic is None else tonic.name

    def get_sparkle_name(self, pos: int = -1) -> str | None:
        order = _context.current_order()
        return None if order is None else order.sparkle.name

    @property
    def source_tonic(self) -> Any:
        return self.get_tonic()

    @property
    def source_tonic_name(self) -> str | None:
        return self.get_tonic_name()

    @property
    def source_sparkle_name(self) -> str | None:
        return self.get_sparkle_name()
