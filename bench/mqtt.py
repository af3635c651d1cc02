"""python -m bench.mqtt: messages/s through ttMqttBridge into a tonic vs a bare paho client.

One mosquitto (started here, as the tests start it, unless ``--broker HOST:PORT``), one
publisher process (bare paho, the same for both consumers) that sends ``--messages`` payloads
as fast as it can, and one consumer in this process, alternately:

- bare: a paho client in ``loop_forever`` whose ``on_message`` hands each payload to a handler;
- bridge: ``ttMqttBridge`` on its selector catalyst delivering each payload as a sparkle to a
  tonic on the main catalyst (another thread: the real cost of a bridge).

The clock runs from the first message received to the last. QoS 0 and 1, ``--reps``
repetitions each, interleaved; the median and the ratio bridge / bare are printed. The payload
codec is ``bytes`` on both sides (no decoding cost on either).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOPIC = "bench/mqtt"
#: A consumer that hears nothing for this long stops counting (QoS 0 may drop messages).
IDLE_S = 3.0


def publish(port: int, count: int, qos: int) -> None:
    """The publisher process: ``count`` payloads as fast as paho sends them, then exit."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(TOPIC, b"%08d reading" % i, qos) for i in range(count)]
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()


def start_publisher(port: int, count: int, qos: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bench.mqtt", "--publish", str(port),
                             str(count), str(qos)], cwd=ROOT)


class _Clock:
    """First-to-last message timing shared by both consumers."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.received = 0
        self.first = self.last = 0.0
        self.done = threading.Event()

    def hit(self, payload: bytes) -> None:
        now = time.perf_counter()
        if not self.received:
            self.first = now
        self.last = now
        self.received += 1
        if self.received == self.count:
            self.done.set()

    def rate(self) -> float:
        return (self.received - 1) / (self.last - self.first) if self.received > 1 else 0.0


def bare(port: int, count: int, qos: int) -> tuple[float, int]:
    """messages/s and messages received by a bare paho client."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion
    clock = _Clock(count)
    client = paho.Client(CallbackAPIVersion.VERSION2)
    publisher: list[subprocess.Popen] = []

    def on_subscribe(*_: Any) -> None:
        publisher.append(start_publisher(port, count, qos))

    def on_message(_client: Any, _userdata: Any, message: Any) -> None:
        clock.hit(message.payload)
        if clock.done.is_set():
            client.disconnect()

    client.on_connect = lambda *_: client.subscribe(TOPIC, qos)
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    watchdog = threading.Thread(target=_watch, args=(clock, client.disconnect), daemon=True)
    watchdog.start()
    try:
        client.loop_forever()
    finally:
        for process in publisher:
            _reap(process)
    return clock.rate(), clock.received


def bridge(port: int, count: int, qos: int) -> tuple[float, int]:
    """messages/s and messages received through ttMqttBridge into a tonic."""
    from tasktonic import ttFormula, ttLog, ttTonic
    from tasktonic.mqtt import ttMqttBridge
    clock = _Clock(count)
    publisher: list[subprocess.Popen] = []

    class Consumer(ttTonic):
        def ttse__on_start(self) -> None:
            self.bridge = ttMqttBridge("127.0.0.1", port, payload="bytes")
            self.bridge.ttsc__subscribe(self, TOPIC, qos)
            threading.Thread(target=_watch, args=(clock, self.ttsc__stop), daemon=True).start()

        def ttse__on_mqtt_subscribed(self, pattern: str) -> None:
            publisher.append(start_publisher(port, count, qos))

        def ttse__on_mqtt_message(self, topic: str, payload: bytes) -> None:
            clock.hit(payload)
            if clock.done.is_set():
                self.finish()

        def ttsc__stop(self) -> None:
            self.finish()

    class BenchApp(ttFormula):
        def creating_formula(self) -> tuple:
            return (("tasktonic/log/to", "off"), ("tasktonic/log/default", ttLog.STEALTH))

        def creating_starting_tonics(self) -> None:
            Consumer()

    try:
        BenchApp()
    finally:
        for process in publisher:
            _reap(process)
    return clock.rate(), clock.received


def _watch(clock: _Clock, stop: Any) -> None:
    """Stop a consumer that has been idle for IDLE_S (QoS 0 messages the broker dropped)."""
    seen = -1
    while not clock.done.wait(IDLE_S):
        if clock.received == seen:
            stop()
            return
        seen = clock.received


def _reap(process: subprocess.Popen) -> None:
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mqtt", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--broker", metavar="HOST:PORT", help="use this broker (port only: "
                        "127.0.0.1 is assumed) instead of starting mosquitto")
    parser.add_argument("--publish", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.publish:
        publish(*args.publish)
        return 0
    if args.broker:
        run(int(args.broker.rpartition(":")[2]), args)
        return 0
    from tests.mqtt_broker import Broker  # the tests' fixture class: config, free port, stop
    server = Broker(Path(tempfile.mkdtemp(prefix="bench-mqtt-")))
    server.start()
    try:
        run(server.port, args)
    finally:
        server.stop()
    return 0


def run(port: int, args: argparse.Namespace) -> None:
    import tasktonic
    print(f"bench.mqtt: {args.messages:,} messages per run, median of {args.reps}, "
          f"tasktonic {tasktonic.implementation}")
    for qos in (0, 1):
        rates: dict[str, list[float]] = {"bare": [], "bridge": []}
        for _ in range(args.reps):
            for name, consume in (("bare", bare), ("bridge", bridge)):
                rate, received = consume(port, args.messages, qos)
                rates[name].append(rate)
                print(f"  qos {qos} {name:<6} {rate:>10,.0f} msg/s  ({received:,} received)",
                      file=sys.stderr, flush=True)
        bare_rate, bridge_rate = (statistics.median(rates[k]) for k in ("bare", "bridge"))
        print(f"qos {qos}: bare paho {bare_rate:,.0f} msg/s, ttMqttBridge {bridge_rate:,.0f} "
              f"msg/s, bridge/bare = {bridge_rate / bare_rate:.2f}x "
              f"(ranges: bare {min(rates['bare']):,.0f}-{max(rates['bare']):,.0f}, bridge "
              f"{min(rates['bridge']):,.0f}-{max(rates['bridge']):,.0f})")


if __name__ == "__main__":
    sys.exit(main())
