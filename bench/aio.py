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
from time import monotonic, perf_counter, process_time, time
from typing import Any

from .workloads import (
    HOLD_S,
    arm_timers,
    iot_metrics,
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


def iot(loop: asyncio.AbstractEventLoop, devices: int) -> dict:
    """``bench.workloads.iot`` with callbacks: the same model classes (``tasktonic.iot.model``)
    and a ``DataTree`` twin (the data structure under ``ttStore``), each device and each site
    aggregator an object whose methods are queued with ``call_soon`` as a tonic's sparkles are.
    """
    from tasktonic.datatree import DataTree
    from tasktonic.iot.model import (
        DEVICE,
        DEVICES_PER_SITE,
        LEVEL,
        LEVELS,
        Sensor,
        SiteStats,
        Thresholds,
        summarise,
    )
    from tasktonic.iot.pipeline import TWIN_PERIOD_S

    from .plan import IOT_READINGS

    call_soon, call_later = loop.call_soon, loop.call_later
    twin, thresholds = DataTree(), Thresholds()
    sites = (devices + DEVICES_PER_SITE - 1) // DEVICES_PER_SITE
    result: dict = {"left": sites}

    def site_complete() -> None:
        result["left"] -= 1
        if not result["left"]:
            result["seconds"] = perf_counter() - result["t0"]
            loop.stop()

    class Aggregator:
        def __init__(self, site: int, sources: int) -> None:
            self.site, self.sources, self.expected = site, sources, 0
            self.stats = SiteStats(site)
            self.complete = False
            self.timer = call_later(TWIN_PERIOD_S, self.tick)

        def on_event(self, event: tuple) -> None:
            stats = self.stats
            if stats.add(event, time()):
                if stats.level_changed(event):
                    twin.set(f"twin/devices/{event[DEVICE]}/state", LEVELS[event[LEVEL]])
                if self.sources <= 0:
                    self.check_complete()

        def on_expect(self, source: int, count: int) -> None:
            self.sources -= 1
            self.expected += count
            self.check_complete()

        def tick(self) -> None:
            self.update_twin()
            self.timer = call_later(TWIN_PERIOD_S, self.tick)

        def update_twin(self) -> None:
            twin.set(f"twin/sites/{self.site}", self.stats.snapshot())

        def check_complete(self) -> None:
            if not self.complete and self.sources <= 0 and self.stats.count >= self.expected:
                self.complete = True
                self.timer.cancel()
                self.update_twin()
                call_soon(site_complete)

    class Device:
        def __init__(self, device: int, sink: Aggregator) -> None:
            self.device, self.site, self.sink = device, device // DEVICES_PER_SITE, sink
            self.remaining = IOT_READINGS
            self.sensor = Sensor(device)
            self.state = LEVELS[0]

        def read(self) -> None:
            events = self.sensor.read(self.device, self.site, thresholds, time())
            on_event = self.sink.on_event
            for event in events:
                call_soon(on_event, event)
            self.state = LEVELS[events[-1][LEVEL]]
            self.remaining -= 1
            if self.remaining <= 0:
                call_soon(self.sink.on_expect, self.device, self.sensor.seq)
            else:
                call_soon(self.read)

    aggregators = [Aggregator(s, min(DEVICES_PER_SITE, devices - s * DEVICES_PER_SITE))
                   for s in range(sites)]

    def start() -> None:
        result["t0"] = perf_counter()
        for d in range(devices):
            call_soon(Device(d, aggregators[d // DEVICES_PER_SITE]).read)

    run_loop(loop, start)
    summary = summarise((a.stats for a in aggregators), sum(a.expected for a in aggregators),
                        result["seconds"], "asyncio")
    if summary["lost"]:
        raise RuntimeError(f"the iot pipeline lost {summary['lost']} events")
    return iot_metrics(summary, devices)
