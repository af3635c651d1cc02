"""The daemon runtime of seed 004, for tasktonic: asyncio, trio and threading payloads.

Code written for the document's API runs with only the import changed::

    import asyncio
    from tasktonic.daemon import runtime, service

    @service(flavour=asyncio)
    class Poller:
        async def run(self): ...

    runtime.adopt(some_coroutine_function, flavour=asyncio)
    value = runtime.execute(some_function, 1, 2, flavour=threading)

It runs inside a tasktonic application. Tonics adopt payloads with ``ttAdopter.adopt`` and hear
their outcome as sparkles on their own catalyst. ``ttAsyncioCatalyst`` runs a catalyst inside
an asyncio loop (``await run_async(MyFormula)`` fits an application into an asyncio program);
``ttTrioCatalyst`` (``tasktonic.daemon.triocat``, needs ``tasktonic[trio]``) inside ``trio.run``.
"""
from __future__ import annotations

from .adopter import ttAdopter
from .aio import AsyncioLoop, run_async, ttAsyncioCatalyst
from .handle import AdoptHandle
from .runners import ttPayloadError
from .runtime import ServiceRunner, runtime
from .service import service

__all__ = ["runtime", "service", "ServiceRunner", "AdoptHandle", "ttAdopter", "ttPayloadError",
           "ttAsyncioCatalyst", "AsyncioLoop", "run_async"]
