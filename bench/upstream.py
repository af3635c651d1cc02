"""The baseline: the published pure-Python TaskTonic 0.2.4, measured and never copied.

pip normalises ``TaskTonic`` and ``tasktonic`` to one project name, so the baseline cannot be
installed beside this tree's package: it goes into its own ``--target`` directory,
``bench/.upstream``, which only the upstream worker process puts on ``sys.path``.
"""
from __future__ import annotations

import contextvars
import subprocess
import sys
from importlib import metadata
from pathlib import Path

REQUIREMENT = "TaskTonic==0.2.4"
VERSION = "0.2.4"
DIRECTORY = Path(__file__).resolve().parent / ".upstream"
PIP_TIMEOUT_S = 300


def installed_version(directory: Path = DIRECTORY) -> str | None:
    """The TaskTonic version installed in ``directory``, or None."""
    if not (directory / "TaskTonic" / "__init__.py").is_file():
        return None
    for dist in metadata.distributions(path=[str(directory)]):
        if (dist.metadata["Name"] or "").lower() == "tasktonic":
            return dist.version
    return None


def ensure_installed(directory: Path = DIRECTORY) -> tuple[str | None, str]:
    """Install the baseline when missing; return ``(version or None, note)``.

    Never raises: without the baseline its column reads "n/a" and the note says why.
    """
    version = installed_version(directory)
    if version == VERSION:
        return version, f"{directory}"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--upgrade", "--target", str(directory), REQUIREMENT]
    print(f"bench: installing {REQUIREMENT} into {directory} ...", file=sys.stderr)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"could not run pip ({exc})"
    version = installed_version(directory)
    if done.returncode != 0 or version != VERSION:
        reason = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        return None, f"`pip install --target {directory} {REQUIREMENT}` failed: {reason}"
    return version, f"{directory} (installed now)"


def import_upstream(directory: Path = DIRECTORY):
    """Import TaskTonic 0.2.4 from ``directory`` (the upstream worker process only)."""
    sys.path.insert(0, str(directory))
    import TaskTonic
    return TaskTonic


def run_isolated(tt, function, *args):
    """Run one upstream application as if it were the first of the process.

    TaskTonic 0.2.4 keeps process-global state: the ``ttLedger`` singleton and the sparkle
    stack in a context variable of the running thread. A second application inherits both
    (the ids and cleanup queue of the first) and can end before its tonics have; the worker
    runs a warm-up first, so each run gets a new ledger and an empty context. The measured
    code itself is untouched.
    """
    tt.ttLedger._instance = None
    return contextvars.Context().run(function, *args)
