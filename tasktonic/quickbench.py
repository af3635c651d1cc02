"""``python -m tasktonic bench`` outside a source checkout: a quick look at this installation.

Why subprocesses: tasktonic picks the compiled or pure twins once per process, so each
implementation runs in its own ``python -m tasktonic.quickbench --worker`` (with
``TASKTONIC_NO_EXTENSIONS=1`` for pure). The repository's ``bench/`` is the real benchmark
(medians, spreads, baselines); this one is a few seconds of three workloads, best of three.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from time import perf_counter
from typing import Any

from .formula import ttFormula
from .log import ttLog
from .tonic import ttTonic

__all__ = ["main", "WORKLOADS"]


def _run(starting: Callable[[], Any]) -> None:
    class Quick(ttFormula):
        def creating_formula(self) -> tuple:
            return (("tasktonic/log/to", "off"), ("tasktonic/log/default", ttLog.STEALTH))

        def creating_starting_tonics(self) -> None:
            starting()

    Quick()


def chain(size: int = 100_000) -> float:
    """Sparkles per second on one tonic, each queuing the next."""
    result: dict[str, float] = {}

    class Chain(ttTonic):
        def ttse__on_start(self) -> None:
            result["t0"] = perf_counter()
            self.tts__step(size)

        def tts__step(self, n: int) -> None:
            if n:
                self.tts__step(n - 1)
            else:
                result["s"] = perf_counter() - result["t0"]
                self.finish()

    _run(Chain)
    return size / result["s"]


def fanout(tonics: int = 500, per_tonic: int = 100) -> float:
    """Sparkles per second to many tonics on one catalyst."""
    result: dict[str, float] = {"left": tonics}

    class Target(ttTonic):
        hits = 0

        def __init__(self, driver: Driver) -> None:
            super().__init__()
            self.driver = driver

        def ttsc__hit(self) -> None:
            self.hits += 1
            if self.hits == per_tonic:
                self.driver.ttse__on_target_done()

    class Driver(ttTonic):
        def ttse__on_start(self) -> None:
            targets = [Target(self) for _ in range(tonics)]
            result["t0"] = perf_counter()
            for _ in range(per_tonic):
                for target in targets:
                    target.ttsc__hit()

        def ttse__on_target_done(self) -> None:
            result["left"] -= 1
            if not result["left"]:
                result["s"] = perf_counter() - result["t0"]
                self.finish()

    _run(Driver)
    return tonics * per_tonic / result["s"]


def crossthread(size: int = 50_000) -> float:
    """Sparkles per second from a plain thread to a tonic (arguments copied)."""
    result: dict[str, float] = {}
    payload = {"device": "sensor-1", "readings": [21.5, 48.2, 1013.25], "tags": ["a", "b"]}

    class Sink(ttTonic):
        received = 0

        def ttse__on_start(self) -> None:
            threading.Thread(target=self.produce, daemon=True).start()

        def produce(self) -> None:
            result["t0"] = perf_counter()
            for _ in range(size):
                self.ttse__on_reading(payload)

        def ttse__on_reading(self, reading: dict) -> None:
            self.received += 1
            if self.received == size:
                result["s"] = perf_counter() - result["t0"]
                self.finish()

    _run(Sink)
    return size / result["s"]


WORKLOADS: dict[str, Callable[[], float]] = {
    "chain": chain, "fan-out": fanout, "cross-thread": crossthread}


def _worker() -> None:
    from . import implementation
    figures = {name: max(run() for _ in range(3)) for name, run in WORKLOADS.items()}
    print(json.dumps({"implementation": implementation, **figures}))


def _measure(pure: bool) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("TASKTONIC_REQUIRE_EXTENSIONS", None)
    env.pop("TASKTONIC_NO_EXTENSIONS", None)
    if pure:
        env["TASKTONIC_NO_EXTENSIONS"] = "1"
    done = subprocess.run([sys.executable, "-m", "tasktonic.quickbench", "--worker"],
                          env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError((done.stderr.strip().splitlines() or ["no output"])[-1])
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    """Measure both implementations and print one table with the ratio."""
    compiled, pure = _measure(pure=False), _measure(pure=True)
    print("tasktonic quick benchmark (best of 3, sparkles/s; bench/ in the repository is the "
          "full one)")
    print(f"{'workload':<14}{compiled['implementation']:>14}{'pure':>14}{'ratio':>8}")
    for name in WORKLOADS:
        print(f"{name:<14}{compiled[name]:>14,.0f}{pure[name]:>14,.0f}"
              f"{compiled[name] / pure[name]:>7.1f}x")
    if compiled["implementation"] != "compiled":
        print("(no compiled core in this installation: both columns ran the pure twins; "
              "see `python -m tasktonic info`)")
    return 0


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    _worker()
