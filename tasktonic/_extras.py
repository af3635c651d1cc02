"""Optional dependencies: imported on use, with an ImportError that names the extra."""
from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str) -> ModuleType:
    """Import ``module``, or say which extra of tasktonic installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"tasktonic: {module} is not installed; install it with "
                          f"`pip install 'tasktonic[{extra}]'`") from exc
