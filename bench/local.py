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


def rate(call: Callable[[], object], calls: int, reps: int) -> list[float]:
    """Calls per second of ``reps`` runs of ``calls`` calls, after a warm-up run."""
    for _ in range(calls // 10):
        call()
    rates = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        rates.append(calls / (time.perf_counter() - start))
    return rates


def local_rates(serializer: str, calls: int, reps: int) -> list[float]:
    svc = local_singleton(f"bench-{serializer}", factory="bench.local:Counter",
                          serializer=serializer, idle_ttl=5.0)
    try:
        with svc.proxy() as counter:
            return rate(counter.inc, calls, reps)
    finally:
        svc.shutdown()


def manager_rates(calls: int, reps: int) -> list[float]:
    manager = CounterManager(address=("127.0.0.1", 0), authkey=os.urandom(16))
    manager.start()
    try:
        counter = manager.Counter()  # type: ignore[attr-defined]  # registered above
        return rate(counter.inc, calls, reps)
    finally:
        manager.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.local", description=__doc__)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ttl") as runtime:
        os.environ["XDG_RUNTIME_DIR"] = runtime  # the daemons' files, gone afterwards
        rows = {
            "tasktonic.local proxy (msgpack)": local_rates("msgpack", args.calls, args.reps),
            "tasktonic.local proxy (pickle)": local_rates("pickle", args.calls, args.reps),
            "multiprocessing BaseManager (pickle)": manager_rates(args.calls, args.reps),
        }
    baseline = statistics.median(rows["multiprocessing BaseManager (pickle)"])
    print(f"tasktonic {tasktonic.implementation}; {args.reps} x {args.calls} calls of "
          "counter.inc(), one client, round trip each")
    print(f"{'server':<40} {'calls/s':>10} {'spread':>19} {'vs BaseManager':>15}")
    for label, rates in rows.items():
        median = statistics.median(rates)
        print(f"{label:<40} {median:>10,.0f} {min(rates):>9,.0f}-{max(rates):<9,.0f} "
              f"{median / baseline:>14.2f}x")


if __name__ == "__main__":
    main()
