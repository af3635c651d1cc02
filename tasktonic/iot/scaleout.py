"""The pipeline over several processes or machines, through one MQTT broker.

Why partition topics and not shared subscriptions: a shared subscription hands each message to
any member, so two readings of one device could be aggregated out of order by two processes.
Here ``--role devices`` publishes every event of device ``d`` to ``PREFIX/p/<partition_of(d)>``
(a stable crc32, the same in every process), and ``--role aggregators --partition i,j``
subscribes to its partitions only: one device always reaches one aggregator process, in order.

Counting every event once: events travel at QoS 1, which may deliver twice after a reconnect;
the site aggregators drop duplicates by event id. When its devices are done, the devices
process publishes on each partition topic, after that partition's events, an end marker
``["end", partition, [[site, count], ...]]`` listing every site; each site aggregator waits for
one marker per subscribed partition and for that many distinct events.

Start-up without a race: an aggregator process publishes a retained ``PREFIX/ready/<id>`` with
its partitions once the broker has acknowledged its subscriptions (its will clears it if the
process dies); the devices process starts emitting once the ready messages cover every
partition.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import _switch
from ..mqtt import ttMqttBridge
from ..tonic import ttTonic
from .model import DEVICE, DEVICES_PER_SITE, SITE, Event, partition_of
from .pipeline import Controller, FleetConfig, ProgressCallback, run_controller

__all__ = ["PREFIX", "DevicesNode", "AggregatorNode", "run_devices", "run_aggregators",
           "parse_address"]

PREFIX = "tasktonic/fleet"


def parse_address(text: str) -> tuple[str, int]:
    """``HOST[:PORT]`` (port 1883 by default); ValueError with a one-line reason."""
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "1883")
    if not host:
        raise ValueError(f"--mqtt needs HOST[:PORT], got {text!r}")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"--mqtt port must be a number, got {port!r}") from None
    if not 0 < number < 65536:
        raise ValueError(f"--mqtt port must be in 1..65535, got {number}")
    return host, number


def _topic(partition: int) -> str:
    return f"{PREFIX}/p/{partition}"


class Uplink(ttTonic):
    """On the bridge's catalyst (no copy per publish): routes events to partition topics and
    closes each partition with its end marker once every device is done."""

    def __init__(self, bridge: ttMqttBridge, partitions: int, devices: int, controller: Any,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bridge = bridge
        self.partitions = partitions
        self.devices_left = devices
        self.controller = controller
        self.sites = (devices + DEVICES_PER_SITE - 1) // DEVICES_PER_SITE
        #: partition -> site -> events published
        self.counts = [[0] * self.sites for _ in range(partitions)]
        self.published = 0

    def ttse__on_event(self, event: Event) -> None:
        partition = partition_of(event[DEVICE], self.partitions)
        self.counts[partition][event[SITE]] += 1
        self.published += 1
        self.bridge.ttsc__publish(_topic(partition), event, qos=1)

    def ttse__on_expect(self, device: int, count: int) -> None:
        self.devices_left -= 1
        if self.devices_left:
            return
        for partition, counts in enumerate(self.counts):
            self.bridge.ttsc__publish(_topic(partition),
                                      ["end", partition, [[s, n] for s, n in enumerate(counts)]],
                                      qos=1)
        self.bridge.ttsc__flush(self)

    def ttse__on_mqtt_flushed(self) -> None:
        self.controller.ttse__on_uplink_flushed()


class DevicesNode(Controller):
    """``--role devices``: the devices of the run, published to partition topics."""

    def __init__(self, config: FleetConfig, result: dict[str, Any],
                 on_progress: ProgressCallback | None = None, host: str = "127.0.0.1",
                 port: int = 1883, partitions: int = 1, **kwargs: Any) -> None:
        super().__init__(config, result, on_progress, **kwargs)
        self.partitions = partitions
        self.ready: set[int] = set()
        self.started = False
        self.flushed = False
        self.bridge = ttMqttBridge(host, port)
        self.uplink = Uplink(self.bridge, partitions, config.devices, self,
                             catalyst=self.bridge)

    def ttse__on_start(self) -> None:
        super().ttse__on_start()
        self.bridge.ttsc__subscribe(self, f"{PREFIX}/ready/+", qos=1)

    def ttse__on_mqtt_message(self, topic: str, payload: Any) -> None:
        if not isinstance(payload, list) or self.started:
            return  # None: a ready message cleared by an aggregator that left
        self.ready.update(p for p in payload if isinstance(p, int))
        if self.ready >= set(range(self.partitions)):
            self.started = True
            self.start_publishing()

    def start_publishing(self) -> None:
        uplink = self.uplink
        self.start_devices(lambda d: uplink)

    def events_so_far(self) -> tuple[int, int]:
        return self.uplink.published, 0

    def ttse__on_uplink_flushed(self) -> None:
        self.flushed = True
        self.conclude()

    def all_in(self) -> bool:
        return False  # ends when the uplink is flushed

    def summary(self, elapsed: float) -> dict[str, Any]:
        """What was published; ``lost`` is for the aggregators to say (None here), and
        ``flushed`` says whether the broker acknowledged all of it."""
        published = self.uplink.published
        return {"events": published,
                "events_per_s": round(published / elapsed, 1) if elapsed > 0 else 0.0,
                "latency_p50_ms": None, "latency_p99_ms": None, "alarms": None,
                "lost": None, "flushed": self.flushed, "elapsed_s": round(elapsed, 3),
                "role": "devices",
                "partitions": self.partitions, "devices": self.config.devices,
                "implementation": _switch.implementation}


class AggregatorNode(Controller):
    """``--role aggregators``: the site aggregators of the partitions this process holds."""

    def __init__(self, config: FleetConfig, result: dict[str, Any],
                 on_progress: ProgressCallback | None = None, host: str = "127.0.0.1",
                 port: int = 1883, partitions: Sequence[int] = (0,), **kwargs: Any) -> None:
        super().__init__(config, result, on_progress, **kwargs)
        self.mine = sorted(set(partitions))
        node = "-".join(map(str, self.mine))
        self.ready_topic = f"{PREFIX}/ready/{node}"
        self.bridge = ttMqttBridge(host, port, client_id=f"tasktonic-fleet-aggregators-{node}",
                                   clean_session=False, will=(self.ready_topic, b"", 1, True))
        self.subscribed: set[str] = set()
        self.ended: set[int] = set()
        self.receiving = False

    def ttse__on_start(self) -> None:
        super().ttse__on_start()
        for partition in self.mine:
            self.bridge.ttsc__subscribe(self, _topic(partition), qos=1)

    def ttse__on_mqtt_subscribed(self, pattern: str) -> None:
        self.subscribed.add(pattern)
        if len(self.subscribed) == len(self.mine):
            self.bridge.ttsc__publish(self.ready_topic, self.mine, qos=1, retain=True)

    def ttse__on_mqtt_message(self, topic: str, payload: Any) -> None:
        if not self.receiving:
            self.receiving = True
            self.start_deadline()
        if not isinstance(payload, list) or not payload:
            return
        if payload[0] == "end":
            _, partition, counts = payload
            if partition in self.ended:
                return  # a redelivered marker
            self.ended.add(partition)
            for site, count in counts:
                self.aggregator(site, len(self.mine)).ttse__on_expect(partition, count)
            if self.all_in():
                self.conclude()
            return
        self.aggregator(payload[SITE], len(self.mine)).ttse__on_event(payload)

    def all_in(self) -> bool:
        return len(self.ended) == len(self.mine) and super().all_in()

    def conclude(self) -> None:
        self.bridge.ttsc__publish(self.ready_topic, b"", qos=1, retain=True)
        super().conclude()

    def summary(self, elapsed: float) -> dict[str, Any]:
        return dict(super().summary(elapsed), role="aggregators", partitions=self.mine)


def run_devices(config: FleetConfig, host: str, port: int, partitions: int,
                on_progress: ProgressCallback | None = None) -> dict[str, Any]:
    """The devices process: returns once every event is acknowledged by the broker."""
    return run_controller(DevicesNode, config, on_progress, host=host, port=port,
                          partitions=partitions)


def run_aggregators(config: FleetConfig, host: str, port: int, partitions: Sequence[int],
                    on_progress: ProgressCallback | None = None) -> dict[str, Any]:
    """An aggregator process: returns once its partitions are complete (or the deadline)."""
    return run_controller(AggregatorNode, config, on_progress, host=host, port=port,
                          partitions=partitions)
