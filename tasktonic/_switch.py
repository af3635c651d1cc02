"""Decides once, at import, which twins of the hot paths run: compiled or pure.

Compiled unless ``TASKTONIC_NO_EXTENSIONS`` is set to a non-empty value, the interpreter is
not CPython, or a compiled module fails to import. ``TASKTONIC_REQUIRE_EXTENSIONS`` turns a
missing compiled core into an ImportError, so a silently pure run cannot pass as compiled.
Every other module imports the hot paths from here.

A pure run where a compiled one was expected warns once (a ``RuntimeWarning`` saying how to
fix it): compiled modules that fail to import, an install from a binary wheel, or the marker
``setup.py`` leaves in ``tasktonic/_core/`` when the compiled build failed (pip hides the
build's own warning). Only the selected twins are imported: ``import tasktonic`` stays cheap.
"""
from __future__ import annotations

import os
import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING

__all__ = ["implementation", "copy", "dispatch", "loop", "timerheap", "build_failure"]

MODULES = ("copy", "dispatch", "loop", "timerheap")
_CORE = os.path.join(os.path.dirname(__file__), "_core")
#: Written by setup.py (with the reason) when the compiled core did not build; removed by a
#: build that succeeds.
BUILD_FAILED = os.path.join(_CORE, "BUILD_FAILED")
_FIX = ("To fix: install a C compiler and reinstall (`pip install --force-reinstall "
        "--no-binary tasktonic tasktonic`; in a checkout, `make clean test`), or set "
        "TASKTONIC_NO_EXTENSIONS=1 to choose the pure twins and silence this.")


def _load(package: str) -> tuple[ModuleType, ...]:
    return tuple(import_module(f"tasktonic.{package}.{name}") for name in MODULES)


def build_failure() -> str | None:
    """Why the compiled core did not build when tasktonic was installed, or None."""
    try:
        with open(BUILD_FAILED, encoding="utf-8") as marker:
            return marker.read().strip() or "no reason recorded"
    except OSError:
        return None


def _binary_wheel_tag() -> str | None:
    """The platform tag of the wheel this tasktonic was installed from, when not pure."""
    from importlib import metadata
    try:
        dist = metadata.distribution("tasktonic")
        wheel = dist.read_text("WHEEL") or ""
        here = os.path.realpath(os.path.dirname(__file__))
        if not here.startswith(os.path.realpath(str(dist.locate_file("tasktonic")))):
            return None  # another copy (a checkout on sys.path, an editable install)
    except (metadata.PackageNotFoundError, OSError):
        return None
    tags = [line[4:].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
    binary = [tag for tag in tags if not tag.endswith("-none-any")]
    return binary[0] if binary else None


def _expected_compiled(exc: ImportError) -> str | None:
    """What says a compiled core should be running, or None (a pure install is silent)."""
    failure = build_failure()
    if failure is not None:
        return f"the compiled core failed to build at install ({failure})"
    if any(name.endswith((".so", ".pyd")) for name in os.listdir(_CORE)):
        return f"the compiled core failed to import ({exc})"
    tag = _binary_wheel_tag()
    if tag is not None:
        return f"installed from a {tag} wheel, but its compiled core does not import ({exc})"
    return None


def _select() -> tuple[str, tuple[ModuleType, ...]]:
    required = bool(os.environ.get("TASKTONIC_REQUIRE_EXTENSIONS"))
    if os.environ.get("TASKTONIC_NO_EXTENSIONS"):
        if required:
            raise ImportError("tasktonic: TASKTONIC_REQUIRE_EXTENSIONS and "
                              "TASKTONIC_NO_EXTENSIONS are both set")
        return "pure", _load("_pure")
    if sys.implementation.name != "cpython":
        if required:
            raise ImportError("tasktonic: the compiled core needs CPython")
        return "pure", _load("_pure")
    try:
        return "compiled", _load("_core")
    except ImportError as exc:
        expected = _expected_compiled(exc)
        if required:
            raise ImportError(f"tasktonic: compiled core required but not importable: "
                              f"{expected or exc}. {_FIX}") from exc
        if expected:
            import warnings
            warnings.warn(f"tasktonic: {expected}; running the pure-Python twins, several "
                          f"times slower. {_FIX}", RuntimeWarning, stacklevel=4)
        return "pure", _load("_pure")


if TYPE_CHECKING:
    from ._pure import copy, dispatch, loop, timerheap
    implementation: str
else:
    implementation, (copy, dispatch, loop, timerheap) = _select()
