"""The framework workloads, written once for tasktonic and for TaskTonic 0.2.4.

Every function takes ``tt``, the imported framework module (``tasktonic`` or the published
``TaskTonic``), whose names used here (``ttTonic``, ``ttCatalyst``, ``ttFormula``, ``ttLog``,
``ttTimerSingleShot``, ``finish``, ``base``, ``catalyst=``, ``sparkle_back=``, ``change_timer``)
behave the same in both. Each runs one application with logging off until its tonics finish
by themselves, and returns its metrics. The tonic classes are defined inside the functions
because they must subclass the ``ttTonic`` of the module being measured.

Clocks: ``perf_counter`` for elapsed time, ``process_time`` for CPU time (all threads),
``monotonic`` for timer deadlines (the clock tasktonic's timers run on).
"""
from __future__ import annotations

import copy
import gc
import random
import threading
import tracemalloc
from collections.abc import Callable
from itertools import repeat
from time import monotonic, perf_counter, perf_counter_ns, process_time, time
from types import ModuleType
from typing import Any

#: A single shot started with this period never fires during a run: "created, not yet due".
HOLD_S = 3600.0
#: Timer expiries are spread uniformly over this window.
TIMER_WINDOW_S = 2.0
TIMER_SEED = 20240604


def iot_payload() -> dict:
    """The cross-thread message: device id, timestamp, 8 readings and 3 tags."""
    return {
        "device": "sensor-0042",
        "ts": 1717488000.125,
        "readings": [21.5, 21.7, 48.2, 1013.25, 0.42, 3.3, 17.0, 99.9],
        "tags": ["building-a", "floor-3", "temperature"],
    }


def run_app(tt: ModuleType, starting_tonics: Callable[[], Any]) -> None:
    """Run one application, logging off, whose starting tonics ``starting_tonics()`` creates."""
    class BenchFormula(tt.ttFormula):
        def creating_formula(self):
            return (("tasktonic/log/to", "off"), ("tasktonic/log/default", tt.ttLog.STEALTH))

        def creating_starting_tonics(self):
            starting_tonics()

    BenchFormula()


# -- 1. chain ----------------------------------------------------------------------------------
def chain(tt: ModuleType, size: int) -> dict:
    """Sparkle throughput on one tonic: each sparkle queues the next one."""
    result: dict = {}

    class Chain(tt.ttTonic):
        def ttse__on_start(self):
            self.t0 = perf_counter()
            self.tts__step(size)

        def tts__step(self, n):
            if n:
                self.tts__step(n - 1)
            else:
                result["seconds"] = perf_counter() - self.t0
                self.finish()

    run_app(tt, Chain)
    return {"chain_ops": size / result["seconds"]}


# -- 2. fan-out --------------------------------------------------------------------------------
def fanout(tt: ModuleType, tonics: int, per_tonic: int = 200) -> dict:
    """Many tonics on one catalyst: one driver sparkle queues ``per_tonic`` sparkles to each.

    The clock stops when every target has seen its last sparkle, so the figure covers
    queueing and running ``tonics * per_tonic`` sparkles spread over many receivers.
    """
    result: dict = {}

    class Target(tt.ttTonic):
        hits = 0

        def ttsc__hit(self, i):
            self.hits += 1
            if self.hits == per_tonic:
                self.base.ttse__target_done()

    class Driver(tt.ttTonic):
        done = 0

        def ttse__on_start(self):
            self.targets = [Target() for _ in range(tonics)]
            self.tts__blast()  # queued after the targets' own start-up sparkles

        def tts__blast(self):
            self.t0 = perf_counter()
            targets = self.targets
            for i in range(per_tonic):
                for target in targets:
                    target.ttsc__hit(i)

        def ttse__target_done(self):
            self.done += 1
            if self.done == tonics:
                result["seconds"] = perf_counter() - self.t0
                self.finish()

    run_app(tt, Driver)
    return {"fanout_ops": tonics * per_tonic / result["seconds"]}


# -- 3. cross-thread ---------------------------------------------------------------------------
def crossthread(tt: ModuleType, size: int) -> dict:
    """A plain producer thread sends ``size`` IoT payloads to a tonic on a worker catalyst.

    Every call crosses threads, so each pays the argument copy and the thread-safe enqueue;
    the clock runs from the first send to the arrival of the last payload.
    """
    result: dict = {}
    payload = iot_payload()

    class Sink(tt.ttTonic):
        received = 0

        def ttsc__reading(self, reading):
            self.received += 1
            if self.received == size:
                result["seconds"] = perf_counter() - result["t0"]
                # Sink first: TaskTonic 0.2.4 stops a catalyst that is told to finish while a
                # tonic it hosts has not finished yet, and that tonic then never completes.
                self.finish()
                self.base.ttse__all_arrived()

    def produce(sink: Any) -> None:
        send = sink.ttsc__reading
        result["t0"] = perf_counter()
        for _ in repeat(None, size):
            send(payload)

    class Driver(tt.ttTonic):
        def ttse__on_start(self):
            worker = tt.ttCatalyst(name="bench_worker")
            sink = Sink(catalyst=worker)
            threading.Thread(target=produce, args=(sink,), name="bench-producer",
                             daemon=True).start()

        def ttse__all_arrived(self):
            self.finish()  # the worker catalyst finishes with its last hosted tonic

    run_app(tt, Driver)
    return {"crossthread_ops": size / result["seconds"]}


def copier(copy_one: Callable, args: tuple, size: int) -> dict:
    """Calls per second of ``copy_one(*args)``: a copier alone, outside any application."""
    t0 = perf_counter()
    for _ in repeat(None, size):
        copy_one(*args)
    return {"copier_ops": size / (perf_counter() - t0)}


# -- 4. timers ---------------------------------------------------------------------------------
def clock_overhead_ns(samples: int = 20_000) -> float:
    """Mean cost of one ``perf_counter_ns()`` pair, subtracted from per-call timings."""
    clock = perf_counter_ns
    total = 0
    for _ in repeat(None, samples):
        a = clock()
        total += clock() - a
    return total / samples


def time_stop_start(timers: list) -> tuple[float, float]:
    """Time ``stop()`` then ``start()`` on each timer, in random order, all others live.

    Random order, because a sorted-list timer queue (TaskTonic 0.2.4) finds a timer at once
    when timers are restarted in creation order. Returns the mean cost of one stop and of one
    start in microseconds, clock overhead removed.
    """
    order = list(timers)
    random.Random(TIMER_SEED).shuffle(order)
    gc.freeze()  # see arm_timers: a full collection here would be charged to one call
    clock = perf_counter_ns
    stop_ns = start_ns = 0
    for timer in order:
        a = clock()
        timer.stop()
        b = clock()
        timer.start()
        c = clock()
        stop_ns += b - a
        start_ns += c - b
    overhead = clock_overhead_ns()
    n = len(order)
    return (stop_ns / n - overhead) / 1e3, (start_ns / n - overhead) / 1e3


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def timers(tt: ModuleType, size: int) -> dict:
    """``size`` single shots on one tonic, expiring at random within 2 s.

    Phases, all inside the tonic's sparkles (timers belong to their catalyst's thread):

    1. create ``size`` single shots held at 1 h (``timers_create_us``);
    2. with all of them live, time ``stop()`` and ``start()`` on each (``timers_stop_us``,
       ``timers_start_us``);
    3. arm: give each a period that makes it fire at ``T0 + U(0, 2 s)`` and start it, ``T0``
       lying after the arming ends (see ``arm_timers``), so lateness measures the timer
       machinery, not the arming sparkle blocking the loop;
    4. every firing records ``monotonic() - intended deadline``; CPU time runs from the start
       of phase 3 to the last firing (waiting idle should cost nothing).
    """
    offsets = timer_offsets(size)
    result: dict = {}

    class Clock(tt.ttTonic):
        def ttse__on_start(self):
            t0 = perf_counter()
            self.timers = [tt.ttTimerSingleShot(HOLD_S, sparkle_back=self.ttse__on_fire)
                           for _ in range(size)]
            result["timers_create_us"] = (perf_counter() - t0) / size * 1e6
            stop_us, start_us = time_stop_start(self.timers)
            result["timers_stop_us"], result["timers_start_us"] = stop_us, start_us
            self.tts__arm()

        def tts__arm(self):
            self.lateness = []
            self.cpu0 = process_time()
            self.deadlines = arm_timers(self.timers, offsets)

        def ttse__on_fire(self, info):
            self.lateness.append(monotonic() - self.deadlines[info["id"]])
            if len(self.lateness) == size:
                result["timers_cpu_s"] = process_time() - self.cpu0
                result["lateness"] = self.lateness
                finish_infusions_oldest_first(self.timers)
                self.finish()

    run_app(tt, Clock)
    return summarise_timers(result, result.pop("lateness"), size)


def timer_offsets(size: int) -> list[float]:
    """The expiry of each timer within the window (the same for every implementation)."""
    rng = random.Random(TIMER_SEED)
    return [rng.uniform(0.0, TIMER_WINDOW_S) for _ in range(size)]


def arm_timers(timers: list, offsets: list[float]) -> dict:
    """Start each timer to fire at ``T0 + offset``; return ``{id: intended deadline}``.

    ``T0`` must lie after the arming ends, or the first timers would be late by construction.
    A pilot re-arms a sample of timers at the hold period to price one arming; ``T0`` leaves
    twice the estimate plus 50 ms. Should arming still overrun, a timer gets a 1 us period
    and is simply late (TaskTonic 0.2.4 silently never fires a timer started with a period
    <= 0).
    """
    pilot = timers[:: max(1, len(timers) // 1000)]
    t0 = perf_counter()
    for timer in pilot:
        timer.stop()
        timer.change_timer(seconds=HOLD_S)
        timer.start()
    per_timer = (perf_counter() - t0) / len(pilot)
    for timer in timers:
        timer.stop()
    deadlines = {}
    base = monotonic() + 2 * len(timers) * per_timer + 0.05
    for timer, offset in zip(timers, offsets):
        deadline = base + offset
        timer.change_timer(seconds=max(deadline - monotonic(), 1e-6))
        timer.start()
        deadlines[timer.id] = deadline
    # The set-up allocated a few hundred thousand objects; a full collection of them (200 ms
    # and more) would land in the 2 s window and measure the garbage collector, not the
    # timers. Frozen, they are what a long-running application's old generation amounts to.
    # ``summarise_timers`` unfreezes.
    gc.freeze()
    return deadlines


def summarise_timers(result: dict, lateness: list[float], size: int) -> dict:
    """Add CPU per timer and the lateness percentiles to the phase results."""
    gc.unfreeze()
    result["timers_cpu_us"] = result["timers_cpu_s"] / size * 1e6
    result["timers_p50_ms"] = percentile(lateness, 0.50) * 1e3
    result["timers_p99_ms"] = percentile(lateness, 0.99) * 1e3
    return result


def finish_infusions_oldest_first(essences: list) -> None:
    """Finish ``essences`` (infusions of one tonic) oldest first, before the tonic finishes.

    Teardown only, not measured. A tonic finishing N infusions itself finishes them newest
    first, and each completion removes its infusion with ``list.remove``, which scans from the
    front: O(N^2), about a minute for 100,000 timers in tasktonic (reported as an issue).
    Oldest first, each removal finds its infusion at index 0.
    """
    for essence in essences:
        essence.finish()


# -- 4b. finishing -------------------------------------------------------------------------------
def finishing(tt: ModuleType, size: int) -> dict:
    """Microseconds per child for a tonic to end ``size`` live children, two ways.

    Oldest first: the parent finishes its children one by one in creation order, then
    itself (the order a user's own bookkeeping produces). Newest first: the parent just
    finishes, which ends its infusions newest first. Bookkeeping that searches a list per
    completion is quadratic in one of the two orders; both must stay linear.
    """
    result: dict = {}

    class Leaf(tt.ttTonic):
        pass

    class Parent(tt.ttTonic):
        def __init__(self, oldest_first, **kwargs):
            super().__init__(**kwargs)
            self.oldest_first = oldest_first

        def ttse__on_start(self):
            self.kids = [Leaf() for _ in range(size)]
            self.tts__go()  # queued after the children's start-up sparkles

        def tts__go(self):
            result["t0"] = perf_counter()
            if self.oldest_first:
                for kid in self.kids:
                    kid.finish()
            self.kids = None
            self.finish()

    metrics = {}
    for key, oldest in (("finish_oldest_us", True), ("finish_newest_us", False)):
        run_app(tt, lambda: Parent(oldest))  # noqa: B023  (run_app calls it at once)
        metrics[key] = (perf_counter() - result["t0"]) / size * 1e6
    return metrics


# -- 4c. overflow ------------------------------------------------------------------------------
#: What the overflow workload compares: each policy of a bound catalyst, then no bound (last:
#: the memory it takes is not given back to the process, and would hide the others' growth).
OVERFLOW_POLICIES = ("block", "drop_newest", "drop_oldest", "raise", "signal", "unbounded")
#: The consumer's cost per order: ten times the dearest send (pure, ~4 µs) or more.
OVERFLOW_WORK_S = 40e-6
OVERFLOW_MAX_QUEUE = 1_000


class RssPeak:
    """The peak resident set size while it runs, sampled every 2 ms from /proc (Linux)."""

    def __init__(self) -> None:
        self.peak = self.base = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="bench-rss", daemon=True)
        self._thread.start()

    @staticmethod
    def _rss() -> int:
        try:
            with open("/proc/self/statm") as statm:
                return int(statm.read().split()[1]) * 4096
        except OSError:
            return 0

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self._rss())

    def growth_mb(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(0, self.peak - self.base) / 2**20


def overflow(tt: ModuleType, size: int) -> dict:
    """A producer ten times faster than its consumer, without a bound and under each policy.

    A plain thread (for 'signal': a tonic on its own catalyst, which pauses at
    ``ttse__on_queue_high`` and resumes at ``ttse__on_queue_low``) sends ``size`` IoT payloads
    as fast as it can to a tonic that spends ``OVERFLOW_WORK_S`` on each, on a catalyst bounded
    at ``OVERFLOW_MAX_QUEUE`` orders. Per policy: orders delivered per second (first send to
    last delivery), the growth of the process's resident memory, and the orders lost (dropped
    by the bound, or refused to the sender by 'raise'), and the most orders that waited.
    """
    metrics: dict[str, float] = {}
    for policy in OVERFLOW_POLICIES:
        gc.collect()
        rss = RssPeak()
        delivered, lost, seconds, peak = _overflow_run(tt, size, policy)
        metrics[f"overflow_{policy}_mb"] = rss.growth_mb()
        metrics[f"overflow_{policy}_peak"] = peak
        metrics[f"overflow_{policy}_ops"] = delivered / seconds
        metrics[f"overflow_{policy}_lost"] = lost
    return metrics


def _spin(seconds: float) -> None:
    end = perf_counter() + seconds
    while perf_counter() < end:
        pass


def _overflow_run(tt: ModuleType, size: int, policy: str) -> tuple[int, int, float, int]:
    result: dict = {"refused": 0}
    payload = iot_payload()
    bound = {} if policy == "unbounded" else {"max_queue": OVERFLOW_MAX_QUEUE,
                                               "overflow": policy}

    class Sink(tt.ttTonic):
        received = 0

        def ttsc__reading(self, reading):
            _spin(OVERFLOW_WORK_S)
            self.received += 1

        def ttsc__end(self):
            result["seconds"] = perf_counter() - result["t0"]
            result["received"] = self.received
            result["peak"] = self.catalyst.stats().high_water
            self.finish()
            self.base.ttse__done()

    def wait_drained(worker: Any) -> None:
        while worker.stats().queued:
            threading.Event().wait(0.001)

    def produce(sink: Any, worker: Any) -> None:
        send = sink.ttsc__reading
        result["t0"] = perf_counter()
        for _ in repeat(None, size):
            try:
                send(payload)
            except tt.ttQueueFull:
                result["refused"] += 1
        wait_drained(worker)  # a bounded queue has room for the end marker once drained
        sink.ttsc__end()

    class Producer(tt.ttTonic):
        """'signal': sends in batches, pauses while the worker says it is full."""

        def __init__(self, sink, worker, **kwargs):
            super().__init__(**kwargs)
            self.sink, self.worker, self.left, self.paused = sink, worker, size, False

        def ttse__on_start(self):
            result["t0"] = perf_counter()
            self.tts__batch()

        def tts__batch(self):
            send = self.sink.ttsc__reading
            for _ in repeat(None, min(100, self.left)):
                send(payload)
            self.left -= min(100, self.left)
            if not self.left:
                threading.Thread(target=lambda: (wait_drained(self.worker),
                                                 self.sink.ttsc__end()), daemon=True).start()
                self.finish()
            elif not self.paused:
                self.tts__batch()

        def ttse__on_queue_high(self, catalyst):
            self.paused = True

        def ttse__on_queue_low(self, catalyst):
            if self.paused and self.left:
                self.paused = False
                self.tts__batch()

    class Driver(tt.ttTonic):
        def ttse__on_start(self):
            worker = tt.ttCatalyst(name="bench_worker", **bound)
            sink = Sink(catalyst=worker)
            if policy == "signal":
                Producer(sink, worker, catalyst=tt.ttCatalyst(name="bench_producer"))
            else:
                threading.Thread(target=produce, args=(sink, worker), name="bench-producer",
                                 daemon=True).start()

        def ttse__done(self):
            self.finish()

    run_app(tt, Driver)
    delivered = result["received"]
    return delivered, size - delivered, result["seconds"], result["peak"]


# -- 4d. parallel -------------------------------------------------------------------------------
#: Catalyst counts the parallel workload compares (this machine has 2 cores).
PARALLEL_KS = (1, 2, 4)


def parallel(tt: ModuleType, size: int) -> dict:
    """K catalysts, each running a chain of ``size`` sparkles at once: aggregate sparkles per
    second for each K in ``PARALLEL_KS``, and the scaling of K = 2 over K = 1.

    Under the GIL the chains take turns; on a free-threaded interpreter they run in parallel.
    """
    metrics: dict[str, float] = {}
    for k in PARALLEL_KS:
        metrics[f"parallel_k{k}_ops"] = _parallel_chains(tt, k, size)
    metrics["parallel_scaling"] = metrics["parallel_k2_ops"] / metrics["parallel_k1_ops"]
    return metrics


def _parallel_chains(tt: ModuleType, k: int, size: int) -> float:
    result: dict = {"done": 0}

    class Chain(tt.ttTonic):
        def tts__step(self, n):
            if n:
                self.tts__step(n - 1)
            else:
                self.base.ttse__chain_done()
                self.finish()

    class Driver(tt.ttTonic):
        def ttse__on_start(self):
            workers = [tt.ttCatalyst(name=f"chain{i}", dont_start_yet=True) for i in range(k)]
            chains = [Chain(catalyst=worker) for worker in workers]
            for chain in chains:
                chain.tts__step(size)  # queued: runs once its catalyst starts
            result["t0"] = perf_counter()
            for worker in workers:
                worker.start_sparkling()

        def ttse__chain_done(self):
            result["done"] += 1
            if result["done"] == k:
                result["seconds"] = perf_counter() - result["t0"]
                self.finish()

    run_app(tt, Driver)
    return k * size / result["seconds"]


# -- 5. creation -------------------------------------------------------------------------------
def generated_class(tt: ModuleType) -> type:
    """A tonic class with 20 sparkles and 3 states, built by ``type()`` as a generator would.

    17 generic command sparkles ``ttsc__g0..16`` and 3 sparkles with a handler in each of the
    states ``s0``, ``s1``, ``s2`` (``ttsc_s0__h0`` ...).
    """
    def handler(self, *args):
        pass

    namespace: dict = {f"ttsc__g{i}": handler for i in range(17)}
    namespace.update({f"ttsc_s{s}__h{h}": handler for s in range(3) for h in range(3)})
    return type("Generated", (tt.ttTonic,), namespace)


class OverBudget(Exception):
    """Creation ran past its time budget; the caller measures a smaller size instead."""


def creation(tt: ModuleType, size: int, budget_s: float | None = None) -> dict:
    """Microseconds per tonic for creating ``size`` tonics in one sparkle.

    Raises ``OverBudget`` when the creation phase passes ``budget_s`` (checked every 100
    tonics), so a framework that degrades with ledger size cannot eat the whole run.
    """
    Generated = generated_class(tt)
    result: dict = {}

    class Maker(tt.ttTonic):
        def ttse__on_start(self):
            made = [Generated()]  # first instance outside the clock: per-class caches
            keep = made.append
            t0 = perf_counter()
            give_up = None if budget_s is None else t0 + budget_s
            for i in range(size):
                keep(Generated())
                if give_up is not None and i % 100 == 99 and perf_counter() > give_up:
                    result["over_budget"] = True
                    break
            result["seconds"] = perf_counter() - t0
            finish_infusions_oldest_first(made)
            self.finish()

    run_app(tt, Maker)
    if result.get("over_budget"):
        raise OverBudget(f"creating {size:,} tonics passed {budget_s:g} s")
    return {"creation_us": result["seconds"] / size * 1e6}


def creation_memory(tt: ModuleType, size: int) -> dict:
    """Bytes per live tonic, by ``tracemalloc`` (a separate run: tracing slows creation).

    Measured once the start-up sparkles queued by the creations have run, so only what a live
    tonic keeps is counted (its share of the ledger and of its base's infusions included).
    """
    Generated = generated_class(tt)
    result: dict = {}

    class Maker(tt.ttTonic):
        def ttse__on_start(self):
            Generated()
            tracemalloc.start()
            self.before = tracemalloc.get_traced_memory()[0]
            for _ in range(size):
                Generated()
            self.tts__measure()  # queued after every start-up sparkle of the new tonics

        def tts__measure(self):
            result["bytes"] = tracemalloc.get_traced_memory()[0] - self.before
            tracemalloc.stop()
            self.finish()

    run_app(tt, Maker)
    return {"creation_bytes": result["bytes"] / size}


def deepcopy_args(payload: Any) -> tuple[Callable, tuple]:
    """The copier column of TaskTonic 0.2.4: ``copy.deepcopy`` of the argument."""
    return copy.deepcopy, (payload,)


# -- 6. I/O latency on a busy selector catalyst (tasktonic only) ----------------------------
#: The peer writes one timestamp per interval: the events do not queue up behind each other.
IO_INTERVAL_S = 0.001
#: The peer is another process: a peer thread would measure the GIL's switch interval (5 ms)
#: it waits for before its send, not the catalyst.
IO_PEER = """
import socket, struct, sys, time
sock = socket.socket(fileno=int(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    sock.send(struct.pack("q", time.monotonic_ns()))
    time.sleep(float(sys.argv[3]))
"""


def io_latency(tt: ModuleType, size: int) -> dict:
    """Latency of ``size`` socket events on a selector catalyst that runs a sparkle chain.

    A peer process writes an 8-byte ``monotonic_ns`` stamp into a socket pair every
    ``IO_INTERVAL_S``; the tonic owning the other end runs a chain of sparkles all along (each
    queues the next) and notes ``now - stamp`` in its readiness sparkle. Only the catalyst's
    polling (``poll_every``, default 64) lets the readiness in while the chain runs.
    """
    import importlib
    import socket
    import struct
    import subprocess
    import sys
    from time import monotonic_ns

    selector = importlib.import_module(f"{tt.__name__}.selector")
    ours, theirs = socket.socketpair()
    latencies: list[float] = []
    result: dict = {}

    class BusyReader(tt.ttTonic):
        steps = 0

        def ttse__on_start(self):
            ours.setblocking(False)
            self.catalyst.register(ours, selector.EVENT_READ, self.ttse__on_readable)
            self.t0 = perf_counter()
            result["peer"] = subprocess.Popen(
                [sys.executable, "-c", IO_PEER, str(theirs.fileno()), str(size),
                 str(IO_INTERVAL_S)], pass_fds=(theirs.fileno(),))
            self.tts__step()

        def tts__step(self):
            self.steps += 1
            if len(latencies) < size:
                self.tts__step()

        def ttse__on_readable(self, sock, events):
            now = monotonic_ns()
            data = sock.recv(65536)
            latencies.extend((now - stamp) / 1e9
                             for (stamp,) in struct.iter_unpack("q", data))
            if len(latencies) >= size:
                result["seconds"] = perf_counter() - self.t0
                result["steps"] = self.steps
                self.catalyst.unregister(sock)
                self.finish()

    def starting():
        BusyReader(catalyst=selector.ttSelectorCatalyst(name="io"))

    try:
        run_app(tt, starting)
        result["peer"].wait(30)
    finally:
        ours.close()
        theirs.close()
    return {"io_p50_us": percentile(latencies, 0.50) * 1e6,
            "io_p99_us": percentile(latencies, 0.99) * 1e6,
            "io_chain_ops": result["steps"] / result["seconds"]}


# -- 7. the IoT pipeline -----------------------------------------------------------------------
def iot(tt: ModuleType, devices: int) -> dict:
    """The demo's pipeline (``tasktonic.iot``) flat out on one worker catalyst, no output."""
    from tasktonic.iot import FleetConfig, run_fleet

    from .plan import IOT_READINGS
    summary = run_fleet(FleetConfig(devices=devices, rate=0, readings=IOT_READINGS,
                                    catalysts=1))
    if summary["lost"]:
        raise RuntimeError(f"the iot pipeline lost {summary['lost']} events")
    return iot_metrics(summary, devices)


def iot_metrics(summary: dict, devices: int) -> dict:
    """Events/s and p99 of a pipeline run, the model's own time per event (``iot_model_us``,
    measured here, right after) and what is left of the run's time per event: the framework.

    The model alone bounds every ratio: no framework can make the pipeline faster than
    ``1 / iot_model_us`` events per second."""
    per_event_us = 1e6 / summary["events_per_s"]
    model_us = iot_model_us(devices)
    return {"iot_events": summary["events_per_s"], "iot_p99_ms": summary["latency_p99_ms"],
            "iot_model_us": model_us, "iot_framework_us": max(0.0, per_event_us - model_us)}


def iot_model_us(devices: int) -> float:
    """Microseconds per event of the pipeline's own work without any framework: the same
    model classes (``tasktonic.iot.model``) and twin writes, called in a plain loop."""
    from tasktonic.datatree import DataTree
    from tasktonic.iot.model import (
        DEVICE,
        DEVICES_PER_SITE,
        LEVEL,
        LEVELS,
        Sensor,
        SiteStats,
        Thresholds,
    )

    from .plan import IOT_READINGS
    twin, thresholds = DataTree(), Thresholds()
    sensors = [Sensor(d) for d in range(devices)]
    sites = [SiteStats(s) for s in range((devices + DEVICES_PER_SITE - 1) // DEVICES_PER_SITE)]
    events = 0
    t0 = perf_counter()
    for _ in range(IOT_READINGS):
        for device, sensor in enumerate(sensors):
            site = device // DEVICES_PER_SITE
            read = sensor.read(device, site, thresholds, time())
            stats = sites[site]
            for event in read:
                if stats.add(event, time()) and stats.level_changed(event):
                    twin.set(f"twin/devices/{event[DEVICE]}/state", LEVELS[event[LEVEL]])
            events += len(read)
    return (perf_counter() - t0) / events * 1e6
