"""``@service(flavour=...)``: every instance's ``run`` is started by the runtime at once.

The document's daemon found new service instances by polling about once a second; here the
decorated ``__init__`` hands ``run`` to the runtime as soon as it returns. Instances created
while no application runs are started by ``runtime.accept()`` inside the next one.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

from .runtime import runtime

__all__ = ["service"]

C = TypeVar("C", bound=type)


def service(flavour: ModuleType) -> Callable[[C], C]:
    """Class decorator: the ``run`` method of every instance runs as a ``flavour`` payload."""
    def decorate(cls: C) -> C:
        init = cls.__init__  # type: ignore[misc]  # the class being decorated: its own

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            if type(self).__init__ is __init__:  # the outermost decorated __init__ starts it
                runtime.start_service(self.run, flavour)

        cls.__init__ = __init__  # type: ignore[misc]  # the decorator's purpose
        return cls
    return decorate
