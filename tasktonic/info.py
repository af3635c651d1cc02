"""``python -m tasktonic info``: what is installed and running, for bug reports.

Why it says *why* the implementation is pure: "pure" alone does not tell a user whether they
asked for it (``TASKTONIC_NO_EXTENSIONS``), installed a wheel without the compiled core for
their interpreter, or have a compiled module that fails to import (and with which error).
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import sys
import sysconfig
from pathlib import Path

from . import __version__, _switch

__all__ = ["implementation_reason", "threading_model", "integrations", "report"]

#: Optional integrations: (what, module that must import, distribution for its version).
INTEGRATIONS = (
    ("mqtt bridge (tasktonic.mqtt)", "tasktonic.mqtt", "paho-mqtt"),
    ("msgpack payloads", "msgpack", "msgpack"),
    ("serial ports (tasktonic.serial_port)", "tasktonic.serial_port", "pyserial"),
    ("uvloop (bench baseline)", "uvloop", "uvloop"),
)
_CORE = Path(__file__).resolve().parent / "_core"


def implementation_reason() -> str:
    """Why ``tasktonic.implementation`` is what it is."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    built = sorted(p.name for p in _CORE.glob(f"*{suffix}"))
    if _switch.implementation == "compiled":
        return f"compiled modules in {_CORE}: {', '.join(built)}"
    flag = os.environ.get("TASKTONIC_NO_EXTENSIONS")
    if flag:
        return f"TASKTONIC_NO_EXTENSIONS={flag!r} is set"
    if platform.python_implementation() != "CPython":
        return f"the compiled core needs CPython, this is {platform.python_implementation()}"
    failure = _switch.build_failure()
    if failure is not None:
        return f"the compiled core failed to build when tasktonic was installed: {failure}"
    if not built:
        others = sorted(p.name for p in _CORE.iterdir() if p.suffix in (".so", ".pyd"))
        return (f"no compiled module for this interpreter (*{suffix}) in {_CORE}"
                + (f"; there are: {', '.join(others)}" if others else ""))
    try:
        for name in _switch.MODULES:
            importlib.import_module(f"tasktonic._core.{name}")
    except ImportError as exc:
        return f"the compiled core does not import: {exc}"
    return "the compiled core imports now, but did not when tasktonic was imported"


def threading_model() -> str:
    """A GIL build, or a free-threaded build with the GIL on or off."""
    if not sysconfig.get_config_var("Py_GIL_DISABLED"):
        return "GIL (not a free-threaded build)"
    enabled = getattr(sys, "_is_gil_enabled", lambda: True)()
    return f"free-threaded build, GIL {'enabled' if enabled else 'disabled'} at run time"


def integrations() -> list[tuple[str, str]]:
    """(integration, "available (dist version)" or "not available: error") for each."""
    found = []
    for what, module, dist in INTEGRATIONS:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            found.append((what, f"not available: {exc}"))
            continue
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = "?"
        found.append((what, f"available ({dist} {version})"))
    return found


def report() -> str:
    lines = [
        f"tasktonic       {__version__} ({Path(__file__).resolve().parent})",
        f"implementation  {_switch.implementation}: {implementation_reason()}",
        f"python          {platform.python_implementation()} {platform.python_version()} "
        f"({sys.executable})",
        f"platform        {platform.platform()} ({platform.machine()})",
        f"threading       {threading_model()}",
        "integrations",
    ]
    lines += [f"  {what:<38} {state}" for what, state in integrations()]
    return "\n".join(lines)
