"""One measurement in a fresh process: ``python -m bench.worker <impl> <workload>``.

tasktonic picks its compiled or pure twins once, at import, so each implementation needs its
own process; a fresh process per repetition also keeps one run's leftovers (ledger, heaps,
garbage) out of the next. The worker runs a warm-up, collects garbage, runs the measured
workload and prints one line ``BENCH-RESULT <json>`` (the last line of stdout, so anything a
framework prints cannot be mistaken for it).

The parent sets the environment: ``TASKTONIC_REQUIRE_EXTENSIONS=1`` for ``compiled`` (a
silently pure run cannot pass as compiled), ``TASKTONIC_NO_EXTENSIONS=1`` for ``pure``.
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Callable
from types import ModuleType

from . import aio, upstream, workloads
from .plan import FRAMEWORKS, IMPLEMENTATIONS, LOOPS, WORKLOADS_BY_NAME

MARKER = "BENCH-RESULT "
#: Bytes per tonic are traced on at most this many live tonics: tracing slows TaskTonic 0.2.4
#: down 25 times, and the figure hardly depends on the count (tasktonic: 447 B at 500 tonics,
#: 448 B at 10,000).
MEMORY_TONICS = 500


def import_framework(impl: str) -> ModuleType:
    """``tasktonic`` (checking it runs the twins asked for) or the upstream ``TaskTonic``."""
    if impl == "upstream":
        return upstream.import_upstream()
    import tasktonic
    if tasktonic.implementation != impl:
        raise RuntimeError(f"asked for the {impl} implementation, tasktonic runs "
                           f"{tasktonic.implementation!r}")
    return tasktonic


def new_loop(impl: str):
    """A fresh event loop of the kind asked for."""
    if impl == "uvloop":
        import uvloop
        return uvloop.new_event_loop()
    import asyncio
    return asyncio.new_event_loop()


def copier_call(impl: str) -> tuple[Callable, tuple]:
    """What one cross-thread call copies: tasktonic's ``copy_call``, upstream's deepcopy.

    The upstream variant needs no TaskTonic at all: 0.2.4 calls ``copy.deepcopy``.
    """
    payload = workloads.iot_payload()
    if impl == "upstream":
        return workloads.deepcopy_args(payload)
    import_framework(impl)
    from tasktonic._switch import copy as switch_copy
    return switch_copy.copy_call, ((payload,), {})


def run_once(impl: str, workload: str, size: int, budget_s: float | None) -> dict:
    """Run ``workload`` once at ``size`` on ``impl`` and return its metrics."""
    if impl in LOOPS:
        return getattr(aio, workload)(new_loop(impl), size)
    if workload == "copier":
        copy_one, args = copier_call(impl)
        return workloads.copier(copy_one, args, size)
    tt = import_framework(impl)
    run = upstream.run_isolated if impl == "upstream" else _run_plain
    if workload == "creation":
        metrics = run(tt, workloads.creation, tt, size, budget_s)
        metrics.update(run(tt, workloads.creation_memory, tt, min(size, MEMORY_TONICS)))
        return metrics
    return run(tt, getattr(workloads, workload), tt, size)


def _run_plain(tt: ModuleType, function: Callable, *args):
    """tasktonic's formula resets its own ledger: a second application needs nothing."""
    return function(*args)


def versions(impl: str) -> dict:
    """The version and implementation actually measured, for the report."""
    if impl in FRAMEWORKS and impl != "upstream":
        import tasktonic
        return {"version": tasktonic.__version__, "implementation": tasktonic.implementation}
    if impl == "upstream":
        return {"version": upstream.installed_version()}
    if impl == "uvloop":
        import uvloop
        return {"version": uvloop.__version__}
    return {"version": sys.version.split()[0]}


def measure(impl: str, workload: str, size: int, budget_s: float | None,
            fallback_size: int | None) -> dict:
    """Warm up, then measure; fall back to ``fallback_size`` when over the budget."""
    spec = WORKLOADS_BY_NAME[workload]
    note = None
    try:
        run_once(impl, workload, max(1, size // spec.warmup_divisor), budget_s)
        gc.collect()
        metrics = run_once(impl, workload, size, budget_s)
    except workloads.OverBudget:
        if not fallback_size:
            raise
        note = f"creating {size:,} passed the budget of one run ({budget_s:g} s)"
        size = fallback_size
        gc.collect()
        metrics = run_once(impl, workload, size, None)
    return {"impl": impl, "workload": workload, "size": size, "metrics": metrics,
            "note": note, **versions(impl)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("impl", choices=IMPLEMENTATIONS)
    parser.add_argument("workload", choices=sorted(WORKLOADS_BY_NAME))
    parser.add_argument("--size", type=int, help="default: the workload's full size")
    parser.add_argument("--budget", type=float, help="seconds allowed to one creation run")
    parser.add_argument("--fallback-size", type=int,
                        help="size measured instead when the budget is exceeded")
    args = parser.parse_args(argv)
    spec = WORKLOADS_BY_NAME[args.workload]
    if args.impl not in spec.impls:
        parser.error(f"{args.workload} has no {args.impl} variant")
    size = args.size or spec.size_for(args.impl, quick=False)
    record = measure(args.impl, args.workload, size, args.budget, args.fallback_size)
    print(MARKER + json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
