"""ttSelectorCatalyst: a catalyst that waits in ``selectors``, so tonics can own sockets.

An ordinary catalyst sleeps on a lock until a sparkle arrives. This one sleeps in
``selector.select()``: it wakes at once when a registered socket (or pipe, or serial port) is
ready, and when a sparkle is queued from another thread (a byte on an internal socket pair).
A tonic on this catalyst registers a file object with a sparkle method as callback; readiness
arrives as that sparkle, ``callback(fileobj, events)``, on the catalyst's own thread, so the
tonic reads and writes its sockets without locks.

Fair I/O: a catalyst busy with sparkles would only look at its sockets once nothing is ready,
so a chain of sparkles could starve them. With ``poll_every=N`` (default
``DEFAULT_POLL_EVERY``) the loop runs at most N orders per pass and then polls the selector
without waiting (``SelectorLoop.poll``): readiness found there is queued behind the orders
already waiting, so an I/O event waits for at most the orders queued before it.
``poll_every=0`` polls only when idle (the loop's plain behaviour).
"""
from __future__ import annotations

import functools
import selectors
import socket
from collections.abc import Callable
from typing import Any

from ._switch import loop as _loop
from .catalyst import ttCatalyst

__all__ = ["ttSelectorCatalyst", "SelectorLoop", "EVENT_READ", "EVENT_WRITE",
           "DEFAULT_POLL_EVERY"]

EVENT_READ = selectors.EVENT_READ
EVENT_WRITE = selectors.EVENT_WRITE
#: Orders a busy selector catalyst runs between two looks at its sockets: a zero-timeout
#: select costs about as much as one sparkle, so polling costs ~2% of a chain's throughput.
DEFAULT_POLL_EVERY = 64


class SelectorLoop(_loop.SparkleLoop):
    """A sparkle loop whose idle wait is ``selector.select`` and whose wake is a byte."""

    def __init__(self, on_error: Callable) -> None:
        super().__init__(on_error)
        self.selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.selector.register(self._wake_r, EVENT_READ, None)

    def wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, InterruptedError):
            pass  # the pipe is full of wake bytes already: the loop will wake
        except OSError:
            pass  # closed: the catalyst has finished

    def block(self, timeout: float | None) -> None:
        self._dispatch(self.selector.select(timeout))

    def poll(self) -> None:
        """Queue the readiness of the sockets that are ready now, without waiting."""
        self._dispatch(self.selector.select(0))

    def _dispatch(self, ready: list[tuple[selectors.SelectorKey, int]]) -> None:
        for key, events in ready:
            if key.data is None:
                self._drain_wake()
            else:
                key.data(key.fileobj, events)  # a sparkle method: queues the readiness

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError, OSError):
            pass

    def close_selector(self) -> None:
        """Release the selector and the wake pair (once the catalyst has finished)."""
        self.selector.close()
        self._wake_r.close()
        self._wake_w.close()


class ttSelectorCatalyst(ttCatalyst):
    """A catalyst whose tonics own sockets: readiness arrives as their sparkles."""

    _tt_loop_class = SelectorLoop
    _tt_sparkle_loop: SelectorLoop  # _tt_loop_class, as this class overrides no extension point

    def __init__(self, *args: Any, poll_every: int = DEFAULT_POLL_EVERY, **kwargs: Any) -> None:
        """``poll_every``: orders run between two looks at the sockets (0: only when idle)."""
        super().__init__(*args, **kwargs)
        if isinstance(poll_every, bool) or not isinstance(poll_every, int):
            raise TypeError(f"tasktonic: poll_every of catalyst {self.name!r} must be an int, "
                            f"got {type(poll_every).__name__}")
        if poll_every < 0:
            raise ValueError(f"tasktonic: poll_every of catalyst {self.name!r} must be >= 0, "
                             f"got {poll_every}")
        self._tt_sparkle_loop.poll_every = poll_every

    def register(self, fileobj: Any, events: int, sparkle: Callable) -> None:
        """Call ``sparkle(fileobj, events)`` (queued, on this catalyst) while ``fileobj`` is ready.

        ``sparkle`` must be a sparkle method of a tonic on this catalyst; ``events`` is
        ``EVENT_READ``, ``EVENT_WRITE`` or both. From another thread the registration is queued.
        """
        if not getattr(getattr(sparkle, "__func__", None), "_tt_sparkle_method", False):
            raise TypeError("tasktonic: register() takes a sparkle method (tonic.ttse__x), "
                            f"got {sparkle!r}")
        if not isinstance(events, int) or not events or events & ~(EVENT_READ | EVENT_WRITE):
            raise ValueError(f"tasktonic: events must be EVENT_READ and/or EVENT_WRITE, "
                             f"got {events!r}")
        self._tt_run_on_own_thread(self._tt_select.register, fileobj, events, sparkle)

    def modify(self, fileobj: Any, events: int, sparkle: Callable) -> None:
        """Change what ``fileobj`` is watched for, or its sparkle."""
        self._tt_run_on_own_thread(self._tt_select.modify, fileobj, events, sparkle)

    def unregister(self, fileobj: Any) -> None:
        """Stop watching ``fileobj`` (a no-op when it is not registered)."""
        self._tt_run_on_own_thread(self._tt_unregister, fileobj)

    @property
    def _tt_select(self) -> selectors.BaseSelector:
        return self._tt_sparkle_loop.selector

    def _tt_unregister(self, fileobj: Any) -> None:
        try:
            self._tt_select.unregister(fileobj)
        except (KeyError, ValueError):
            pass

    def _tt_run_on_own_thread(self, func: Callable, *args: Any) -> None:
        if self.on_own_thread():
            func(*args)
        else:  # a partial is callable, so the socket inside it is not copied across threads
            self._ttss__call(functools.partial(func, *args))

    def _tt_completed(self) -> None:
        super()._tt_completed()
        self._tt_sparkle_loop.close_selector()
