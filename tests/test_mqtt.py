"""ttMqttBridge against a real mosquitto (tests/mqtt_broker.py starts one per test).

What a tonic saw is collected in the tonic and asserted in the test thread once the
application has ended; the other processes are stopped in ``finally`` blocks whatever happens.
"""
from __future__ import annotations

import logging
import shutil
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tasktonic import ttTimerRepeat, ttTonic
from tasktonic.mqtt import CODECS, PayloadError, ttMqttBridge
from tests import mqtt_broker
from tests.conftest import run_app
from tests.mqtt_broker import Broker

# the fixtures of tests/mqtt_broker.py, made visible to this module's tests
broker = mqtt_broker.broker
persistent_broker = mqtt_broker.persistent_broker

ROOT = Path(__file__).resolve().parent.parent
PROCESS_TIMEOUT = 120.0


def publisher(port: int, topic: str, count: int, *options: str) -> subprocess.Popen:
    """``tests/mqtt_peer.py`` in another process (see its docstring)."""
    return subprocess.Popen([sys.executable, "-m", "tests.mqtt_peer", str(port), topic,
                             str(count), *options], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate()


class Collector(ttTonic):
    """Subscribes to ``topic``; records every ``[i]`` payload and every bridge event; finishes
    once ``count`` distinct numbers have arrived. ``on_subscribed`` / ``on_milestone`` (at
    ``milestone`` distinct numbers) are called on the tonic's catalyst."""

    def __init__(self, port: int, topic: str, count: int, on_subscribed: Any = None,
                 milestone: int = 0, on_milestone: Any = None, client_id: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.port, self.topic, self.count = port, topic, count
        self.client_id = client_id
        self.on_subscribed, self.milestone, self.on_milestone = (on_subscribed, milestone,
                                                                 on_milestone)
        self.seen: set[int] = set()
        self.received = 0
        self.events: list[tuple] = []

    def ttse__on_start(self) -> None:
        self.bridge = ttMqttBridge("127.0.0.1", self.port, client_id=self.client_id,
                                   clean_session=self.client_id is None)
        self.bridge.ttsc__subscribe(self, self.topic, qos=1)

    def ttse__on_mqtt_subscribed(self, pattern: str) -> None:
        self.events.append(("subscribed", pattern))
        if self.on_subscribed is not None:
            self.on_subscribed()
            self.on_subscribed = None

    def ttse__on_mqtt_connected(self) -> None:
        self.events.append(("connected",))

    def ttse__on_mqtt_disconnected(self, reason: str) -> None:
        self.events.append(("disconnected", reason, len(self.seen)))

    def ttse__on_mqtt_message(self, topic: str, payload: Any) -> None:
        self.received += 1
        self.seen.add(payload[0])
        if len(self.seen) >= self.milestone and self.on_milestone is not None:
            self.on_milestone()   # once: a redelivered number does not grow the set
            self.on_milestone = None
        if len(self.seen) == self.count:
            self.finish()


def test_50000_qos1_messages_between_two_processes_none_lost(broker: Broker):
    count = 50_000
    processes: list[subprocess.Popen] = []
    tonics: list[Collector] = []

    def start() -> None:
        tonics.append(Collector(broker.port, "load/test", count, on_subscribed=lambda:
                                processes.append(publisher(broker.port, "load/test", count))))
    try:
        run_app(start, timeout=PROCESS_TIMEOUT)
        out, err = processes[0].communicate(timeout=PROCESS_TIMEOUT)
    finally:
        for process in processes:
            stop(process)
    assert processes[0].returncode == 0, err
    assert out.strip() == f"published {count}"
    assert tonics[0].seen == set(range(count))
    assert tonics[0].received >= count


def test_broker_restart_mid_stream_reconnects_resubscribes_and_loses_nothing(
        persistent_broker: Broker):
    count = 6_000
    processes: list[subprocess.Popen] = []
    restarts: list[threading.Thread] = []
    tonics: list[Collector] = []

    def publish() -> None:
        processes.append(publisher(persistent_broker.port, "restart/test", count,
                                   "--client-id", "restart-publisher", "--chunk", "50",
                                   "--every", "0.01"))

    def restart() -> None:  # not on the catalyst: restarting waits for the broker
        thread = threading.Thread(target=persistent_broker.restart, name="broker-restart")
        restarts.append(thread)
        thread.start()

    def start() -> None:
        tonics.append(Collector(persistent_broker.port, "restart/test", count,
                                on_subscribed=publish, milestone=count // 4,
                                on_milestone=restart, client_id="restart-subscriber"))
    try:
        run_app(start, timeout=PROCESS_TIMEOUT)
        out, err = processes[0].communicate(timeout=PROCESS_TIMEOUT)
    finally:
        for thread in restarts:
            thread.join(PROCESS_TIMEOUT)
        for process in processes:
            stop(process)
    collector = tonics[0]
    assert len(restarts) == 1, "the broker restarts once, at the milestone"
    assert processes[0].returncode == 0, err
    assert collector.seen == set(range(count))
    kinds = [event[0] for event in collector.events]
    assert "disconnected" in kinds, collector.events
    assert kinds.count("connected") >= 2 and kinds.count("subscribed") >= 2, collector.events
    assert kinds.index("disconnected") < len(kinds) - 1 - kinds[::-1].index("subscribed")
    at_disconnect = collector.events[kinds.index("disconnected")][2]
    assert count // 4 <= at_disconnect < count  # mid-stream: the rest came after the restart


class Prober(ttTonic):
    """Publishes ``payloads`` to a topic it subscribes to; finishes at the ``[0]`` sentinel,
    which it publishes last."""

    def __init__(self, port: int, payloads: list, codec: str = "json", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.port, self.payloads, self.codec = port, payloads, codec
        self.received: list = []

    def ttse__on_start(self) -> None:
        self.bridge = ttMqttBridge("127.0.0.1", self.port, payload=self.codec)
        self.bridge.ttsc__subscribe(self, "probe/#")

    def ttse__on_mqtt_subscribed(self, pattern: str) -> None:
        for i, payload in enumerate(self.payloads + [[0]]):
            self.bridge.ttsc__publish(f"probe/{i}", payload, qos=1)

    def ttse__on_mqtt_message(self, topic: str, payload: Any) -> None:
        self.received.append((topic, payload))
        if payload == [0]:
            self.finish()


def test_malformed_payloads_are_logged_and_skipped(broker: Broker, caplog):
    tonics: list[Prober] = []
    caplog.set_level(logging.WARNING, logger="tasktonic")
    run_app(lambda: tonics.append(Prober(broker.port, [b"{broken", {"ok": 1}, b"\xff\xfe",
                                                        ["still", "running"]])))
    prober = tonics[0]
    assert prober.received == [("probe/1", {"ok": 1}), ("probe/3", ["still", "running"]),
                               ("probe/4", [0])]
    assert prober.bridge.malformed == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("'probe/0'" in w and "json" in w for w in warnings), warnings
    assert any("'probe/2'" in w for w in warnings), warnings


def test_msgpack_payloads(broker: Broker):
    tonics: list[Prober] = []
    run_app(lambda: tonics.append(Prober(broker.port, [{"t": 21.5, "b": b"\x01"}],
                                         codec="msgpack")))
    assert tonics[0].received == [("probe/0", {"t": 21.5, "b": b"\x01"}), ("probe/1", [0])]


@pytest.mark.parametrize("name", sorted(CODECS))
def test_codecs_round_trip_and_reject_garbage(name: str):
    codec = CODECS[name]()
    value = b"\x00raw" if name == "bytes" else {"device": 7, "values": [1.5, None, "x"]}
    assert codec.decode(codec.encode(value)) == value
    if name != "bytes":
        with pytest.raises(PayloadError, match=name):
            codec.decode(b"\xc1\xff{")
        assert codec.decode(b"") is None  # a cleared retained message


class Sharer(ttTonic):
    """Two of these share one bridge; ``lead`` publishes once both are subscribed."""

    def __init__(self, port: int, lead: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.port, self.lead = port, lead
        self.bridges: list = []
        self.received: list = []
        self.partner: Sharer | None = None

    def ttse__on_start(self) -> None:
        bridge = ttMqttBridge("127.0.0.1", self.port)
        self.bridges.append(bridge)
        bridge.ttsc__subscribe(self, "shared/topic")
        if self.lead:
            bridge.ttsc__subscribe(self, "shared/go")

    def ttse__on_mqtt_subscribed(self, pattern: str) -> None:
        if pattern == "shared/go":
            self.bridges[0].ttsc__publish("shared/topic", "first", qos=1)

    def ttse__on_mqtt_message(self, topic: str, payload: Any) -> None:
        self.received.append(payload)
        if not self.lead:
            if payload == "first":  # leave the topic, then tell the lead
                self.bridges[0].ttsc__unsubscribe(self, "shared/topic")
                self.bridges[0].ttsc__publish("shared/go", "unsubscribed", qos=1)
        elif topic == "shared/go":
            self.bridges[0].ttsc__publish("shared/topic", "second", qos=1)
        elif payload == "second":
            assert self.partner is not None
            self.partner.finish()
            self.finish()


def test_two_tonics_on_one_broker_share_one_connection(broker: Broker):
    tonics: list[Sharer] = []

    def start() -> None:
        follower = Sharer(broker.port, lead=False)
        lead = Sharer(broker.port, lead=True)
        lead.partner = follower
        tonics.extend((lead, follower))
    run_app(start)
    lead, follower = tonics
    assert lead.bridges[0] is follower.bridges[0]
    assert lead.bridges[0].connects == 1
    assert lead.received == ["first", "unsubscribed", "second"]
    assert follower.received == ["first"]   # it had unsubscribed before "second"


def test_bridge_rejects_bad_settings():
    with pytest.raises(ValueError, match="port"):
        ttMqttBridge("127.0.0.1", 70000)
    with pytest.raises(TypeError, match="host"):
        ttMqttBridge("", 1883)


def test_demo_over_mqtt_one_devices_and_two_aggregator_processes(broker: Broker):
    import json
    common = [sys.executable, "-m", "tasktonic", "demo", "--mqtt", broker.address,
              "--partitions", "2", "--devices", "400", "--duration", "1", "--rate", "4",
              "--json"]
    processes = [subprocess.Popen(common + ["--role", "aggregators", "--partition", str(i)],
                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for i in (0, 1)]
    try:
        processes.append(subprocess.Popen(common + ["--role", "devices"], cwd=ROOT,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True))
        outputs = [p.communicate(timeout=PROCESS_TIMEOUT) for p in processes]
    finally:
        for process in processes:
            stop(process)
    for process, (_, err) in zip(processes, outputs):
        assert process.returncode == 0, err
    agg0, agg1, devices = (json.loads(out.strip().splitlines()[-1]) for out, _ in outputs)
    assert devices["role"] == "devices" and devices["flushed"] is True
    assert agg0["partitions"] == [0] and agg1["partitions"] == [1]
    assert agg0["lost"] == 0 and agg1["lost"] == 0
    assert agg0["events"] > 0 and agg1["events"] > 0
    assert agg0["events"] + agg1["events"] == devices["events"] >= 400 * 4


class _Refusals(logging.Handler):
    """Sets ``refused`` when the bridge logs that the broker refused the connection."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.refused = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "refused the connection" in record.getMessage():
            self.refused.set()


class _WaitForRefusal(ttTonic):
    def __init__(self, port: int, refused: threading.Event, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.port, self.refused = port, refused

    def ttse__on_start(self) -> None:
        self.bridge = ttMqttBridge("127.0.0.1", self.port, username="sensor", password="wrong")
        self.bridge.ttsc__subscribe(self, "auth/#")
        self.poll = ttTimerRepeat(0.02, sparkle_back=self.tts__check)

    def tts__check(self, info: Any = None) -> None:
        if self.refused.is_set():
            self.finish()

    def ttse__on_mqtt_message(self, topic: str, payload: Any) -> None:
        raise AssertionError("a refused client received a message")


class _Authenticated(Prober):
    def ttse__on_start(self) -> None:
        self.bridge = ttMqttBridge("127.0.0.1", self.port, username="sensor", password="s3cret")
        self.bridge.ttsc__subscribe(self, "probe/#")


def test_username_and_password(tmp_path: Path):
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("mosquitto_passwd is not installed (it comes with mosquitto)")
    passwords = tmp_path / "passwords"
    subprocess.run([tool, "-b", "-c", str(passwords), "sensor", "s3cret"],
                   check=True, capture_output=True)
    server = Broker(tmp_path, extra=("allow_anonymous false", f"password_file {passwords}"))
    server.start()
    refusals = _Refusals()
    logging.getLogger("tasktonic").addHandler(refusals)
    try:
        run_app(lambda: _WaitForRefusal(server.port, refusals.refused))
        tonics: list[Prober] = []
        run_app(lambda: tonics.append(_Authenticated(server.port, [{"ok": True}])))
    finally:
        logging.getLogger("tasktonic").removeHandler(refusals)
        server.stop()
    assert refusals.refused.is_set()
    assert tonics[0].received == [("probe/0", {"ok": True}), ("probe/1", [0])]


def test_the_last_will_is_published_when_a_client_dies(broker: Broker):
    processes: list[subprocess.Popen] = []
    tonics: list[Collector] = []

    class WillWatcher(Collector):
        """Kills the peer once its one message is in; finishes at its will."""

        def ttse__on_mqtt_message(self, topic: str, payload: Any) -> None:
            self.events.append(("message", topic, payload))
            if payload == [0]:
                processes[0].kill()   # no DISCONNECT: the broker must publish the will
            elif payload == {"gone": True}:
                self.finish()

    def start() -> None:
        tonics.append(WillWatcher(broker.port, "peer/#", 0, on_subscribed=lambda: processes.append(
            publisher(broker.port, "peer/data", 1, "--will", "peer/will"))))
    try:
        run_app(start, timeout=PROCESS_TIMEOUT)
    finally:
        for process in processes:
            stop(process)
    messages = [e[1:] for e in tonics[0].events if e[0] == "message"]
    assert messages == [("peer/data", [0]), ("peer/will", {"gone": True})]


def test_tls_with_a_self_signed_certificate(tmp_path: Path):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server = Broker(tmp_path, extra=(f"certfile {cert}", f"keyfile {key}", f"cafile {cert}"))
    server.start()
    context = ssl.create_default_context(cafile=str(cert))
    tonics: list[Prober] = []

    class TlsProber(Prober):
        def ttse__on_start(self) -> None:
            self.bridge = ttMqttBridge("127.0.0.1", self.port, tls=context)
            self.bridge.ttsc__subscribe(self, "probe/#")
    try:
        run_app(lambda: tonics.append(TlsProber(server.port, [{"secret": 42}] * 200)))
    finally:
        server.stop()
    assert tonics[0].received == [(f"probe/{i}", {"secret": 42}) for i in range(200)] + [
        ("probe/200", [0])]


def test_without_paho_the_import_error_names_the_extra():
    code = ("import sys; sys.modules['paho'] = None\n"
            "try:\n    import tasktonic.mqtt\nexcept ImportError as exc:\n    print(exc)\n"
            "from tasktonic.info import integrations\n"
            "for what, state in integrations():\n    print(what, '=>', state)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    first, *info = done.stdout.splitlines()
    assert "pip install 'tasktonic[mqtt]'" in first and "paho-mqtt" in first
    assert "mqtt bridge (tasktonic.mqtt) => not available: " in info[0]
    assert info[1].startswith("msgpack payloads => available")


def test_without_msgpack_the_codec_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "msgpack", None)
    with pytest.raises(ImportError, match=r"tasktonic\[mqtt\]"):
        CODECS["msgpack"]()
