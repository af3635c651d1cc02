"""ttAsyncioCatalyst: a catalyst whose sparkles run inside an asyncio event loop.

Its tonics run on the asyncio loop's thread, between the loop's own callbacks, so they may
create tasks and touch asyncio objects directly. Sparkles from other threads wake the loop with
``call_soon_threadsafe``; the catalyst's timers are ``call_later`` handles.

Which loop: ``aio_loop=`` if given; else, for the main catalyst of an application started with
``await run_async(MyFormula)``, the running loop of that caller (tasktonic fits into an
existing asyncio program); else a new loop, run by the catalyst's own thread (the formula's
thread for the main catalyst). Any asyncio loop works, uvloop's included.
"""
from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any, TypeVar

from ..foreign import ForeignLoop, ttForeignCatalyst

__all__ = ["ttAsyncioCatalyst", "AsyncioLoop", "run_async"]

T = TypeVar("T")

#: The running loop of ``run_async``'s caller, seen by the formula it runs (in a worker thread).
_host_loop: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = contextvars.ContextVar(
    "tasktonic_host_loop", default=None)


async def run_async(formula: Callable[[], T]) -> T:
    """Run an application from asyncio code: ``await run_async(MyFormula)``.

    The formula runs in a worker thread; a ``ttAsyncioCatalyst`` it creates as its main
    catalyst runs its sparkles in the caller's loop. Returns the formula instance.
    """
    token = _host_loop.set(asyncio.get_running_loop())
    try:
        return await asyncio.to_thread(formula)  # to_thread hands the context over
    finally:
        _host_loop.reset(token)


class AsyncioLoop(ForeignLoop):
    """A sparkle loop run in batches by an asyncio event loop."""

    def __init__(self, on_error: Callable) -> None:
        super().__init__(on_error)
        self.aio: asyncio.AbstractEventLoop = asyncio.new_event_loop()
        self.aio_owned = True  # False: the caller's loop, run by the caller
        self._timer: asyncio.TimerHandle | None = None
        self._done: asyncio.Future | None = None

    def use(self, aio: asyncio.AbstractEventLoop) -> None:
        """Run in ``aio`` (already running elsewhere, or run later by its owner)."""
        self.aio.close()
        self.aio = aio
        self.aio_owned = False

    def schedule(self) -> None:
        try:
            self.aio.call_soon_threadsafe(self.batch)
        except RuntimeError:
            pass  # the loop is closed: the catalyst has ended

    def arm(self, delay: float | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None if delay is None else self.aio.call_later(delay, self.timer_due)

    async def _serve(self) -> None:
        self._done = self.aio.create_future()
        self.begin()
        try:
            await self._done
        finally:
            self.arm(None)

    def run_foreign(self) -> None:
        if self.aio_owned:
            asyncio.set_event_loop(self.aio)
            try:
                self.aio.run_until_complete(self._serve())
            finally:
                asyncio.set_event_loop(None)
        else:
            asyncio.run_coroutine_threadsafe(self._serve(), self.aio).result()

    def quit_foreign(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    def close(self) -> None:
        """Close as a sparkle loop; a loop this catalyst made is closed too, as asyncio.run
        does (its remaining tasks cancelled)."""
        super().close()
        aio = self.aio
        if self.aio_owned and not aio.is_closed():
            tasks = asyncio.all_tasks(aio)
            for task in tasks:
                task.cancel()
            if tasks:  # bounded: a task that ignores its cancellation is abandoned
                aio.run_until_complete(asyncio.wait(tasks, timeout=1.0))
            aio.run_until_complete(aio.shutdown_asyncgens())
            aio.close()


class ttAsyncioCatalyst(ttForeignCatalyst):
    """A catalyst inside an asyncio event loop: tonics on it may use asyncio directly."""

    _tt_loop_class = AsyncioLoop
    _tt_sparkle_loop: AsyncioLoop

    def __init__(self, name: str | None = None, aio_loop: asyncio.AbstractEventLoop | None = None,
                 **kwargs: Any) -> None:
        host = aio_loop if aio_loop is not None else (_host_loop.get() if self.id == 0 else None)
        if host is not None:
            self._tt_sparkle_loop.use(host)
        super().__init__(name=name, **kwargs)

    @property
    def aio_loop(self) -> asyncio.AbstractEventLoop:
        """The asyncio loop this catalyst runs in."""
        return self._tt_sparkle_loop.aio
