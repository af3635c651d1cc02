"""python -m bench.local: calls/s through a tasktonic.local proxy vs multiprocessing's BaseManager.

Both sides host the same ``Counter`` in a separate server process on this machine and are
called by one client, round trip by round trip: tasktonic.local over its Unix socket (msgpack,
and pickle), BaseManager over its own socket (pickle, authkey). Each figure is the median of
--reps timed runs of --calls calls after a warm-up; the spread is min-max; the ratio is to
BaseManager. The daemon runs the twin this process runs (TASKTONIC_NO_EXTENSIONS is inherited).
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from multiprocessing.managers import BaseManager

import tasktonic
from tasktonic.local import local_singleton


class Counter:
    """The object both servers host."""

    def __init__(self) -> None:
        self.value = 0

    def inc(self) -> int:
        self.value += 1
        return self.value


class CounterManager(BaseManager):
    pass


CounterManager.register("Counter", Counter)
BASELINE = "multiprocessing BaseManager (pickle)"


def timed(call: Callable[[], object], calls: int) -> float:
    """Calls per second of ``calls`` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return calls / (time.perf_counter() - start)


def measure(servers: dict[str, Callable[[], object]], calls: int,
            reps: int) -> dict[str, list[float]]:
    """Warm every server up, then time them in turn, ``reps`` rounds (so a burst of load on
    the machine spreads over all of them)."""
    for call in servers.values():
        timed(call, calls // 10)
    rates: dict[str, list[float]] = {label: [] for label in servers}
    for _ in range(reps):
        for label, call in servers.items():
            rates[label].append(timed(call, calls))
    return rates


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.local", description=__doc__)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ttl") as runtime, ExitStack() as stack:
        os.environ["XDG_RUNTIME_DIR"] = runtime  # the daemons' files, gone afterwards
        servers: dict[str, Callable[[], object]] = {}
        for serializer in ("msgpack", "pickle"):
            svc = local_singleton(f"bench-{serializer}", factory="bench.local:Counter",
                                  serializer=serializer, idle_ttl=5.0)
            stack.callback(svc.shutdown)
            proxy = stack.enter_context(svc.proxy())
            servers[f"tasktonic.local proxy ({serializer})"] = proxy.inc
        manager = CounterManager(address=("127.0.0.1", 0), authkey=os.urandom(16))
        manager.start()
        stack.callback(manager.shutdown)
        servers[BASELINE] = manager.Counter().inc  # type: ignore[attr-defined]  # registered
        rows = measure(servers, args.calls, args.reps)
    baseline = statistics.median(rows[BASELINE])
    print(f"tasktonic {tasktonic.implementation}; {args.reps} x {args.calls} calls of "
          "counter.inc(), one client, round trip each; "
          "medians, min-max, rounds interleaved")
    print(f"{'server':<40} {'calls/s':>10} {'spread':>19} {'vs BaseManager':>15}")
    for label, rates in rows.items():
        median = statistics.median(rates)
        print(f"{label:<40} {median:>10,.0f} {min(rates):>9,.0f}-{max(rates):<9,.0f} "
              f"{median / baseline:>14.2f}x")


if __name__ == "__main__":
    main()
