"""The asyncio / uvloop equivalents of the workloads that have one.

Each function takes a fresh event loop (``asyncio.new_event_loop()`` or
``uvloop.new_event_loop()``), runs the equivalent with plain callbacks (no coroutines: the
closest thing to a queued sparkle is ``call_soon``) and returns the same metric keys as
``bench.workloads``. Nothing is copied across threads: that is the point of comparison.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from itertools import repeat
from time import monotonic, perf_counter, process_time
from typing import Any

from .workloads import (
    HOLD_S,
    arm_timers,
    iot_payload,
    summarise_timers,
    time_stop_start,
    timer_offsets,
)


def run_loop(loop: asyncio.AbstractEventLoop, start: Callable[[], None]) -> None:
    """Run ``start`` as the first callback, until a callback calls ``loop.stop()``."""
    try:
        loop.call_soon(start)
        loop.run_forever()
    finally:
        loop.close()


def chain(loop: asyncio.AbstractEventLoop, size: int) -> dict:
    """``call_soon`` chain: each callback schedules the next."""
    result: dict = {}
    call_soon = loop.call_soon

    def step(n: int) -> None:
        if n:
            call_soon(step, n - 1)
        else:
            result["seconds"] = perf_counter() - result["t0"]
            loop.stop()

    def start() -> None:
        result["t0"] = perf_counter()
        call_soon(step, size)

    run_loop(loop, start)
    return {"chain_ops": size / result["seconds"]}


def fanout(loop: asyncio.AbstractEventLoop, tonics: int, per_tonic: int = 200) -> dict:
    """``call_soon`` to the methods of ``tonics`` objects, round-robin, from one callback."""
    result: dict = {"done": 0}

    def target_done() -> None:
        result["done"] += 1
        if result["done"] == tonics:
            result["seconds"] = perf_counter() - result["t0"]
            loop.stop()

    class Target:
        hits = 0

        def hit(self, i: int) -> None:
            self.hits += 1
            if self.hits == per_tonic:
                target_done()

    targets = [Target() for _ in range(tonics)]

    def blast() -> None:
        result["t0"] = perf_counter()
        call_soon = loop.call_soon
        for i in range(per_tonic):
            for target in targets:
                call_soon(target.hit, i)

    run_loop(loop, blast)
    return {"fanout_ops": tonics * per_tonic / result["seconds"]}


def crossthread(loop: asyncio.AbstractEventLoop, size: int) -> dict:
    """A plain thread sends ``size`` payloads with ``call_soon_threadsafe`` (no copy)."""
    result: dict = {"received": 0}
    payload = iot_payload()

    def reading(value: Any) -> None:
        result["received"] += 1
        if result["received"] == size:
            result["seconds"] = perf_counter() - result["t0"]
            loop.stop()

    def produce() -> None:
        send = loop.call_soon_threadsafe
        result["t0"] = perf_counter()
        for _ in repeat(None, size):
            send(reading, payload)

    def start() -> None:
        threading.Thread(target=produce, name="bench-producer", daemon=True).start()

    run_loop(loop, start)
    return {"crossthread_ops": size / result["seconds"]}


class _Timer:
    """A restartable single shot over ``call_later``: the shape of ``ttTimerSingleShot``."""

    __slots__ = ("loop", "callback", "id", "period", "handle")

    def __init__(self, loop: asyncio.AbstractEventLoop, period: float,
                 callback: Callable[[dict], None], timer_id: int) -> None:
        self.loop, self.callback, self.id, self.period = loop, callback, timer_id, period
        self.handle = loop.call_later(period, callback, {"id": timer_id})

    def stop(self) -> None:
        self.handle.cancel()

    def start(self) -> None:
        self.handle = self.loop.call_later(self.period, self.callback, {"id": self.id})

    def change_timer(self, seconds: float) -> None:
        self.period = seconds


def timers(loop: asyncio.AbstractEventLoop, size: int) -> dict:
    """The phases of ``bench.workloads.timers`` with ``call_later`` handles."""
    offsets = timer_offsets(size)
    result: dict = {}
    lateness: list[float] = []
    deadlines: dict[int, float] = {}

    def on_fire(info: dict) -> None:
        lateness.append(monotonic() - deadlines[info["id"]])
        if len(lateness) == size:
            result["timers_cpu_s"] = process_time() - result.pop("cpu0")
            loop.stop()

    def arm(all_timers: list) -> None:
        result["cpu0"] = process_time()
        deadlines.update(arm_timers(all_timers, offsets))

    def start() -> None:
        t0 = perf_counter()
        all_timers = [_Timer(loop, HOLD_S, on_fire, i) for i in range(size)]
        result["timers_create_us"] = (perf_counter() - t0) / size * 1e6
        stop_us, start_us = time_stop_start(all_timers)
        result["timers_stop_us"], result["timers_start_us"] = stop_us, start_us
        loop.call_soon(arm, all_timers)

    run_loop(loop, start)
    return summarise_timers(result, lateness, size)
