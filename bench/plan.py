"""What is measured: workloads, sizes, metrics and the targets of issue 4.

Parent and worker both read this module, so a size or a metric is named in one place only.
Sizes are the issue's; ``--quick`` divides every size by ``QUICK_DIVISOR``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

#: Every column of the table, in order. The first three run tasktonic-shaped code.
IMPLEMENTATIONS = ("compiled", "pure", "upstream", "asyncio", "uvloop")
FRAMEWORKS = ("compiled", "pure", "upstream")
LOOPS = ("asyncio", "uvloop")

QUICK_DIVISOR = 10
DEFAULT_REPS = 5
#: Hard limit for one worker process (one warm-up plus one measured run).
WORKER_TIMEOUT_S = 300.0
#: Upstream creation degrades with ledger size; the whole series of repetitions gets this much
#: before the worker falls back to ``CREATION_FALLBACK`` tonics.
CREATION_BUDGET_S = 60.0
CREATION_FALLBACK = 1_000


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    higher_is_better: bool
    #: Ratios only make sense for costs and rates, not for e.g. lateness.
    ratios: bool = True


@dataclass(frozen=True)
class Workload:
    name: str
    size: int
    size_label: str
    impls: tuple[str, ...]
    metrics: tuple[Metric, ...]
    #: Per-implementation sizes where the issue asks for a smaller run (upstream timers),
    #: and why, for the notes under the table.
    size_overrides: dict[str, int] = field(default_factory=dict)
    override_reason: str = ""
    #: The warm-up run uses ``size // warmup_divisor`` (expensive workloads warm up smaller).
    warmup_divisor: int = 1
    #: Implementations measured even when their package is missing (the copier's upstream
    #: column is ``copy.deepcopy``).
    runs_without_package: tuple[str, ...] = ()

    def size_for(self, impl: str, quick: bool) -> int:
        size = self.size_overrides.get(impl, self.size)
        return max(1, size // QUICK_DIVISOR) if quick else size


def _rate(key: str, label: str, unit: str = "ops/s") -> Metric:
    return Metric(key, label, unit, higher_is_better=True)


def _cost(key: str, label: str, unit: str, ratios: bool = True) -> Metric:
    return Metric(key, label, unit, higher_is_better=False, ratios=ratios)


WORKLOADS: tuple[Workload, ...] = (
    Workload("chain", 200_000, "200,000 sparkles, each queues the next",
             IMPLEMENTATIONS, (_rate("chain_ops", "chain"),)),
    Workload("fanout", 1_000, "1,000 tonics on one catalyst x 200 sparkles, round-robin",
             IMPLEMENTATIONS, (_rate("fanout_ops", "fan-out"),)),
    Workload("crossthread", 100_000, "100,000 IoT payloads from a plain thread to a worker "
             "catalyst", IMPLEMENTATIONS, (_rate("crossthread_ops", "cross-thread IoT"),)),
    Workload("copier", 100_000, "100,000 copies of the IoT payload (upstream column: "
             "copy.deepcopy, what 0.2.4 does per argument)", FRAMEWORKS,
             (_rate("copier_ops", "copier alone", "copies/s"),),
             runs_without_package=("upstream",)),
    Workload("timers", 100_000, "100,000 single shots due within 2 s, one tonic",
             IMPLEMENTATIONS,
             (_cost("timers_cpu_s", "timers: CPU of the run", "s", ratios=False),
              _cost("timers_cpu_us", "timers: CPU per timer", "µs"),
              _cost("timers_p50_ms", "timers: lateness p50", "ms", ratios=False),
              _cost("timers_p99_ms", "timers: lateness p99", "ms", ratios=False),
              _cost("timers_create_us", "timers: create", "µs"),
              _cost("timers_stop_us", "timers: stop (all live)", "µs"),
              _cost("timers_start_us", "timers: start (all live)", "µs")),
             size_overrides={"upstream": 10_000}, warmup_divisor=10,
             override_reason="0.2.4 keeps timers in a sorted list, O(n) per operation; the "
                             "issue measures it at 10,000"),
    Workload("finishing", 20_000, "20,000 live children of one tonic finished oldest first, "
             "then newest first", FRAMEWORKS,
             (_cost("finish_oldest_us", "finishing: oldest first", "µs/tonic"),
              _cost("finish_newest_us", "finishing: newest first", "µs/tonic")),
             size_overrides={"upstream": 2_000},
             override_reason="TaskTonic 0.2.4 creates a tonic in ~0.5 ms: 2,000 children"),
    Workload("overflow", 25_000, "25,000 IoT payloads, as fast as a thread sends them, to a "
             "tonic that spends 40 µs on each: no bound, then max_queue=1,000 under each "
             "policy", ("compiled", "pure"),
             tuple(m for policy in ("block", "drop_newest", "drop_oldest", "raise", "signal",
                                    "unbounded")
                   for m in (_rate(f"overflow_{policy}_ops", f"overflow {policy}: delivered"),
                             _cost(f"overflow_{policy}_peak", f"overflow {policy}: most waiting",
                                   "orders", ratios=False),
                             _cost(f"overflow_{policy}_mb", f"overflow {policy}: RSS growth",
                                   "MB", ratios=False),
                             _cost(f"overflow_{policy}_lost", f"overflow {policy}: lost",
                                   "orders", ratios=False))),
             warmup_divisor=25),
    Workload("parallel", 200_000, "K catalysts (K = 1, 2, 4), each a chain of 200,000 "
             "sparkles at once: aggregate rate, and K = 2 over K = 1 (run it on a "
             "free-threaded interpreter too: `.venv-3.13t/bin/python -m bench --only parallel`)",
             ("compiled", "pure"),
             (_rate("parallel_k1_ops", "parallel: 1 catalyst"),
              _rate("parallel_k2_ops", "parallel: 2 catalysts"),
              _rate("parallel_k4_ops", "parallel: 4 catalysts"),
              Metric("parallel_scaling", "parallel: 2 catalysts / 1", "×",
                     higher_is_better=True, ratios=False)),
             warmup_divisor=10),
    Workload("creation", 10_000, "10,000 tonics of a class with 20 sparkles and 3 states",
             FRAMEWORKS,
             (_cost("creation_us", "creation", "µs/tonic"),
              _cost("creation_bytes", "creation: memory", "B/tonic", ratios=False)),
             warmup_divisor=10),
    Workload("io_latency", 2_000, "2,000 socket events, one per ms, into a selector catalyst "
             "running a sparkle chain (poll_every=64)", ("compiled", "pure"),
             (_cost("io_p50_us", "I/O event during a chain: latency p50", "µs", ratios=False),
              _cost("io_p99_us", "I/O event during a chain: latency p99", "µs", ratios=False),
              _rate("io_chain_ops", "chain while polling I/O")),
             warmup_divisor=10),
)

#: Readings per device in the ``iot`` workload (its size is the number of devices).
IOT_READINGS = 50

WORKLOADS += (
    Workload("iot", 1_000, f"the demo's pipeline flat out: 1,000 devices x {IOT_READINGS} "
             "readings (state machines with hysteresis, 10 site aggregators with rolling "
             "stats and dedup, the twin) on one worker catalyst / one event loop",
             ("compiled", "pure", "asyncio", "uvloop"),
             (_rate("iot_events", "iot pipeline", "events/s"),
              _cost("iot_p99_ms", "iot: latency p99", "ms", ratios=False),
              _cost("iot_model_us", "iot: the model alone, in a plain loop", "µs",
                    ratios=False),
              _cost("iot_framework_us", "iot: framework per event (run minus the model alone)",
                    "µs"))),
)

WORKLOADS_BY_NAME = {w.name: w for w in WORKLOADS}


@dataclass(frozen=True)
class Target:
    """One line of the issue's targets: a ratio ``impl / versus >= at_least`` or a bound."""

    label: str
    metric: str
    impl: str
    versus: str | None = None
    at_least: float | None = None     # ratio (as a speedup) that must be reached
    at_most: float | None = None      # absolute bound in the metric's unit


TARGETS: tuple[Target, ...] = (
    Target("chain: compiled ≥ 12× upstream", "chain_ops", "compiled", "upstream", 12),
    Target("chain: compiled ≥ 2× uvloop", "chain_ops", "compiled", "uvloop", 2),
    Target("chain: pure ≥ 3× upstream", "chain_ops", "pure", "upstream", 3),
    Target("fan-out: compiled ≥ 20× upstream", "fanout_ops", "compiled", "upstream", 20),
    Target("cross-thread: compiled ≥ 8× upstream", "crossthread_ops", "compiled",
           "upstream", 8),
    Target("cross-thread: compiled ≥ 0.7× uvloop call_soon_threadsafe", "crossthread_ops",
           "compiled", "uvloop", 0.7),
    Target("copier: compiled ≥ 10× copy.deepcopy", "copier_ops", "compiled", "upstream", 10),
    Target("timers: start ≤ 2 µs compiled, 100k live", "timers_start_us", "compiled",
           at_most=2.0),
    Target("timers: stop ≤ 2 µs compiled, 100k live", "timers_stop_us", "compiled",
           at_most=2.0),
    Target("timers: lateness p99 ≤ 2 ms compiled", "timers_p99_ms", "compiled", at_most=2.0),
    Target("creation: compiled ≥ 30× upstream", "creation_us", "compiled", "upstream", 30),
    Target("iot: compiled ≥ 5× pure", "iot_events", "compiled", "pure", 5),
    Target("iot: compiled ≥ 3× uvloop", "iot_events", "compiled", "uvloop", 3),
)

METRICS = {m.key: m for w in WORKLOADS for m in w.metrics}
WORKLOAD_OF = {m.key: w.name for w in WORKLOADS for m in w.metrics}
