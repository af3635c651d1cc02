"""python -m bench: every workload, every implementation, one table.

Columns: tasktonic compiled (when ``import tasktonic`` picks it with the default
environment), tasktonic pure (``TASKTONIC_NO_EXTENSIONS=1``), TaskTonic 0.2.4 (installed into
bench/.upstream on first use), asyncio and uvloop where the workload has an equivalent.
Each figure is the median of --reps repetitions, each in a fresh ``python -m bench.worker``
process that runs a warm-up first; the repetitions of all implementations are interleaved so
a burst of load on the machine spreads over all columns instead of one.

A full run writes bench/RESULTS.md; a --quick or --only run writes it only with --results.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from . import machine, report, upstream
from .plan import (
    CREATION_BUDGET_S,
    CREATION_FALLBACK,
    DEFAULT_REPS,
    QUICK_DIVISOR,
    WORKER_TIMEOUT_S,
    WORKLOADS,
    WORKLOADS_BY_NAME,
    Workload,
)
from .report import Cell, Results
from .worker import MARKER

RESULTS_PATH = Path(__file__).resolve().parent / "RESULTS.md"
#: A (workload, implementation) that failed this often gets no further repetitions; a single
#: failure (TaskTonic 0.2.4 has been seen to hang once in about twenty timer runs) only costs
#: that repetition.
MAX_FAILURES = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=DEFAULT_REPS,
                        help=f"repetitions per figure (default {DEFAULT_REPS})")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: every size divided by {QUICK_DIVISOR}")
    parser.add_argument("--only", type=lambda text: [w for w in text.split(",") if w],
                        help="comma-separated workloads: " + ",".join(WORKLOADS_BY_NAME))
    parser.add_argument("--timeout", type=float, default=WORKER_TIMEOUT_S,
                        help=f"seconds allowed to one worker (default {WORKER_TIMEOUT_S:g})")
    parser.add_argument("--results", type=Path,
                        help=f"write the report here (default for a full run: {RESULTS_PATH})")
    args = parser.parse_args(argv)
    unknown = [name for name in args.only or () if name not in WORKLOADS_BY_NAME]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; choose from "
                     f"{', '.join(WORKLOADS_BY_NAME)}")
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    return args


def unavailable_implementations() -> tuple[dict[str, str], dict[str, str]]:
    """``(impl -> why it cannot run, facts for the report)``; installs the baseline if needed."""
    missing: dict[str, str] = {}
    facts: dict[str, str] = {}
    compiled, detail = machine.probe_compiled()
    facts["tasktonic"] = detail
    if not compiled:
        missing["compiled"] = "n/a (not built)"
    version, where = upstream.ensure_installed()
    if version is None:
        missing["upstream"] = f"n/a: {where}"
        facts["upstream"] = f"TaskTonic {upstream.VERSION}: not available ({where})"
    else:
        facts["upstream"] = f"TaskTonic {version} from {where}"
    uvloop = machine.uvloop_version()
    if uvloop is None:
        missing["uvloop"] = "n/a: uvloop is not importable (`pip install uvloop`)"
        facts["uvloop"] = "not installed (`pip install uvloop`, or the `bench` extra)"
    else:
        facts["uvloop"] = uvloop
    return missing, facts


def run_worker(impl: str, workload: Workload, size: int, args: argparse.Namespace,
               fallback: int | None) -> tuple[dict | None, str | None]:
    """One fresh worker process: ``(record, None)`` or ``(None, problem)``."""
    command = [sys.executable, "-m", "bench.worker", impl, workload.name, "--size", str(size)]
    if workload.name == "creation":
        command += ["--budget", f"{CREATION_BUDGET_S / args.reps:g}"]
        if fallback:
            command += ["--fallback-size", str(fallback)]
    try:
        done = subprocess.run(command, cwd=machine.ROOT, env=machine.worker_env(impl),
                              capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return None, f"timeout: no result within {args.timeout:g} s"
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return None, f"error: {last}"
    return json.loads(lines[-1][len(MARKER):]), None


def collect(workloads: list[Workload], missing: dict[str, str], args: argparse.Namespace
            ) -> tuple[Results, list[dict]]:
    """Run every repetition of every (workload, implementation), interleaved by repetition."""
    results: Results = {}
    records: list[dict] = []
    for workload in workloads:
        row = results.setdefault(workload.name, {})
        runnable = []
        for impl in workload.impls:
            problem = None if impl in workload.runs_without_package else missing.get(impl)
            row[impl] = Cell(impl, problem=problem)
            if problem is None:
                runnable.append(impl)
        sizes = {impl: workload.size_for(impl, args.quick) for impl in runnable}
        fallback = CREATION_FALLBACK // (QUICK_DIVISOR if args.quick else 1)
        for rep in range(1, args.reps + 1):
            for impl in runnable:
                cell = row[impl]
                if len(cell.failures) >= MAX_FAILURES:
                    continue  # it keeps failing: stop paying timeouts for it
                started = time.perf_counter()
                record, problem = run_worker(impl, workload, sizes[impl], args, fallback)
                elapsed = time.perf_counter() - started
                if problem:
                    cell.failures.append(f"repetition {rep}: {problem}")
                    progress(workload, impl, rep, args.reps, problem, elapsed)
                    continue
                records.append(record)
                cell.samples.append(record["metrics"])
                cell.size, sizes[impl] = record["size"], record["size"]
                cell.note = cell.note or record.get("note")
                progress(workload, impl, rep, args.reps, first_metric(workload, record),
                         elapsed)
    return results, records


def first_metric(workload: Workload, record: dict) -> str:
    metric = workload.metrics[0]
    value = record["metrics"].get(metric.key)
    return "?" if value is None else f"{report.fmt(value, metric.unit)} {metric.unit}"


def progress(workload: Workload, impl: str, rep: int, reps: int, text: str,
             elapsed: float) -> None:
    print(f"bench: {workload.name:<11} {impl:<8} {rep}/{reps}  {text}  ({elapsed:.1f} s)",
          file=sys.stderr, flush=True)


def document(body: str, workloads: list[Workload], facts: dict[str, str],
             records: list[dict], args: argparse.Namespace, argv: list[str]) -> str:
    """The report: what ran where, then the table and the targets."""
    host = machine.describe()
    tasktonic_versions = sorted({f"{r['version']} ({r['implementation']})" for r in records
                                 if r.get("implementation")})
    command = " ".join(["python -m bench", *argv])
    lines = [
        "# tasktonic benchmarks",
        "",
        "Written by `python -m bench` (`make bench`); run it again rather than editing this.",
        "",
        f"- date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- command: `{command}`" + ("  (quick smoke run: every size / "
                                     f"{QUICK_DIVISOR}, not comparable with the targets)"
                                     if args.quick else ""),
        f"- machine: {host['platform']}; CPU {host['cpu']}; {host['nproc']} CPUs",
        f"- Python: {host['python']} ({host['executable']})",
        f"- tasktonic: {facts['tasktonic']}; measured: "
        f"{', '.join(tasktonic_versions) or 'nothing'}; source: {machine.source_revision()}",
        f"- baseline: {facts['upstream']}",
        f"- uvloop: {facts['uvloop']}",
        f"- method: median of {args.reps} repetitions, (min–max) beside it; each repetition "
        "is a fresh process that runs a warm-up first; ratios are speedups on the medians "
        "(C = compiled, P = pure, up = TaskTonic 0.2.4, uv = uvloop).",
        "",
        "## Results",
        "",
        body,
        "",
        "## Workloads",
        "",
    ]
    lines += [f"- **{w.name}**: {w.size_label}" for w in workloads]
    lines += ["", *METHOD_NOTES]
    return "\n".join(lines) + "\n"


METHOD_NOTES = (
    "Notes on method:",
    "",
    "- Logging is off everywhere (`tasktonic/log/to` = `off`, default mode `STEALTH`); every "
    "application ends by finishing its tonics, under a hard per-process timeout.",
    "- cross-thread: the clock runs from the producer's first send to the arrival of the "
    "last payload; tasktonic and TaskTonic copy every payload, asyncio/uvloop "
    "(`call_soon_threadsafe`) copy nothing.",
    "- copier alone: `tasktonic._switch.copy.copy_call((payload,), {})` per call; the "
    "TaskTonic column is `copy.deepcopy(payload)`, which is what 0.2.4 does per argument.",
    "- timers: single shots are created held at 1 h; stop and start are timed per call, in "
    "random order, with all timers live and the set-up objects frozen (`gc.freeze()`); then "
    "each is re-armed to fire at T0 + U(0, 2 s), "
    "T0 after the arming ends (frozen again, so a full "
    "collection of the set-up does not land in the window). Lateness is `monotonic()` in the "
    "callback minus the intended deadline; CPU time (`process_time`) runs from the arming "
    "to the last firing. asyncio/uvloop use `call_later` handles (stop = `cancel()`).",
    "- creation: the class is built with `type()` (17 generic sparkles and 3 with a handler "
    "in each of 3 states); bytes per tonic are traced with `tracemalloc` in a separate run "
    "on at most 500 live tonics, after their start-up sparkles have run.",
    "- overflow: the policies run one after the other in one process (block, drop_newest, "
    "drop_oldest, raise, signal, then unbounded): RSS growth is the peak resident memory "
    "(sampled every 2 ms) above the start of that run, so memory an earlier run freed and "
    "the next reuses does not count; the unbounded run comes last for that reason. 'lost' "
    "counts orders dropped by the bound or refused to the sender ('raise'); 'signal' has a "
    "tonic producer that pauses between `ttse__on_queue_high` and `ttse__on_queue_low`.",
)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    workloads = [w for w in WORKLOADS if not args.only or w.name in args.only]
    build = machine.compiled_fingerprint()
    missing, facts = unavailable_implementations()
    for impl, why in missing.items():
        print(f"bench: {impl}: {why}", file=sys.stderr)
    results, records = collect(workloads, missing, args)
    if machine.compiled_fingerprint() != build:
        facts["tasktonic"] += ("; WARNING: the compiled core was rebuilt during this run, its "
                               "figures may mix two builds: run again")
        print("bench: the compiled core was rebuilt during the run", file=sys.stderr)
    text = document(report.render(workloads, results, args.quick), workloads, facts, records,
                    args, argv)
    print(text)
    destination = args.results or (None if args.quick or args.only else RESULTS_PATH)
    if destination:
        destination.write_text(text, encoding="utf-8")
        print(f"bench: report written to {destination}", file=sys.stderr)
    else:
        print("bench: --quick / --only run: bench/RESULTS.md left as it was "
              "(--results PATH writes this report)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
