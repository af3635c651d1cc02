"""AdoptHandle: one adopted payload, from its start to the one place its outcome goes.

A handle is settled once, on the payload's thread, and hands its outcome to its *sink*: the
adopting tonic (as a sparkle on the tonic's own catalyst), a waiting ``execute`` call, or, for
a payload adopted outside any tonic, the runtime's error policy. ``cancel()`` is final: once it
has returned True, no outcome of that payload reaches its tonic, even one already on its way.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ["AdoptHandle", "Outcome"]

_PENDING, _SETTLED, _DELIVERED, _CANCELLED = range(4)


class Outcome:
    """A payload's end: ``value`` when ``ok``, else the exception (``cancelled``: it was)."""

    __slots__ = ("ok", "value", "cancelled")
    _tt_by_reference = True  # the exception keeps its traceback across threads

    def __init__(self, ok: bool, value: Any, cancelled: bool = False) -> None:
        self.ok = ok
        self.value = value
        self.cancelled = cancelled


class AdoptHandle:
    """What ``adopt`` returns: ``cancel()``, and what was adopted."""

    _tt_by_reference = True  # passed as it is to the sparkles that report on it

    def __init__(self, payload: Callable, args: tuple, kwargs: dict, flavour: ModuleType,
                 sink: Callable[[AdoptHandle, Outcome], None]) -> None:
        self.payload = payload
        self.args = args
        self.kwargs = kwargs
        self.flavour = flavour
        self._sink = sink
        self._lock = threading.Lock()
        self._state = _PENDING
        #: What the flavour runs (an asyncio task, a trio cancel scope, a pool job).
        self.job: Any = None
        #: Asks the flavour to stop the payload (set by the runner that starts it).
        self.abort: Callable[[AdoptHandle], None] | None = None

    @property
    def name(self) -> str:
        """The payload's qualified name, for messages."""
        return getattr(self.payload, "__qualname__", repr(self.payload))

    @property
    def cancelled(self) -> bool:
        """True once ``cancel()`` has taken effect."""
        return self._state == _CANCELLED

    @property
    def done(self) -> bool:
        """True once the payload has ended (or was cancelled)."""
        return self._state != _PENDING

    def cancel(self) -> bool:
        """Cancel the payload (a coroutine is cancelled gracefully; a thread cannot be stopped,
        only its outcome is dropped). False when the outcome was already delivered."""
        with self._lock:
            state = self._state
            if state in (_DELIVERED, _CANCELLED):
                return state == _CANCELLED
            self._state = _CANCELLED
        if state == _PENDING and self.abort is not None:
            self.abort(self)
        return True

    def settle(self, outcome: Outcome) -> None:
        """The payload ended (on its thread): hand the outcome to the sink, once."""
        with self._lock:
            if self._state != _PENDING:
                return
            self._state = _SETTLED
        self._sink(self, outcome)

    def take(self) -> bool:
        """On the receiver's thread: True (once) when the outcome may be delivered now."""
        with self._lock:
            if self._state != _SETTLED:
                return False
            self._state = _DELIVERED
            return True

    def __repr__(self) -> str:
        state = ("pending", "settled", "delivered", "cancelled")[self._state]
        return f"<AdoptHandle {self.name} ({self.flavour.__name__}) {state}>"
