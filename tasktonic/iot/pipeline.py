"""The IoT pipeline as tonics: devices → site aggregators → the ``ttStore`` twin.

Why this shape: each device is a small stateful tonic (its level is the tonic's state, ok /
warning / alarm, with hysteresis), spread over a few catalysts; each site has one aggregator
tonic that owns its statistics, so no statistic is shared between threads and nothing needs a
lock. Devices talk to a *sink* (``ttse__on_event(event)``, then ``ttse__on_expect(count)`` once
they have emitted their last event): in one process the sink is the site's aggregator, in the
MQTT scale-out an uplink that publishes to a partition topic (``tasktonic.iot.scaleout``).

Completion without guessing: an aggregator knows how many sources will announce a count
(``sources``: its devices, or the partitions it subscribes to), and reports to its controller
once every source has announced and it has counted that many distinct events. A controller that
waits past its deadline reports what is missing as ``lost``.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import _switch
from ..catalyst import ttCatalyst
from ..formula import ttFormula
from ..log import ttLog
from ..store import ttStore
from ..timers import ttTimerRepeat, ttTimerSingleShot
from ..tonic import ttTonic
from .model import (
    DEVICE,
    DEVICES_PER_SITE,
    LEVEL,
    LEVELS,
    Event,
    Sensor,
    SiteStats,
    Thresholds,
    summarise,
)

__all__ = ["FleetConfig", "Device", "DeviceGroup", "SiteAggregator", "Controller", "Fleet",
           "run_fleet", "run_controller", "Progress", "TWIN_PERIOD_S"]

#: How often an aggregator writes its site's statistics into the twin.
TWIN_PERIOD_S = 0.5
#: Progress callback: called on the controller's catalyst with a ``Progress``.
ProgressCallback = Callable[["Progress"], None]


@dataclass(frozen=True)
class FleetConfig:
    """One run: ``rate`` readings per device per second for ``duration`` seconds, or with
    ``rate == 0`` flat out, ``readings`` per device as fast as the catalysts go."""

    devices: int = 10_000
    duration: float = 5.0
    catalysts: int = 2
    rate: float = 1.0
    readings: int = 0
    progress_interval: float = 1.0
    #: Seconds the controller waits past the readings before counting what is missing as lost.
    grace: float = 10.0
    thresholds: Thresholds = field(default_factory=Thresholds)

    def __post_init__(self) -> None:
        checks = ((self.devices >= 1, "--devices must be at least 1"),
                  (self.catalysts >= 1, "--catalysts must be at least 1"),
                  (self.rate >= 0, "--rate must be >= 0 (0: flat out)"),
                  (self.rate == 0 or self.duration > 0, "--duration must be > 0"),
                  (self.rate > 0 or self.readings >= 1, "flat out (rate 0) needs readings >= 1"),
                  (self.rate * self.duration <= 1e7, "--rate x --duration is too large"),
                  (self.progress_interval > 0, "progress interval must be > 0"),
                  (self.grace > 0, "grace must be > 0"))
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def readings_per_device(self) -> int:
        return max(1, round(self.rate * self.duration)) if self.rate else self.readings

    @property
    def sites(self) -> int:
        return (self.devices + DEVICES_PER_SITE - 1) // DEVICES_PER_SITE

    @property
    def deadline_s(self) -> float:
        """How long the controller waits for every event before counting the rest lost."""
        # flat out: allow for a pipeline as slow as 10,000 events/s
        readings = self.duration * 1.2 if self.rate else self.devices * self.readings / 10_000
        return readings + self.grace


@dataclass(frozen=True)
class Progress:
    """What the controller sees at one progress tick."""

    elapsed: float
    events: int
    events_per_s: float
    alarms: int
    queue_depths: tuple[int, ...]   # sparkles waiting, per worker catalyst


class Device(ttTonic):
    """One simulated device: readings on a jittered timer (or flat out), its level as state."""

    _tt_states = LEVELS

    def __init__(self, device: int, sink: Any, readings: int, period: float,
                 thresholds: Thresholds, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.device = device
        self.site = device // DEVICES_PER_SITE
        self.sink = sink
        self.remaining = readings
        self.period = period * random.uniform(0.9, 1.1) if period else 0.0
        self.thresholds = thresholds
        self.sensor = Sensor(device)
        self.timer: ttTimerRepeat | None = None

    def ttse__on_start(self) -> None:
        self.to_state(LEVELS[0])
        if self.period:
            self.timer = ttTimerRepeat(self.period, sparkle_back=self.tts__read)
        else:
            self.tts__read()

    def tts__read(self, info: Any = None) -> None:
        events = self.sensor.read(self.device, self.site, self.thresholds, time.time())
        on_event = self.sink.ttse__on_event
        for event in events:
            on_event(event)
        level = LEVELS[events[-1][LEVEL]]
        if level != self.state:
            self.to_state(level)
        self.remaining -= 1
        if self.remaining <= 0:
            self.sink.ttse__on_expect(self.device, self.sensor.seq)
            self.finish()
        elif not self.period:
            self.tts__read()


class DeviceGroup(ttTonic):
    """The devices of one worker catalyst, created on that catalyst's own thread.

    Why a group: a catalyst finishes once the last tonic it hosts has finished, and a device
    that runs flat out can finish before the controller has created the next one on the same
    catalyst. The group is hosted there from the start and lives until the run ends, and it
    creates its devices itself (no cross-thread hosting for each of them).
    """

    def __init__(self, devices: Sequence[int], sink_of: Callable[[int], Any],
                 config: FleetConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.devices = devices
        self.sink_of = sink_of
        self.config = config

    def ttse__on_start(self) -> None:
        config = self.config
        period = 1.0 / config.rate if config.rate else 0.0
        for d in self.devices:
            Device(d, self.sink_of(d), config.readings_per_device, period, config.thresholds)


class SiteAggregator(ttTonic):
    """One site's statistics and twin; reports to ``controller`` once every event is in."""

    def __init__(self, site: int, sources: int, controller: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.site = site
        self.sources = sources
        self.controller = controller
        self.expected = 0
        self.stats = SiteStats(site)
        self.complete = False
        self.store = ttStore()

    def ttse__on_start(self) -> None:
        ttTimerRepeat(TWIN_PERIOD_S, sparkle_back=self.tts__update_twin)
        self._check_complete()

    def ttse__on_event(self, event: Event | list) -> None:
        stats = self.stats
        if stats.add(event, time.time()):
            if stats.level_changed(event):
                self.store.set(f"twin/devices/{event[DEVICE]}/state", LEVELS[event[LEVEL]])
            if self.sources <= 0:
                self._check_complete()

    def ttse__on_expect(self, source: Any, count: int) -> None:
        """``source`` (a device or a partition) has emitted ``count`` events in all."""
        self.sources -= 1
        self.expected += count
        self._check_complete()

    def tts__update_twin(self, info: Any = None) -> None:
        self._write_twin()

    def _write_twin(self) -> None:
        self.store.set(f"twin/sites/{self.site}", self.stats.snapshot())

    def _check_complete(self) -> None:
        if not self.complete and self.sources <= 0 and self.stats.count >= self.expected:
            self.complete = True
            # Written now, not queued (calling the tts__ sparkle would queue it): the
            # controller may conclude, and read the twin, as soon as it hears of the site.
            self._write_twin()
            self.controller.ttse__on_site_complete(self.site)


class Controller(ttTonic):
    """What every controller of a run does: its worker catalysts, the site aggregators it
    waits for, progress ticks, a deadline, and the summary in ``result`` at the end."""

    def __init__(self, config: FleetConfig, result: dict[str, Any],
                 on_progress: ProgressCallback | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.result = result
        self.on_progress = on_progress
        self.catalysts: list[ttCatalyst] = []
        self.aggregators: dict[int, SiteAggregator] = {}
        self.completed = 0
        self.t0 = time.perf_counter()
        self.last_tick = (self.t0, 0)

    def ttse__on_start(self) -> None:
        self.catalysts = [ttCatalyst(name=f"fleet-{i}") for i in range(self.config.catalysts)]
        if self.on_progress is not None:
            ttTimerRepeat(self.config.progress_interval, sparkle_back=self.tts__progress)

    def aggregator(self, site: int, sources: int) -> SiteAggregator:
        """The site's aggregator, created on first use on one of the worker catalysts."""
        aggregator = self.aggregators.get(site)
        if aggregator is None:
            aggregator = self.aggregators[site] = SiteAggregator(
                site, sources, self, catalyst=self.catalysts[site % len(self.catalysts)])
        return aggregator

    def start_devices(self, sink_of: Callable[[int], Any]) -> None:
        """One DeviceGroup per worker catalyst, the devices dealt round-robin; and the deadline.
        ``sink_of(device)`` is the tonic that device reports to."""
        self.start_deadline()
        cats = self.catalysts
        devices = range(self.config.devices)
        for i, catalyst in enumerate(cats):
            DeviceGroup(devices[i::len(cats)], sink_of, self.config, catalyst=catalyst)

    def start_deadline(self) -> None:
        """From now, wait ``config.deadline_s`` for every event; then count the rest lost."""
        self.t0 = time.perf_counter()
        self.last_tick = (self.t0, 0)
        ttTimerSingleShot(self.config.deadline_s, sparkle_back=self.tts__deadline)

    def events_so_far(self) -> tuple[int, int]:
        """(events, alarms) counted so far; ints read from other threads: racy but harmless."""
        aggregators = list(self.aggregators.values())
        return sum(a.stats.count for a in aggregators), sum(a.stats.alarms for a in aggregators)

    def tts__progress(self, info: Any = None) -> None:
        now = time.perf_counter()
        events, alarms = self.events_so_far()
        then, before = self.last_tick
        self.last_tick = (now, events)
        assert self.on_progress is not None
        self.on_progress(Progress(
            elapsed=now - self.t0, events=events,
            events_per_s=(events - before) / (now - then) if now > then else 0.0,
            alarms=alarms, queue_depths=tuple(len(c.sparkle_loop) for c in self.catalysts)))

    def ttse__on_site_complete(self, site: int) -> None:
        self.completed += 1
        if self.all_in():
            self.conclude()

    def all_in(self) -> bool:
        """True when nothing more is to come (overridden: what "everything" means)."""
        return self.completed == len(self.aggregators)

    def tts__deadline(self, info: Any = None) -> None:
        self.conclude()

    def conclude(self) -> None:
        """Write the summary once, and finish (catalysts, aggregators, what still runs)."""
        if "summary" not in self.result:
            self.result["summary"] = self.summary(time.perf_counter() - self.t0)
        self.finish()

    def summary(self, elapsed: float) -> dict[str, Any]:
        config = self.config
        aggregators = list(self.aggregators.values())
        return summarise(
            (a.stats for a in aggregators), sum(a.expected for a in aggregators), elapsed,
            _switch.implementation, incomplete_sites=sum(1 for a in aggregators
                                                         if not a.complete),
            devices=config.devices, catalysts=config.catalysts, rate=config.rate,
            duration_s=config.duration)


class Fleet(Controller):
    """The controller of a one-process run: devices and aggregators side by side."""

    def ttse__on_start(self) -> None:
        super().ttse__on_start()
        config = self.config
        for site in range(config.sites):
            self.aggregator(site, min(DEVICES_PER_SITE, config.devices - site * DEVICES_PER_SITE))
        aggregators = self.aggregators
        self.start_devices(lambda d: aggregators[d // DEVICES_PER_SITE])


def run_fleet(config: FleetConfig, on_progress: ProgressCallback | None = None
              ) -> dict[str, Any]:
    """Run the pipeline in this process until every event is aggregated; return the summary."""
    return run_controller(Fleet, config, on_progress)


def run_controller(controller: type[Controller], config: FleetConfig,
                   on_progress: ProgressCallback | None = None, **kwargs: Any
                   ) -> dict[str, Any]:
    """Run one application whose starting tonic is ``controller``; return its summary."""
    result: dict[str, Any] = {}

    class FleetFormula(ttFormula):
        def creating_formula(self) -> tuple:
            return (("tasktonic/log/to", "off"), ("tasktonic/log/default", ttLog.STEALTH))

        def creating_starting_tonics(self) -> None:
            ttStore()  # the twin lives for the whole run
            controller(config, result, on_progress, **kwargs)

    FleetFormula()
    summary: dict[str, Any] = result["summary"]
    return summary
