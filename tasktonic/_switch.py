"""Decides once, at import, which twins of the hot paths run: compiled or pure.

Compiled unless ``TASKTONIC_NO_EXTENSIONS`` is set to a non-empty value, the interpreter is
not CPython, or a compiled module fails to import (then one warning, and the pure twins).
``TASKTONIC_REQUIRE_EXTENSIONS`` turns a missing compiled core into an ImportError, so a
silently pure run cannot pass as compiled. Every other module imports the hot paths from here.
"""
from __future__ import annotations

import os
import platform
import warnings
from types import ModuleType
from typing import TYPE_CHECKING

__all__ = ["implementation", "copy", "dispatch", "loop", "timerheap"]

_MODULES = ("copy", "dispatch", "loop", "timerheap")


def _load_compiled() -> tuple[ModuleType, ...]:
    from importlib import import_module
    return tuple(import_module(f"tasktonic._core.{name}") for name in _MODULES)


def _select() -> tuple[str, tuple[ModuleType, ...]]:
    from ._pure import copy as p_copy, dispatch as p_dispatch, loop as p_loop, timerheap as p_heap
    pure = (p_copy, p_dispatch, p_loop, p_heap)
    required = bool(os.environ.get("TASKTONIC_REQUIRE_EXTENSIONS"))
    if os.environ.get("TASKTONIC_NO_EXTENSIONS"):
        if required:
            raise ImportError("tasktonic: TASKTONIC_REQUIRE_EXTENSIONS and "
                              "TASKTONIC_NO_EXTENSIONS are both set")
        return "pure", pure
    if platform.python_implementation() != "CPython":
        if required:
            raise ImportError("tasktonic: the compiled core needs CPython")
        return "pure", pure
    try:
        return "compiled", _load_compiled()
    except ImportError as exc:
        if required:
            raise ImportError(f"tasktonic: compiled core required but not importable: {exc}"
                              ) from exc
        if _built_anything():
            warnings.warn(f"tasktonic: compiled core failed to import ({exc}); "
                          "running the pure-Python twins", RuntimeWarning, stacklevel=3)
        return "pure", pure


def _built_anything() -> bool:
    """True when some compiled module exists (a pure install is silent, a broken one is not)."""
    folder = os.path.join(os.path.dirname(__file__), "_core")
    return any(name.endswith((".so", ".pyd")) for name in os.listdir(folder))


if TYPE_CHECKING:
    from ._pure import copy, dispatch, loop, timerheap
    implementation: str
else:
    implementation, (copy, dispatch, loop, timerheap) = _select()
