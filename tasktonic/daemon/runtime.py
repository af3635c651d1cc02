"""ServiceRunner: the daemon runtime of seed 004, ``runtime.adopt`` and ``runtime.execute``.

Flavours are named by their module (``asyncio``, ``trio``, ``threading``). The runtime works
inside a running tasktonic application: each flavour's runner is started on first use and
finished with the application (``tasktonic.daemon.runners``). Unlike the document's daemon,
``execute`` refuses to wait for its own flavour's loop (it would deadlock), service ``run``
methods start at once (no polling), and threading payloads share a bounded pool.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from types import ModuleType
from typing import Any

from ..essence import Phase
from ..ledger import ttLedger
from .handle import AdoptHandle, Outcome
from .runners import AsyncioRunner, FlavourRunner, ThreadingRunner, trio_runner

__all__ = ["ServiceRunner", "runtime"]


def runner_class(flavour: ModuleType) -> type[FlavourRunner]:
    """The runner of ``flavour`` (a module: asyncio, trio or threading)."""
    name = getattr(flavour, "__name__", None)
    if flavour is asyncio:
        return AsyncioRunner
    if flavour is threading:
        return ThreadingRunner
    if name == "trio":
        return trio_runner()
    raise ValueError(f"tasktonic.daemon: unknown flavour {flavour!r}; pass the module "
                     "asyncio, trio or threading")


class ServiceRunner:
    """The runtime: adopts payloads of every flavour into the running application."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runners: dict[type[FlavourRunner], FlavourRunner] = {}
        self._waiting: list[tuple[Callable[[], Any], ModuleType]] = []

    def runner(self, flavour: ModuleType) -> FlavourRunner:
        """The application's runner of ``flavour``, started on first use."""
        cls = runner_class(flavour)
        with self._lock:
            runner = self._runners.get(cls)
            if runner is None or runner.phase != Phase.ACTIVE:
                main = ttLedger().main_catalyst
                if main is None or main.phase != Phase.ACTIVE:
                    raise RuntimeError("tasktonic.daemon: no tasktonic application is running "
                                       "(or it is finishing): payloads run inside one, "
                                       "started by a ttFormula")
                runner = self._runners[cls] = cls()
        return runner

    def adopt(self, payload: Callable[..., Any], *args: Any, flavour: ModuleType,
              **kwargs: Any) -> AdoptHandle:
        """Run ``payload(*args, **kwargs)`` in the background.

        A coroutine function for asyncio and trio, a plain function for threading. Its
        return value (other than None) or exception is an error handled by the formula's
        error policy (``tasktonic/errors/policy``). Returns a handle (``cancel()``).
        """
        runner = self.runner(flavour)
        handle = AdoptHandle(payload, args, kwargs, flavour, runner.report)
        runner.submit(handle)
        return handle

    def execute(self, payload: Callable[..., Any], *args: Any, flavour: ModuleType,
                **kwargs: Any) -> Any:
        """Run ``payload(*args, **kwargs)`` to completion; return its value or raise.

        Refused (RuntimeError) from inside the flavour's own loop or pool, where waiting
        would deadlock, and from inside a running asyncio loop, which waiting would block:
        ``await`` there, or adopt.
        """
        runner = self.runner(flavour)
        if runner.on_loop_thread() or _in_running_asyncio_loop():
            raise RuntimeError(f"tasktonic.daemon: runtime.execute({_name(payload)}, "
                               f"flavour={flavour.__name__}) called from inside a running "
                               "event loop or the flavour's own threads: waiting there would "
                               "deadlock or block the loop; await the coroutine, or use "
                               "runtime.adopt / tonic.adopt and receive its outcome")
        future: Future[Any] = Future()
        runner.submit(AdoptHandle(payload, args, kwargs, flavour,
                                  lambda _handle, outcome: _resolve(future, outcome)))
        return future.result()

    def start_service(self, run: Callable[[], Any], flavour: ModuleType) -> None:
        """Start a service's ``run`` now, or as soon as an application is running."""
        try:
            self.adopt(run, flavour=flavour)
        except RuntimeError:
            with self._lock:
                self._waiting.append((run, flavour))

    def accept(self) -> None:
        """Start the services created while no application was running (inside one)."""
        with self._lock:
            waiting, self._waiting = self._waiting, []
        for run, flavour in waiting:
            self.adopt(run, flavour=flavour)


def _name(payload: Any) -> str:
    return getattr(payload, "__qualname__", repr(payload))


def _in_running_asyncio_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _resolve(future: Future, outcome: Outcome) -> None:
    if outcome.cancelled:
        future.cancel()
    elif outcome.ok:
        future.set_result(outcome.value)
    else:
        future.set_exception(outcome.value)


#: The runtime of the application (seed 004's ``cobald.daemon.runtime``).
runtime = ServiceRunner()
