"""The flavour runners: one service catalyst per flavour and application.

A runner starts payloads of its flavour, keeps the live ones, and hands each outcome to its
handle. It is a service (it does not keep the application alive) that the main catalyst
finishes with every other catalyst; finishing cancels what still runs and waits for it at most
``tasktonic/daemon/grace`` seconds (default 5), then reports what did not end: a coroutine that
ignores its cancellation, or a thread (a thread cannot be killed; it goes on as a daemon thread
until it returns or the process exits).

* asyncio: one event loop in the runner's own thread (a ``ttAsyncioCatalyst``);
* trio: one ``trio.run`` in the runner's own thread (a ``ttTrioCatalyst``);
* threading: a bounded pool of ``tasktonic/daemon/threads`` daemon threads (default 32).
"""
from __future__ import annotations

import asyncio
import functools
import logging
import threading
from concurrent.futures import CancelledError
from time import monotonic
from types import ModuleType
from typing import Any

from .. import lifecycle
from ..catalyst import ttCatalyst
from ..errors import ttError
from ..ledger import ttLedger
from .aio import ttAsyncioCatalyst
from .handle import AdoptHandle, Outcome
from .pool import ThreadPool

__all__ = ["FlavourRunner", "AsyncioRunner", "ThreadingRunner", "ttPayloadError",
           "trio_runner"]

_log = logging.getLogger("tasktonic")


class ttPayloadError(ttError):
    """A payload adopted outside any tonic raised or returned a value (the runtime's rule)."""


def _cancelled() -> Outcome:
    return Outcome(False, CancelledError(), cancelled=True)


class FlavourRunner(ttCatalyst):
    """Starts, tracks and cancels the payloads of one flavour (a subclass per flavour)."""

    flavour: ModuleType

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.grace = float(ttLedger().setting("tasktonic/daemon/grace", 5.0))
        self._live: set[AdoptHandle] = set()
        self._live_lock = threading.Lock()
        self._open = True
        self._drained = False

    # -- hooks of a flavour ---------------------------------------------------------------
    def launch(self, handle: AdoptHandle) -> None:
        """Start the payload (on the runner's thread); call ``ended`` when it ends."""
        raise NotImplementedError

    def stop_job(self, handle: AdoptHandle) -> None:
        """Cancel a started payload (on the runner's thread)."""
        raise NotImplementedError

    def drain(self, started: list[AdoptHandle]) -> None:
        """Finishing: cancel ``started``, wait at most ``grace``, then call ``drained``."""
        raise NotImplementedError

    def on_loop_thread(self) -> bool:
        """True where ``execute`` would wait for itself (the flavour's own loop or pool)."""
        raise NotImplementedError

    # -- payloads -------------------------------------------------------------------------
    def submit(self, handle: AdoptHandle) -> None:
        """Run the handle's payload (any thread); refused once the runner is finishing."""
        with self._live_lock:
            if not self._open:
                raise RuntimeError(f"tasktonic.daemon: cannot adopt {handle.name}: the "
                                   f"{self.flavour.__name__} runtime is finishing")
            self._live.add(handle)
        handle.abort = self.ttsc__abort
        self.ttsc__start(handle)

    def ttsc__start(self, handle: AdoptHandle) -> None:
        if handle.done:  # cancelled before it began
            self.ended(handle, _cancelled())
            return
        try:
            self.launch(handle)
        except Exception as exc:  # the payload could not even start: its outcome
            self.ended(handle, Outcome(False, exc))

    def ttsc__abort(self, handle: AdoptHandle) -> None:
        if handle.job is not None:
            self.stop_job(handle)

    def ended(self, handle: AdoptHandle, outcome: Outcome) -> None:
        """The payload has ended (any thread): forget it, settle its handle."""
        with self._live_lock:
            self._live.discard(handle)
        handle.settle(outcome)

    def running(self) -> int:
        """How many payloads have not ended yet."""
        with self._live_lock:
            return len(self._live)

    def is_live(self, handle: AdoptHandle) -> bool:
        """True while ``handle``'s payload has not ended."""
        with self._live_lock:
            return handle in self._live

    def report(self, handle: AdoptHandle, outcome: Outcome) -> None:
        """The sink of a payload adopted outside any tonic: a value or an exception is an
        error, handled by the formula's error policy on this runner."""
        if not outcome.cancelled and not (outcome.ok and outcome.value is None):
            self.ttse__on_payload_failed(handle, outcome)

    def ttse__on_payload_failed(self, handle: AdoptHandle, outcome: Outcome) -> None:
        what = f"payload {handle.name} ({self.flavour.__name__}), adopted outside any tonic,"
        if outcome.ok:
            raise ttPayloadError(f"{what} returned {outcome.value!r}: it must return None "
                                 "(adopt it from a tonic to receive its result)")
        error = outcome.value
        raise ttPayloadError(f"{what} raised {type(error).__name__}: {error}") from error

    # -- finishing ------------------------------------------------------------------------
    def _tt_releasing(self) -> None:
        super()._tt_releasing()
        with self._live_lock:
            self._open = False
            live = list(self._live)
        started = []
        for handle in live:
            if handle.job is None:
                self.ended(handle, _cancelled())  # its start, if still queued, skips it
            else:
                started.append(handle)
        if started:
            self.drain(started)
        else:
            self._drained = True

    def drained(self, stuck: list[AdoptHandle]) -> None:
        """The wait of ``drain`` is over (any thread): report ``stuck``, then complete."""
        if stuck:
            names = ", ".join(sorted(h.name for h in stuck))
            if self.flavour is threading:
                _log.error("tasktonic.daemon: %d threading payload(s) still running %.1fs "
                           "after the application finished: %s. A thread cannot be killed: "
                           "they go on as daemon threads until they return or the process "
                           "exits", len(stuck), self.grace, names)
            else:
                _log.error("tasktonic.daemon: %d %s payload(s) did not end within %.1fs of "
                           "being cancelled: %s (abandoned)", len(stuck),
                           self.flavour.__name__, self.grace, names)
        self._ttss__call(self._tt_drain_over)

    def _tt_drain_over(self) -> None:
        self._drained = True
        lifecycle.check_complete(self)

    def _tt_pending(self) -> bool:
        return super()._tt_pending() or not self._drained


class AsyncioRunner(FlavourRunner, ttAsyncioCatalyst):
    """The asyncio flavour: tasks on one event loop, in the runner's own thread."""

    _tt_is_service = "tasktonic/daemon/asyncio"
    flavour = asyncio

    def launch(self, handle: AdoptHandle) -> None:
        task = self.aio_loop.create_task(handle.payload(*handle.args, **handle.kwargs))
        handle.job = task
        task.add_done_callback(functools.partial(self._task_done, handle))

    def _task_done(self, handle: AdoptHandle, task: asyncio.Task) -> None:
        if task.cancelled():
            outcome = _cancelled()
        else:
            error = task.exception()
            outcome = Outcome(True, task.result()) if error is None else Outcome(False, error)
        self.ended(handle, outcome)

    def stop_job(self, handle: AdoptHandle) -> None:
        handle.job.cancel()

    def drain(self, started: list[AdoptHandle]) -> None:
        tasks = [handle.job for handle in started]
        for task in tasks:
            task.cancel()
        self.aio_loop.create_task(self._wait(started, tasks))

    async def _wait(self, started: list[AdoptHandle], tasks: list[asyncio.Task]) -> None:
        _done, pending = await asyncio.wait(tasks, timeout=self.grace)
        self.drained([h for h in started if h.job in pending])

    def on_loop_thread(self) -> bool:
        return self.on_foreign_thread()


class ThreadingRunner(FlavourRunner):
    """The threading flavour: plain functions on a bounded pool of daemon threads."""

    _tt_is_service = "tasktonic/daemon/threading"
    flavour = threading

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        size = int(ttLedger().setting("tasktonic/daemon/threads", 32))
        self.pool = ThreadPool(size, "tasktonic:daemon/threading")

    def launch(self, handle: AdoptHandle) -> None:
        handle.job = threading.Event()  # set once the payload has returned
        self.pool.submit(functools.partial(self._run, handle))

    def _run(self, handle: AdoptHandle) -> None:
        if handle.done:  # cancelled while it waited for a thread
            outcome = _cancelled()
        else:
            try:
                outcome = Outcome(True, handle.payload(*handle.args, **handle.kwargs))
            except Exception as exc:
                outcome = Outcome(False, exc)
        self.ended(handle, outcome)
        handle.job.set()

    def stop_job(self, handle: AdoptHandle) -> None:
        """A running thread cannot be stopped: ``cancel()`` only drops its outcome."""

    def drain(self, started: list[AdoptHandle]) -> None:
        threading.Thread(target=self._wait, args=(started,), daemon=True,
                         name="tasktonic:daemon/threading-drain").start()

    def _wait(self, started: list[AdoptHandle]) -> None:
        end = monotonic() + self.grace
        stuck = [h for h in started if not h.job.wait(max(0.0, end - monotonic()))]
        self.pool.shutdown()
        self.drained(stuck)

    def on_loop_thread(self) -> bool:
        return self.pool.owns_current_thread()

    def _tt_completed(self) -> None:
        super()._tt_completed()
        self.pool.shutdown()


@functools.cache
def trio_runner() -> type[FlavourRunner]:
    """The trio flavour's runner class (trio is imported on first use)."""
    from .triocat import trio, ttTrioCatalyst

    class TrioRunner(FlavourRunner, ttTrioCatalyst):
        """The trio flavour: tasks in one ``trio.run``, in the runner's own thread."""

        _tt_is_service = "tasktonic/daemon/trio"
        flavour = trio

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._idle: Any = None  # a trio.Event while finishing waits

        def launch(self, handle: AdoptHandle) -> None:
            handle.job = trio.CancelScope()
            self.nursery.start_soon(self._run, handle)

        async def _run(self, handle: AdoptHandle) -> None:
            outcome = _cancelled()
            try:
                with handle.job:
                    outcome = Outcome(True, await handle.payload(*handle.args, **handle.kwargs))
            except Exception as exc:
                outcome = Outcome(False, exc)
            self.ended(handle, outcome)
            if self._idle is not None and not self.running():
                self._idle.set()

        def stop_job(self, handle: AdoptHandle) -> None:
            handle.job.cancel()

        def drain(self, started: list[AdoptHandle]) -> None:
            self._idle = trio.Event()
            for handle in started:
                handle.job.cancel()
            self.nursery.start_soon(self._wait, started)

        async def _wait(self, started: list[AdoptHandle]) -> None:
            with trio.move_on_after(self.grace):
                await self._idle.wait()
            self.drained([h for h in started if self.is_live(h)])

        def on_loop_thread(self) -> bool:
            return self.on_foreign_thread()

    return TrioRunner
