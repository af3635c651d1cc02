"""The IoT pipeline's plain logic: events, the hysteresis state machine, rolling statistics.

Why plain classes without tonics: the same logic runs in the tonic pipeline
(``tasktonic.iot.pipeline``), in the MQTT scale-out (``tasktonic.iot.scaleout``) and in the
asyncio equivalent of ``bench/``, so a benchmark compares the frameworks and not two versions of
the arithmetic. Nothing here knows about threads.

An event is a plain tuple (cheap to create, to copy across catalysts and to encode for MQTT):
``(event_id, device, site, kind, level, value, emitted)`` with ``kind`` ``READING`` or
``ALARM_RAISED``, ``level`` the device's state after the reading (``OK``, ``WARNING``,
``ALARM``) and ``emitted`` the ``time.time()`` of emission, from which latency to aggregation
is measured.
"""
from __future__ import annotations

import math
import random
import zlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["Event", "READING", "ALARM_RAISED", "OK", "WARNING", "ALARM", "LEVELS", "Thresholds",
           "Sensor", "SiteStats", "event_id", "partition_of", "percentile", "summarise",
           "DEVICES_PER_SITE"]

#: ``(event_id, device, site, kind, level, value, emitted)``
Event = tuple[int, int, int, int, int, float, float]
#: The fields of an event, by position (Final: type checkers see each field's type).
ID: Final = 0
DEVICE: Final = 1
SITE: Final = 2
KIND: Final = 3
LEVEL: Final = 4
VALUE: Final = 5
EMITTED: Final = 6

#: Event kinds: a reading, or an alarm raised (the device entered the alarm level).
READING, ALARM_RAISED = 0, 1
#: Device levels, and their state names.
OK, WARNING, ALARM = 0, 1, 2
LEVELS = ("ok", "warning", "alarm")
#: Devices per site: the site of device ``d`` is ``d // DEVICES_PER_SITE``.
DEVICES_PER_SITE = 100
#: Event ids are ``device * _SEQ_SPAN + seq``: unique per run without a string per event.
_SEQ_SPAN = 1 << 32


def event_id(device: int, seq: int) -> int:
    """The id of a device's ``seq``-th event (the deduplication key)."""
    return device * _SEQ_SPAN + seq


def partition_of(device: int, partitions: int) -> int:
    """The partition of a device: a stable hash (the same in every process and machine;
    Python's ``hash()`` is salted per process), so one device always has one partition."""
    return zlib.crc32(device.to_bytes(8, "little")) % partitions


@dataclass(frozen=True)
class Thresholds:
    """Hysteresis: a level is entered at ``*_on`` and left only below ``*_off``, so a value
    hovering at a threshold does not flap between states."""

    warning_on: float = 75.0
    warning_off: float = 70.0
    alarm_on: float = 90.0
    alarm_off: float = 85.0

    def level(self, level: int, value: float) -> int:
        """The next level from the current one and a reading."""
        if value >= self.alarm_on:
            return ALARM
        if level == ALARM and value >= self.alarm_off:
            return ALARM
        if value >= self.warning_on:
            return WARNING
        if level >= WARNING and value >= self.warning_off:
            return WARNING
        return OK


class Sensor:
    """A device's simulated reading: a mean-reverting random walk around 50 (std ~19), so a
    few percent of readings cross the alarm threshold."""

    __slots__ = ("value", "seq", "level", "_random")

    def __init__(self, device: int) -> None:
        self._random = random.Random(device)
        self.value = 50.0 + self._random.uniform(-10.0, 10.0)
        self.seq = 0
        self.level = OK

    def read(self, device: int, site: int, thresholds: Thresholds, now: float) -> list[Event]:
        """The events of one reading: the reading, preceded by an alarm when one is raised."""
        value = self.value = self.value + (50.0 - self.value) * 0.05 + self._random.gauss(0, 6)
        level = thresholds.level(self.level, value)
        events = []
        if level == ALARM and self.level != ALARM:
            self.seq += 1
            events.append((device * _SEQ_SPAN + self.seq, device, site, ALARM_RAISED, level,
                           value, now))
        self.level = level
        self.seq += 1
        events.append((device * _SEQ_SPAN + self.seq, device, site, READING, level, value, now))
        return events


class SiteStats:
    """A site's rolling statistics, deduplication and latencies, fed one event at a time.

    ``add`` returns False for a duplicate (QoS 1 may deliver an event twice). The rolling
    window holds the last ``window`` readings; min and max cover the whole run.
    """

    __slots__ = ("site", "window", "values", "total", "count", "alarms", "minimum", "maximum",
                 "seen", "latencies", "levels", "duplicates")

    def __init__(self, site: int, window: int = 256) -> None:
        self.site = site
        self.window = window
        self.values: deque[float] = deque()
        self.total = 0.0
        self.count = 0            # distinct events
        self.alarms = 0
        self.duplicates = 0
        self.minimum = math.inf
        self.maximum = -math.inf
        self.seen: set[int] = set()
        self.latencies: list[float] = []
        self.levels: dict[int, int] = {}

    def add(self, event: Event | list, now: float) -> bool:
        seen = self.seen
        key = event[ID]
        if key in seen:
            self.duplicates += 1
            return False
        seen.add(key)
        self.count += 1
        self.latencies.append(now - event[EMITTED])
        if event[KIND] == ALARM_RAISED:
            self.alarms += 1
            return True
        value = event[VALUE]
        values = self.values
        values.append(value)
        self.total += value
        if len(values) > self.window:
            self.total -= values.popleft()
        if value < self.minimum:
            self.minimum = value
        if value > self.maximum:
            self.maximum = value
        return True

    def level_changed(self, event: Event | list) -> bool:
        """True when this event's device level differs from the last one seen (twin update)."""
        device, level = event[DEVICE], event[LEVEL]
        if self.levels.get(device, OK) == level:
            return False
        self.levels[device] = level
        return True

    def snapshot(self) -> dict[str, Any]:
        """The twin's view of the site."""
        values = self.values
        return {"events": self.count, "alarms": self.alarms,
                "mean": round(self.total / len(values), 3) if values else None,
                "min": None if self.count == self.alarms else round(self.minimum, 3),
                "max": None if self.count == self.alarms else round(self.maximum, 3),
                "in_alarm": sum(1 for level in self.levels.values() if level == ALARM)}


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summarise(site_stats: Iterable[SiteStats], expected: int, elapsed: float,
              implementation: str, **extra: Any) -> dict[str, Any]:
    """The run's summary: the keys of ``--json``; ``lost`` is expected minus distinct."""
    sites = list(site_stats)
    events = sum(s.count for s in sites)
    latencies = [x for s in sites for x in s.latencies]
    return {
        "events": events,
        "events_per_s": round(events / elapsed, 1) if elapsed > 0 else 0.0,
        "latency_p50_ms": round(percentile(latencies, 0.50) * 1e3, 3),
        "latency_p99_ms": round(percentile(latencies, 0.99) * 1e3, 3),
        "alarms": sum(s.alarms for s in sites),
        "devices_in_alarm": sum(1 for s in sites for level in s.levels.values() if level == ALARM),
        "duplicates": sum(s.duplicates for s in sites),
        "lost": max(0, expected - events),
        "elapsed_s": round(elapsed, 3),
        "implementation": implementation,
        **extra,
    }
