"""python -m bench.adopt: adopted asyncio round trips per second, tonic -> coroutine -> tonic.

tasktonic: a tonic adopts ``echo(i)`` (``ttAdopter.adopt``, the asyncio flavour's loop thread)
and hears the result as ``ttse__on_adopted_done`` on its own catalyst. The baseline is a plain
asyncio program doing the same hops: a thread hands ``echo(i)`` to an event loop running in
another thread with ``asyncio.run_coroutine_threadsafe`` and waits for the result on its
``concurrent.futures.Future``. Two shapes: one round trip at a time (latency) and 1,000 in
flight (throughput). Each figure is the median of --reps runs, each in a fresh process (the
implementations interleaved) after a warm-up; the spread is min-max.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
from collections import deque
from time import perf_counter
from typing import Any

SHAPES = {"one at a time": (1, 3_000), "1,000 in flight": (1_000, 20_000)}
IMPLEMENTATIONS = {"tasktonic compiled": {"TASKTONIC_REQUIRE_EXTENSIONS": "1"},
                   "tasktonic pure": {"TASKTONIC_NO_EXTENSIONS": "1"},
                   "asyncio run_coroutine_threadsafe": {}}


async def echo(value: int) -> int:
    return value


def tasktonic_round_trips(in_flight: int, total: int) -> float:
    """Round trips per second through ``ttAdopter.adopt``."""
    from tasktonic import ttFormula
    from tasktonic.daemon import ttAdopter

    result: dict[str, float] = {}

    class Hopper(ttAdopter):
        def ttse__on_start(self) -> None:
            self.sent = self.received = 0
            self.t0 = perf_counter()
            for _ in range(in_flight):
                self._send()

        def _send(self) -> None:
            self.adopt(echo, self.sent)
            self.sent += 1

        def ttse__on_adopted_done(self, handle: Any, value: int) -> None:
            self.received += 1
            if self.sent < total:
                self._send()
            elif self.received == total:
                result["rate"] = total / (perf_counter() - self.t0)
                self.finish()

    class Bench(ttFormula):
        def creating_formula(self) -> Any:
            return (("tasktonic/log/to", "off"),)

        def creating_starting_tonics(self) -> None:
            Hopper()

    Bench()
    return result["rate"]


def asyncio_round_trips(in_flight: int, total: int) -> float:
    """Round trips per second with ``run_coroutine_threadsafe`` from a plain thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        t0 = perf_counter()
        sent = 0
        pending: deque = deque()
        while sent < total or pending:
            while sent < total and len(pending) < in_flight:
                pending.append(asyncio.run_coroutine_threadsafe(echo(sent), loop))
                sent += 1
            pending.popleft().result()
        return total / (perf_counter() - t0)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def worker(implementation: str) -> dict[str, float]:
    """One process: a warm-up, then every shape once."""
    run = asyncio_round_trips if implementation.startswith("asyncio") else tasktonic_round_trips
    rates = {}
    for shape, (in_flight, total) in SHAPES.items():
        run(in_flight, total // 5)  # warm-up
        rates[shape] = run(in_flight, total)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in IMPLEMENTATIONS}
    for _ in range(args.reps):
        for name, env in IMPLEMENTATIONS.items():
            out = subprocess.run([sys.executable, "-m", "bench.adopt", "--worker", name],
                                 env={**os.environ, **env}, capture_output=True, text=True,
                                 check=True).stdout
            runs[name].append(json.loads(out))
    baseline = "asyncio run_coroutine_threadsafe"
    print(f"adopted asyncio round trips per second (median of {args.reps}, min-max)")
    for shape in SHAPES:
        print(f"\n{shape}:")
        base = statistics.median(r[shape] for r in runs[baseline])
        for name, results in runs.items():
            rates = [r[shape] for r in results]
            median = statistics.median(rates)
            print(f"  {name:34} {median:>9,.0f}/s  ({min(rates):,.0f}-{max(rates):,.0f})"
                  f"  x{median / base:.2f}")


if __name__ == "__main__":
    main()
