"""``python -m tasktonic``: help, one-line errors with exit status 2, ``demo --json``, ``info``.

The demo and info run in subprocesses (what a user runs; they inherit the twin this suite runs
on through the environment); option errors are checked in-process through ``main``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tasktonic
from tasktonic.__main__ import main

ROOT = Path(__file__).resolve().parent.parent


def tasktonic_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tasktonic", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command, expected", [
    ([], ["demo", "bench", "info"]),
    (["demo"], ["--devices", "--duration", "--catalysts", "--rate", "--pure", "--compare",
                "--mqtt", "--role", "--partitions", "--partition", "--json"]),
    (["bench"], ["--builtin", "bench/"]),
    (["info"], ["implementation"]),
])
def test_help_of_each_subcommand(command, expected, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for word in expected:
        assert word in out


@pytest.mark.parametrize("args, says", [
    (["demo", "--devices", "0"], "--devices"),
    (["demo", "--devices", "many"], "--devices"),
    (["demo", "--rate", "-1"], "--rate"),
    (["demo", "--duration", "nan"], "--duration"),
    (["demo", "--catalysts", "0"], "--catalysts"),
    (["demo", "--role", "devices"], "--mqtt"),
    (["demo", "--mqtt", "localhost:99999", "--role", "devices"], "port"),
    (["demo", "--mqtt", "localhost", "--role", "kitchen"], "--role"),
    (["demo", "--mqtt", "localhost"], "--role"),
    (["demo", "--mqtt", "localhost", "--role", "aggregators", "--partitions", "2",
      "--partition", "2"], "--partition 2"),
    (["demo", "--mqtt", "localhost", "--role", "aggregators", "--partition", "a,b"],
     "--partition"),
    (["demo", "--bogus"], "--bogus"),
    (["info", "--bogus"], "--bogus"),
    (["frobnicate"], "frobnicate"),
    ([], "required"),
])
def test_a_bad_option_is_one_line_and_exit_status_2(args, says, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert says in lines[0] and "Traceback" not in captured.err
    assert captured.out == ""


def test_a_bad_option_from_the_command_line_has_no_traceback():
    done = tasktonic_cli("demo", "--rate", "fast")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "tasktonic demo: error: argument --rate: not a number: 'fast'"]


def test_demo_json_counts_every_event():
    done = tasktonic_cli("demo", "--devices", "300", "--duration", "0.5", "--rate", "4",
                         "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    for key in ("events", "events_per_s", "latency_p50_ms", "latency_p99_ms", "lost",
                "implementation"):
        assert key in summary
    assert summary["lost"] == 0
    assert summary["events"] == 300 * 2 + summary["alarms"]
    assert summary["implementation"] == tasktonic.implementation
    assert summary["events_per_s"] > 0


def test_demo_prints_progress_lines_and_a_summary_when_not_a_terminal():
    done = tasktonic_cli("demo", "--devices", "200", "--duration", "1.5", "--rate", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any("events" in line and "/s" in line and "queues [" in line for line in lines)
    assert "\r" not in done.stdout
    assert any(line.strip().startswith("lost        0") for line in lines)


def test_demo_pure_runs_the_pure_twins():
    done = tasktonic_cli("demo", "--devices", "100", "--rate", "0", "--readings", "5",
                         "--pure", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["implementation"] == "pure"


def test_info_says_which_implementation_and_why():
    done = tasktonic_cli("info")
    assert done.returncode == 0, done.stderr
    assert f"implementation  {tasktonic.implementation}: " in done.stdout
    for word in ("tasktonic", "python", "platform", "threading", "mqtt bridge"):
        assert word in done.stdout
    env = dict(os.environ, TASKTONIC_NO_EXTENSIONS="1")
    env.pop("TASKTONIC_REQUIRE_EXTENSIONS", None)
    pure = tasktonic_cli("info", env=env)
    assert "implementation  pure: TASKTONIC_NO_EXTENSIONS='1' is set" in pure.stdout


def test_builtin_bench_measures_both_implementations():
    done = tasktonic_cli("bench", "--builtin")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[2:]}
    assert set(rows) == {"chain", "fan-out", "cross-thread"}
    for cells in rows.values():
        compiled, pure = (float(c.replace(",", "")) for c in cells[1:3])
        assert compiled > 0 and pure > 0 and cells[3].endswith("x")


def test_builtin_bench_takes_no_options():
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--builtin", "--only", "iot"])
    assert exit_.value.code == 2
