"""python -m bench.importtime: what ``import tasktonic`` costs a program that starts.

Each run is a fresh interpreter: ``python -c 'import tasktonic'`` against a bare one
(``python -c pass``), interleaved so a burst of load on the machine hits both, after a warm-up
that writes the bytecode caches (a pip install compiles them too, so the child processes run
without ``PYTHONDONTWRITEBYTECODE``). Printed: the medians and spreads of the wall time of
both, and of the import statement alone as timed inside the interpreter, which start-up noise
does not blur. ``--limit MS`` exits with status 1 when that median is above it (issue 15: an
import under 25 ms). For where the time goes: ``python -X importtime -c 'import tasktonic'``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

__all__ = ["measure", "main"]

#: Prints the seconds the import statement takes.
TIMED_IMPORT = ("import time; t = time.perf_counter(); import tasktonic; "
                "print(time.perf_counter() - t)")


def _run(code: str, env: dict[str, str]) -> tuple[float, str]:
    """(wall seconds, stdout) of ``python -c code``."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                          capture_output=True, text=True)
    return time.perf_counter() - start, done.stdout


def measure(reps: int, env: dict[str, str]) -> dict[str, list[float]]:
    """Seconds per run, ``reps`` of each: ``bare`` and ``import`` wall times, ``inside``."""
    times: dict[str, list[float]] = {"bare": [], "import": [], "inside": []}
    _run(TIMED_IMPORT, env)  # warm-up: bytecode caches, file system cache
    for _ in range(reps):
        times["bare"].append(_run("pass", env)[0])
        wall, out = _run(TIMED_IMPORT, env)
        times["import"].append(wall)
        times["inside"].append(float(out))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.importtime", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=21, help="runs of each (default 21)")
    parser.add_argument("--limit", type=float, metavar="MS",
                        help="fail when the median import statement takes longer")
    parser.add_argument("--pure", action="store_true", help="TASKTONIC_NO_EXTENSIONS=1")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.pure:
        env["TASKTONIC_NO_EXTENSIONS"] = "1"
        env.pop("TASKTONIC_REQUIRE_EXTENSIONS", None)
    times = measure(args.reps, env)
    ms = {key: 1000 * statistics.median(values) for key, values in times.items()}
    spread = {key: 1000 * (max(values) - min(values)) for key, values in times.items()}
    print(f"python -c pass              {ms['bare']:6.1f} ms median (spread {spread['bare']:.1f})")
    print(f"python -c 'import tasktonic' {ms['import']:5.1f} ms median "
          f"(spread {spread['import']:.1f}; {ms['import'] / ms['bare']:.2f}x bare, "
          f"{ms['import'] - ms['bare']:.1f} ms more)")
    print(f"the import statement alone  {ms['inside']:6.1f} ms median "
          f"(spread {spread['inside']:.1f}; {args.reps} runs each, load average "
          f"{os.getloadavg()[0]:.2f})")
    if args.limit is not None and ms["inside"] > args.limit:
        print(f"import tasktonic: above the limit of {args.limit:g} ms")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
