"""The IoT pipeline: the hysteresis state machine, partitions, statistics, and whole runs that
count every event once and report what they lose."""
from __future__ import annotations

import zlib
from typing import Any

import pytest

import tasktonic
from tasktonic import ttStore, ttTonic
from tasktonic.iot import FleetConfig, run_fleet
from tasktonic.iot.model import (
    ALARM,
    ALARM_RAISED,
    OK,
    READING,
    WARNING,
    Sensor,
    SiteStats,
    Thresholds,
    event_id,
    partition_of,
    percentile,
)
from tasktonic.iot.pipeline import Controller, Fleet, run_controller
from tests.conftest import run_app


def test_hysteresis_enters_at_on_and_leaves_only_below_off():
    t = Thresholds()
    values = [50, 76, 72, 69, 91, 88, 84, 80, 60]
    levels = []
    level = OK
    for value in values:
        level = t.level(level, value)
        levels.append(level)
    assert levels == [OK, WARNING, WARNING, OK, ALARM, ALARM, WARNING, WARNING, OK]


def test_a_value_hovering_at_a_threshold_does_not_flap():
    t = Thresholds()
    level = t.level(OK, 75.0)
    changes = 0
    for value in [74.0, 75.5, 73.0, 75.0, 71.0] * 20:
        new = t.level(level, value)
        changes += new != level
        level = new
    assert level == WARNING and changes == 0


def test_sensor_emits_an_alarm_event_when_the_alarm_is_raised_only():
    sensor = Sensor(7)
    sensor.value = 95.0  # the next reading stays far above the alarm threshold
    t = Thresholds(alarm_on=0.0, alarm_off=-1.0)
    first = sensor.read(7, 0, t, 1.0)
    second = sensor.read(7, 0, t, 2.0)
    assert [e[3] for e in first] == [ALARM_RAISED, READING]
    assert [e[3] for e in second] == [READING]
    assert [e[0] for e in first + second] == [event_id(7, 1), event_id(7, 2), event_id(7, 3)]


def test_partition_is_a_stable_crc32_of_the_device_id():
    assert partition_of(12345, 7) == zlib.crc32((12345).to_bytes(8, "little")) % 7
    spread = {partition_of(d, 4) for d in range(100)}
    assert spread == {0, 1, 2, 3}


def test_site_stats_drop_duplicates_and_keep_a_rolling_window():
    stats = SiteStats(0, window=3)
    events = [(event_id(1, i), 1, 0, READING, OK, float(i), 0.0) for i in range(1, 6)]
    assert all(stats.add(e, 1.0) for e in events)
    assert not stats.add(events[2], 1.0)          # redelivered
    assert stats.count == 5 and stats.duplicates == 1
    assert stats.snapshot()["mean"] == 4.0          # the last three: 3, 4, 5
    assert (stats.minimum, stats.maximum) == (1.0, 5.0)
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0


# (100, 4): three catalysts host no aggregator, only devices that finish fast. Before device
# groups, such a catalyst could finish under the controller still creating devices on it
# (seen once under load in `make test`; a race, so this case exercises the shape rather than
# reproducing it reliably)
@pytest.mark.parametrize("devices, catalysts", [(250, 1), (250, 3), (100, 4)])
def test_flat_out_run_aggregates_every_event_once(devices, catalysts):
    summary = run_fleet(FleetConfig(devices=devices, rate=0, readings=40, catalysts=catalysts))
    # every device emits 40 readings plus one event per alarm raised
    assert summary["events"] == devices * 40 + summary["alarms"]
    assert summary["lost"] == 0 and summary["duplicates"] == 0
    assert summary["incomplete_sites"] == 0
    assert summary["implementation"] == tasktonic.implementation
    assert summary["latency_p99_ms"] >= summary["latency_p50_ms"] > 0


def test_timed_run_with_progress():
    ticks: list = []
    summary = run_fleet(FleetConfig(devices=300, duration=0.6, rate=5, catalysts=2,
                                    progress_interval=0.1), ticks.append)
    assert summary["lost"] == 0
    assert summary["events"] == 300 * 3 + summary["alarms"]
    assert ticks, "no progress was reported"
    assert all(len(t.queue_depths) == 2 for t in ticks)
    assert [t.events for t in ticks] == sorted(t.events for t in ticks)


class _Dropper(ttTonic):
    """A sink in front of an aggregator that loses one chosen event."""

    def __init__(self, aggregator: Any, lose: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.aggregator = aggregator
        self.lose = lose

    def ttse__on_event(self, event: Any) -> None:
        if event[0] != self.lose:
            self.aggregator.ttse__on_event(event)

    def ttse__on_expect(self, device: int, count: int) -> None:
        self.aggregator.ttse__on_expect(device, count)


class _LossyFleet(Controller):
    """Ten devices of site 0 whose sink loses the third event of device 4."""

    def ttse__on_start(self) -> None:
        super().ttse__on_start()
        aggregator = self.aggregator(0, sources=10)
        dropper = _Dropper(aggregator, event_id(4, 3), catalyst=self.catalysts[0])
        self.start_devices(lambda d: dropper)


def test_a_lost_event_is_counted_at_the_deadline():
    config = FleetConfig(devices=10, rate=0, readings=5, catalysts=1, grace=0.3)
    summary = run_controller(_LossyFleet, config)
    assert summary["lost"] == 1
    assert summary["incomplete_sites"] == 1
    assert summary["events"] == 10 * 5 + summary["alarms"] - 1


class _TwinFleet(Fleet):
    """Keeps a copy of the twin as it is when the run concludes."""

    def conclude(self) -> None:
        self.result["twin"] = ttStore().get("twin")
        super().conclude()


def test_the_twin_holds_site_statistics_and_device_states():
    config = FleetConfig(devices=150, rate=0, readings=60, catalysts=2,
                         thresholds=Thresholds(warning_on=40, warning_off=35))
    result: dict = {}

    def starting() -> None:
        ttStore()
        _TwinFleet(config, result)

    run_app(starting)
    twin, summary = result["twin"], result["summary"]
    assert set(twin["sites"]) == {"0", "1"} or set(twin["sites"]) == {0, 1}
    assert sum(site["events"] for site in twin["sites"].values()) == summary["events"]
    assert sum(site["alarms"] for site in twin["sites"].values()) == summary["alarms"]
    states = [device["state"] for device in twin["devices"].values()]
    assert set(states) <= {"warning", "alarm", "ok"} and "warning" in states
    assert sum(s == "alarm" for s in states) == summary["devices_in_alarm"]
