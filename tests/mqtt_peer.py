"""The other process of the MQTT tests: publishes numbered messages through ttMqttBridge.

``python -m tests.mqtt_peer PORT TOPIC COUNT [--client-id ID] [--chunk C] [--every S]``
publishes ``[i]`` for i in 0..COUNT-1 at QoS 1, ``C`` messages every ``S`` seconds (all at once
without ``--every``), waits until the broker has acknowledged every one (``ttsc__flush``),
prints ``published COUNT`` and exits 0. With ``--client-id`` the session is persistent
(``clean_session=False``), so unacknowledged messages survive a broker restart. With
``--will TOPIC`` the connection carries the last will ``{"gone": True}`` on TOPIC and the
process stays connected after printing, until it is killed.
"""
from __future__ import annotations

import argparse
from typing import Any

from tasktonic import ttFormula, ttTimerRepeat, ttTonic
from tasktonic.mqtt import ttMqttBridge


class Publisher(ttTonic):
    def __init__(self, args: argparse.Namespace, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.args = args
        self.next = 0
        self.timer: ttTimerRepeat | None = None

    def ttse__on_start(self) -> None:
        args = self.args
        will = (args.will, {"gone": True}, 1) if args.will else None
        self.bridge = ttMqttBridge("127.0.0.1", args.port, client_id=args.client_id,
                                   clean_session=args.client_id is None, will=will)
        if args.every:
            self.timer = ttTimerRepeat(args.every, sparkle_back=self.tts__chunk)
        else:
            self.tts__chunk()

    def tts__chunk(self, info: Any = None) -> None:
        args = self.args
        end = min(args.count, self.next + (args.chunk if args.every else args.count))
        for i in range(self.next, end):
            self.bridge.ttsc__publish(args.topic, [i], qos=1)
        self.next = end
        if end == args.count:
            if self.timer is not None:
                self.timer.stop()
            self.bridge.ttsc__flush(self)

    def ttse__on_mqtt_flushed(self) -> None:
        print(f"published {self.args.count}", flush=True)
        if not self.args.will:
            self.finish()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("topic")
    parser.add_argument("count", type=int)
    parser.add_argument("--client-id")
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument("--every", type=float, default=0.0)
    parser.add_argument("--will")
    args = parser.parse_args()

    class PeerApp(ttFormula):
        def creating_formula(self) -> tuple:
            return (("tasktonic/log/to", "off"),)

        def creating_starting_tonics(self) -> None:
            Publisher(args)

    PeerApp()


if __name__ == "__main__":
    main()
