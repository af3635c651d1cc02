"""The machine, the interpreter, and which implementations this run can measure."""
from __future__ import annotations

import importlib.util
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_SELECTION_VARIABLES = ("TASKTONIC_NO_EXTENSIONS", "TASKTONIC_REQUIRE_EXTENSIONS")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def describe() -> dict[str, str]:
    """What a reader of RESULTS.md needs to compare figures across machines."""
    return {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "nproc": str(os.cpu_count()),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "executable": sys.executable,
    }


def source_revision() -> str:
    """The commit measured, and whether the package or the Cython sources differ from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                "tasktonic", "_core"],
                               cwd=ROOT, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (no git)"
    if not commit:
        return "unknown (not a git checkout)"
    return commit + (" with uncommitted changes in tasktonic/ or _core/" if dirty.strip()
                     else "")


def worker_env(impl: str) -> dict[str, str]:
    """The environment of a worker: the implementation switch set for tasktonic only.

    ``compiled`` gets ``TASKTONIC_REQUIRE_EXTENSIONS=1`` so a silently pure run fails instead
    of passing as compiled; ``pure`` gets ``TASKTONIC_NO_EXTENSIONS=1``; the others neither.
    """
    env = {k: v for k, v in os.environ.items() if k not in _SELECTION_VARIABLES}
    if impl == "compiled":
        env["TASKTONIC_REQUIRE_EXTENSIONS"] = "1"
    elif impl == "pure":
        env["TASKTONIC_NO_EXTENSIONS"] = "1"
    return env


def probe_compiled() -> tuple[bool, str]:
    """Does ``import tasktonic`` pick the compiled core with the default environment?

    A subprocess, because the choice is made once at import and the parent must not make it.
    """
    code = "import tasktonic; print(tasktonic.implementation, tasktonic.__version__)"
    try:
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=worker_env("probe"),
                              capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"probe failed: {exc}"
    words = done.stdout.split()
    if done.returncode != 0 or not words:
        return False, "probe failed: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    warning = done.stderr.strip().splitlines()
    detail = f"tasktonic {words[1]} imports the {words[0]} implementation"
    if warning:
        detail += f" ({warning[-1].strip()})"
    return words[0] == "compiled", detail


def compiled_fingerprint() -> tuple:
    """Name, size and mtime of each built compiled module: a rebuild during a run shows."""
    folder = ROOT / "tasktonic" / "_core"
    built = sorted(p for p in folder.glob("*") if p.suffix in (".so", ".pyd"))
    return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in built)


def uvloop_version() -> str | None:
    """uvloop's version if this interpreter can import it (the workers use the same one)."""
    if importlib.util.find_spec("uvloop") is None:
        return None
    try:
        return metadata.version("uvloop")
    except metadata.PackageNotFoundError:
        return "unknown version"
