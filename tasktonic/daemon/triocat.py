"""ttTrioCatalyst: a catalyst whose sparkles run inside ``trio.run``, in its own thread.

Sparkles from other threads wake trio with the run's token (``run_sync_soon``); the catalyst's
timers are one cancel scope whose deadline follows ``timers.next_deadline()``. ``nursery`` is
open while the catalyst runs: tonics on it (and the daemon's trio flavour) start trio tasks
there.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .._extras import require
from ..foreign import ForeignLoop, ttForeignCatalyst

trio = require("trio", "trio")

__all__ = ["ttTrioCatalyst", "TrioLoop"]


class TrioLoop(ForeignLoop):
    """A sparkle loop run in batches by ``trio.run``."""

    def __init__(self, on_error: Callable) -> None:
        super().__init__(on_error)
        self.nursery: Any = None
        self._token: Any = None
        self._done: Any = None
        self._deadline = math.inf
        self._scope: Any = None

    def schedule(self) -> None:
        try:
            self._token.run_sync_soon(self.batch)
        except trio.RunFinishedError:
            pass  # trio has ended: the catalyst has too

    def arm(self, delay: float | None) -> None:
        self._deadline = math.inf if delay is None else trio.current_time() + delay
        if self._scope is not None:
            self._scope.deadline = self._deadline

    async def _timer(self) -> None:
        while True:
            with trio.CancelScope(deadline=self._deadline) as scope:
                self._scope = scope
                await trio.sleep_forever()
            self._scope = None
            self._deadline = math.inf
            self.timer_due()

    async def _serve(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._done = trio.Event()
        async with trio.open_nursery() as nursery:
            self.nursery = nursery
            nursery.start_soon(self._timer)
            self.begin()
            await self._done.wait()
            nursery.cancel_scope.cancel()
        self.nursery = None

    def run_foreign(self) -> None:
        trio.run(self._serve)

    def quit_foreign(self) -> None:
        self._done.set()


class ttTrioCatalyst(ttForeignCatalyst):
    """A catalyst inside ``trio.run`` (its own thread): tonics on it may start trio tasks."""

    _tt_loop_class = TrioLoop
    _tt_sparkle_loop: TrioLoop

    @property
    def nursery(self) -> Any:
        """The nursery open while the catalyst runs (use it on the catalyst's thread)."""
        return self._tt_sparkle_loop.nursery
