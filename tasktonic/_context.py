"""Which tonic is running, or being built, on the current thread.

A tonic created inside another tonic's sparkle (or inside its ``__init__``) becomes that
tonic's infusion, and a service learns who accesses it; both need to know the tonic that is
active on this thread. The catalyst binds its loop to its thread; the loop records the order
it runs; construction pushes the tonic being built.
"""
from __future__ import annotations

import threading
from typing import Any

__all__ = ["bind_loop", "bound_loop", "current_tonic", "current_order", "building"]


class _ThreadContext(threading.local):
    loop: Any = None

    def __init__(self) -> None:
        self.building: list = []


_tls = _ThreadContext()


def bind_loop(loop: Any) -> None:
    """Declare ``loop`` as the sparkle loop running on this thread (None to unbind)."""
    _tls.loop = loop


def bound_loop() -> Any:
    """The sparkle loop bound to this thread, or None."""
    return _tls.loop


def building() -> list:
    """The stack of tonics whose ``__init__`` is running on this thread."""
    return _tls.building


def current_order() -> Any:
    """The work order this thread's loop is running, if any."""
    loop = _tls.loop
    return loop.current if loop is not None else None


def current_tonic() -> Any:
    """The tonic being built or run on this thread, or None outside any tonic."""
    ctx = _tls
    if ctx.building:
        return ctx.building[-1]
    loop = ctx.loop
    return loop.current_tonic if loop is not None else None
