"""``@service(flavour=...)``: every instance's ``run`` is started by the runtime at once.

The document's daemon found new service instances by polling about once a second; here the
``__init__`` of the decorated class (and of each of its subclasses) hands ``run`` to the
runtime as soon as the outermost ``__init__`` returns, so ``run`` sees a finished instance.
Instances created while no application runs are started by ``runtime.accept()`` inside the
next one.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

from .runtime import runtime

__all__ = ["service"]

C = TypeVar("C", bound=type)


def _start_after_init(cls: type, flavour: ModuleType) -> None:
    init = cls.__init__  # type: ignore[misc]  # the class being decorated: its own

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if type(self).__init__ is __init__:  # the outermost __init__ starts it, once
            runtime.start_service(self.run, flavour)

    cls.__init__ = __init__  # type: ignore[misc]  # the decorator's purpose


def service(flavour: ModuleType) -> Callable[[C], C]:
    """Class decorator: the ``run`` method of every instance runs as a ``flavour`` payload."""
    def decorate(cls: C) -> C:
        decorated: type = cls
        _start_after_init(decorated, flavour)
        own = decorated.__dict__.get("__init_subclass__")

        def __init_subclass__(sub: type, /, **kwargs: Any) -> None:
            if own is not None:
                own.__func__(sub, **kwargs)
            else:
                # mypy wants a class literal as super()'s first argument
                super(decorated, sub).__init_subclass__(**kwargs)  # type: ignore[arg-type]
            _start_after_init(sub, flavour)  # a subclass starts after its own __init__

        cls.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[assignment]
        return cls
    return decorate
