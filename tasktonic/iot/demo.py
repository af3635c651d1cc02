"""``python -m tasktonic demo``: the fleet pipeline with progress and a summary.

Why a subprocess for ``--pure`` and ``--compare``: tasktonic picks its compiled or pure twins
once, at import, and ``python -m tasktonic`` has imported it before reading the options; the
pure run is the same command again with ``TASKTONIC_NO_EXTENSIONS=1``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any, TextIO

from .. import _switch
from .model import DEVICES_PER_SITE
from .pipeline import FleetConfig, Progress, ProgressCallback, run_fleet

__all__ = ["add_arguments", "run"]

EXAMPLES = """\
examples:
  python -m tasktonic demo                              10,000 devices for 5 s, here
  python -m tasktonic demo --compare                    and the same on the pure twins
  python -m tasktonic demo --rate 0 --readings 20       flat out: as fast as it goes
  python -m tasktonic demo --json                       one JSON object, no progress
  # one broker, three processes (start the aggregators first or last: devices wait for them)
  python -m tasktonic demo --mqtt 127.0.0.1 --role aggregators --partitions 2 --partition 0
  python -m tasktonic demo --mqtt 127.0.0.1 --role aggregators --partitions 2 --partition 1
  python -m tasktonic demo --mqtt 127.0.0.1 --role devices --partitions 2
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _positive(text: str) -> float:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _partition_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected i[,j...] (whole numbers), got {text!r}"
                                         ) from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected partition numbers >= 0, got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's options (the ``demo`` subcommand of ``python -m tasktonic``)."""
    parser.description = ("A simulated fleet: devices emit readings on jittered timers, each a "
                          "state machine (ok / warning / alarm with hysteresis); one aggregator "
                          "tonic per site of 100 devices keeps rolling statistics; a ttStore "
                          "holds the live twin. Prints progress, then a summary.")
    parser.epilog = EXAMPLES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add = parser.add_argument
    add("--devices", type=_positive_int, default=10_000,
        help=f"simulated devices (default 10000); a site has {DEVICES_PER_SITE}")
    add("--duration", type=_positive, default=5.0,
        help="seconds of readings (default 5)")
    add("--catalysts", type=_positive_int, default=2,
        help="worker catalysts (threads) the devices and aggregators are spread over "
             "(default 2)")
    add("--rate", type=_non_negative, default=1.0,
        help="readings per device per second (default 1); 0: flat out, --readings each")
    add("--readings", type=_positive_int, default=10,
        help="readings per device when --rate is 0 (default 10)")
    add("--pure", action="store_true",
        help="run on the pure-Python twins (a subprocess with TASKTONIC_NO_EXTENSIONS=1)")
    add("--compare", action="store_true",
        help="then the same run on the pure twins in a subprocess, and the ratio")
    add("--json", action="store_true",
        help="print the summary as one JSON object (keys events, events_per_s, "
             "latency_p50_ms, latency_p99_ms, lost, implementation, ...) and no progress")
    add("--mqtt", metavar="HOST[:PORT]",
        help="spread the pipeline over processes through this MQTT broker (needs --role)")
    add("--role", choices=("devices", "aggregators"),
        help="with --mqtt: publish the devices' events, or aggregate some partitions")
    add("--partitions", type=_positive_int, default=1,
        help="with --mqtt: how many partition topics the events are spread over "
             "(by a stable hash of the device id; default 1)")
    add("--partition", type=_partition_list, metavar="i[,j...]",
        help="with --role aggregators: the partitions this process aggregates "
             "(default: all)")


def _config(args: argparse.Namespace) -> FleetConfig:
    return FleetConfig(devices=args.devices, duration=args.duration, catalysts=args.catalysts,
                       rate=args.rate, readings=args.readings)


def check(args: argparse.Namespace) -> str | None:
    """What is wrong with the combination of options, in one line (None: nothing)."""
    if args.mqtt is None:
        if args.role or args.partition is not None:
            return "--role and --partition need --mqtt HOST[:PORT]"
        return None
    from .scaleout import parse_address
    try:
        parse_address(args.mqtt)
    except ValueError as exc:
        return str(exc)
    if args.role is None:
        return "--mqtt needs --role devices or --role aggregators"
    if args.compare:
        return "--compare runs in one process; it does not combine with --mqtt"
    if args.partition is not None:
        if args.role != "aggregators":
            return "--partition is for --role aggregators"
        if max(args.partition) >= args.partitions:
            return (f"--partition {max(args.partition)} does not exist with --partitions "
                    f"{args.partitions} (0..{args.partitions - 1})")
    return None


def run(args: argparse.Namespace, argv: list[str]) -> int:
    """Run the demo as the options say; 0 when nothing was lost."""
    if args.pure and _switch.implementation != "pure":
        return _rerun_pure(argv, capture=False).returncode
    config = _config(args)
    show = None if args.json else _progress_printer(sys.stdout)
    summary = _run_here(args, config, show)
    if show is not None:
        _end_progress(sys.stdout)
    if args.compare:
        summary["compare"] = _compare(summary, argv)
    if args.json:
        print(json.dumps(summary))
    else:
        print(_format(summary, config))
    return 0 if not summary.get("lost") and not summary.get("incomplete_sites") else 1


def _run_here(args: argparse.Namespace, config: FleetConfig,
              show: ProgressCallback | None) -> dict[str, Any]:
    if args.mqtt is None:
        return run_fleet(config, show)
    from .scaleout import parse_address, run_aggregators, run_devices
    host, port = parse_address(args.mqtt)
    if args.role == "devices":
        return run_devices(config, host, port, args.partitions, show)
    partitions = args.partition if args.partition is not None else range(args.partitions)
    return run_aggregators(config, host, port, list(partitions), show)


def _rerun_pure(argv: list[str], capture: bool) -> subprocess.CompletedProcess:
    """The same demo command on the pure twins, in a subprocess."""
    env = dict(os.environ, TASKTONIC_NO_EXTENSIONS="1")
    env.pop("TASKTONIC_REQUIRE_EXTENSIONS", None)
    command = [sys.executable, "-m", "tasktonic", "demo",
               *[a for a in argv if a not in ("--pure", "--compare")]]
    if capture and "--json" not in command:
        command.append("--json")
    return subprocess.run(command, env=env, text=True, capture_output=capture)


def _compare(summary: dict[str, Any], argv: list[str]) -> dict[str, Any]:
    done = _rerun_pure(argv, capture=True)
    if done.returncode not in (0, 1) or not done.stdout.strip():
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    pure = json.loads(done.stdout.strip().splitlines()[-1])
    rate = pure.get("events_per_s") or 0.0
    return {"pure": pure,
            "events_per_s_ratio": round(summary["events_per_s"] / rate, 2) if rate else None}


def _progress_printer(out: TextIO) -> ProgressCallback:
    """One updating line on a terminal, plain lines otherwise."""
    tty = out.isatty()

    def show(progress: Progress) -> None:
        line = (f"{progress.elapsed:6.1f} s  events {progress.events:>10,}  "
                f"{progress.events_per_s:>10,.0f}/s  alarms {progress.alarms:>5,}  "
                f"queues {list(progress.queue_depths)}")
        out.write(f"\r{line}\x1b[K" if tty else line + "\n")
        out.flush()

    return show


def _end_progress(out: TextIO) -> None:
    if out.isatty():
        out.write("\n")


def _format(summary: dict[str, Any], config: FleetConfig) -> str:
    """The summary for people."""
    def ms(key: str) -> str:
        value = summary.get(key)
        return "n/a" if value is None else f"{value:.3f} ms"

    role = summary.get("role")
    head = (f"tasktonic demo ({summary['implementation']}"
            f"{', ' + role if role else ''}): {config.devices:,} devices, "
            f"{config.catalysts} catalysts, " +
            (f"{config.rate:g} readings/device/s for {config.duration:g} s" if config.rate
             else f"flat out, {config.readings} readings/device"))
    lines = [head,
             f"  events      {summary['events']:,}",
             f"  events/s    {summary['events_per_s']:,.0f}",
             f"  latency     p50 {ms('latency_p50_ms')}, p99 {ms('latency_p99_ms')} "
             "(emission to aggregation)"]
    if summary.get("alarms") is not None:
        lines.append(f"  alarms      {summary['alarms']:,} raised, "
                     f"{summary.get('devices_in_alarm', 0):,} devices in alarm at the end")
    lines.append(f"  lost        {summary['lost'] if summary['lost'] is not None else 'n/a'}"
                 + (f" ({summary['incomplete_sites']} sites incomplete)"
                    if summary.get("incomplete_sites") else ""))
    compare = summary.get("compare")
    if compare:
        if "error" in compare:
            lines.append(f"  compare     pure run failed: {compare['error']}")
        else:
            lines.append(f"  compare     pure {compare['pure']['events_per_s']:,.0f} events/s;"
                         f" {summary['implementation']}/pure = {compare['events_per_s_ratio']}x")
    return "\n".join(lines)
