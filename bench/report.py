"""The table, the targets and ``bench/RESULTS.md``.

Every figure is the median of the repetitions with the spread (min–max) beside it. Ratios
are speedups computed on medians: "how many times better" whatever the direction of the
metric (rate / rate for ops/s, cost / cost inverted for µs), so 4.0× always means four times
faster or cheaper.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from .plan import IMPLEMENTATIONS, METRICS, TARGETS, WORKLOAD_OF, Metric, Target, Workload

#: The ratio columns: (numerator, denominator, header).
RATIOS = (("compiled", "upstream", "C/up"), ("pure", "upstream", "P/up"),
          ("compiled", "uvloop", "C/uv"), ("pure", "uvloop", "P/uv"),
          ("compiled", "pure", "C/P"))
HEADERS = {"compiled": "compiled", "pure": "pure", "upstream": "TaskTonic 0.2.4",
           "asyncio": "asyncio", "uvloop": "uvloop"}


@dataclass
class Stats:
    median: float
    low: float
    high: float


@dataclass
class Cell:
    """What one implementation gave on one workload, over the repetitions."""

    impl: str
    samples: list[dict] = field(default_factory=list)
    size: int | None = None
    #: Why the size differs (budget fallback), from the worker.
    note: str | None = None
    #: Why it was not run at all: "n/a (not built)", "n/a: pip failed ...".
    problem: str | None = None
    #: Repetitions that gave no result: "timeout: ...", "error: ...".
    failures: list[str] = field(default_factory=list)

    def stats(self, key: str) -> Stats | None:
        values = [sample[key] for sample in self.samples if key in sample]
        if not values:
            return None
        return Stats(statistics.median(values), min(values), max(values))


Results = dict[str, dict[str, Cell]]


class Footnotes:
    """Numbered notes under a table; the same text gets the same number."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def mark(self, text: str) -> str:
        if text not in self.texts:
            self.texts.append(text)
        return f"[{self.texts.index(text) + 1}]"

    def render(self) -> list[str]:
        return [f"{i}. {text}" for i, text in enumerate(self.texts, 1)]


# -- numbers -----------------------------------------------------------------------------------
def fmt(value: float, unit: str) -> str:
    """Three significant digits; rates with k / M."""
    if unit.endswith("/s"):
        for scale, suffix in ((1e6, "M"), (1e3, "k")):
            if abs(value) >= scale:
                return f"{value / scale:.3g}{suffix}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def fmt_ratio(ratio: float) -> str:
    if ratio >= 10:
        return f"{ratio:.0f}×"
    if ratio >= 1:
        return f"{ratio:.1f}×"
    return f"{ratio:.2f}×"


def speedup(metric: Metric, a: Stats, b: Stats) -> float:
    """How many times better ``a`` is than ``b`` on ``metric`` (medians)."""
    return a.median / b.median if metric.higher_is_better else b.median / a.median


# -- the main table ----------------------------------------------------------------------------
def cell_text(workload: Workload, metric: Metric, cell: Cell | None, reference_size: int,
              notes: Footnotes) -> str:
    if cell is None:
        return "—"
    where = f"{HEADERS[cell.impl]} {workload.name}"
    if cell.problem:
        short, _, detail = cell.problem.partition(": ")
        return f"{short} " + notes.mark(f"{where}: {detail}") if detail else short
    if not cell.samples:
        return "failed " + notes.mark(f"{where}: " + ("; ".join(cell.failures) or "not run"))
    stats = cell.stats(metric.key)
    if stats is None:
        return "—"
    text = f"{fmt(stats.median, metric.unit)} ({fmt(stats.low, metric.unit)}–" \
           f"{fmt(stats.high, metric.unit)})"
    if cell.failures:
        text += " " + notes.mark(f"{where}: median of the {len(cell.samples)} repetitions "
                                 f"that gave a result; {len(cell.failures)} did not: "
                                 + "; ".join(cell.failures))
    if cell.size is not None and cell.size != reference_size:
        why = cell.note or workload.override_reason or "smaller run"
        text += " " + notes.mark(f"{HEADERS[cell.impl]} {workload.name}: measured on "
                                 f"{cell.size:,} instead of {reference_size:,}: {why}")
    return text


def ratio_text(metric: Metric, row: dict[str, Cell], a: str, b: str) -> str:
    if not metric.ratios or a not in row or b not in row:
        return "—"
    sa, sb = row[a].stats(metric.key), row[b].stats(metric.key)
    if sa is None or sb is None:
        return "—"
    return fmt_ratio(speedup(metric, sa, sb))


def results_table(workloads: list[Workload], results: Results, quick: bool,
                  notes: Footnotes) -> list[str]:
    """The markdown table: one row per metric, implementations then ratios."""
    header = ["metric", "unit"] + [HEADERS[i] for i in IMPLEMENTATIONS] + [h for *_, h in RATIOS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for workload in workloads:
        row = results.get(workload.name, {})
        reference = workload.size_for("pure", quick)
        for metric in workload.metrics:
            cells = [cell_text(workload, metric, row.get(impl), reference, notes)
                     for impl in IMPLEMENTATIONS]
            ratios = [ratio_text(metric, row, a, b) for a, b, _ in RATIOS]
            lines.append("| " + " | ".join([metric.label, metric.unit] + cells + ratios) + " |")
    return lines


# -- targets -----------------------------------------------------------------------------------
def _stats(results: Results, metric: Metric, impl: str) -> tuple[Stats | None, str]:
    """The figure of ``impl`` on ``metric``, or None and why not."""
    cell = results.get(WORKLOAD_OF[metric.key], {}).get(impl)
    if cell is None:
        return None, "not run"
    if cell.problem:
        return None, cell.problem
    stats = cell.stats(metric.key)
    return stats, "" if stats else ("; ".join(cell.failures) or "no figure")


def _measure(target: Target, impl: str, results: Results) -> tuple[float | None, str, str]:
    """``(value, measured text, why missing)`` of ``target`` for ``impl``."""
    metric = METRICS[target.metric]
    mine, why = _stats(results, metric, impl)
    if mine is None:
        return None, "—", f"{impl} {why}"
    if target.versus is None:
        return mine.median, f"{fmt(mine.median, metric.unit)} {metric.unit}", ""
    theirs, why = _stats(results, metric, target.versus)
    if theirs is None:
        return None, "—", f"{target.versus} {why}"
    ratio = speedup(metric, mine, theirs)
    return ratio, (f"{fmt_ratio(ratio)} ({fmt(mine.median, metric.unit)} vs "
                   f"{fmt(theirs.median, metric.unit)} {metric.unit})"), ""


def shortfall(factor: float) -> str:
    """How far from the target, given ``factor`` > 1: "4% short" or "2.9× short"."""
    return f"{(factor - 1) * 100:.0f}%" if factor < 1.5 else f"{factor:.2g}×"


def verdict(target: Target, value: float) -> str:
    if target.at_least is not None:
        if value >= target.at_least:
            return "met"
        return (f"missed: {fmt_ratio(value)} of {fmt_ratio(target.at_least)} "
                f"({shortfall(target.at_least / value)} short)")
    if value <= target.at_most:
        return "met"
    return (f"missed: {value:.3g} > {target.at_most:g} "
            f"({shortfall(value / target.at_most)} over)")


def targets_table(results: Results, metrics: set[str]) -> list[str]:
    """Each target of the issue beside its figure: met, missed (by how much) or not measured."""
    lines = ["| target | measured | verdict |", "|---|---|---|"]
    for target in TARGETS:
        if target.metric not in metrics:
            continue
        value, measured, why = _measure(target, target.impl, results)
        if value is not None:
            result = verdict(target, value)
        else:
            result = f"not measured: {why}"
            if target.impl == "compiled":
                pure_value, pure_text, _ = _measure(target, "pure", results)
                if pure_value is not None:
                    result += f"; the pure twins: {pure_text}, {verdict(target, pure_value)}"
        lines.append(f"| {target.label} | {measured} | {result} |")
    return lines


def render(workloads: list[Workload], results: Results, quick: bool) -> str:
    """The results table, its notes and the targets, as markdown."""
    notes = Footnotes()
    lines = results_table(workloads, results, quick, notes)
    if notes.texts:
        lines += [""] + notes.render()
    lines += ["", "Targets (issue 4):", ""]
    lines += targets_table(results, {m.key for w in workloads for m in w.metrics})
    return "\n".join(lines)
