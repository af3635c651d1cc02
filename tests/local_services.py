"""Objects and tonic services the tests of ``tasktonic.local`` host in their daemons.

A daemon imports its factory by "module:attribute", so these live in an importable module
(``tests.local_services``), not inside a test file.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from tasktonic import ttTonic
from tasktonic.local import machine_service


class Counter:
    """The design document's quickstart object, with a few more methods to probe the wire."""

    def __init__(self, start: int = 0) -> None:
        self.value = start

    def inc(self, step: int = 1) -> int:
        self.value += step
        return self.value

    def get(self) -> int:
        return self.value

    def ping(self) -> str:
        return "pong"

    def echo(self, *args: Any, **kwargs: Any) -> list:
        return [list(args), kwargs]

    def fail(self, message: str) -> None:
        raise ValueError(message)

    def _private(self) -> str:
        return "never reached"


class Plain:
    """An object whose methods return what msgpack cannot carry."""

    def opaque(self) -> Path:
        return Path("/")

    def unpicklable(self) -> Any:
        return lambda: None


@machine_service(idle_ttl=3.0, start_timeout=20.0)
class Tally(ttTonic):
    """A tonic service: adds what callers send and tells each caller the new total."""

    _tt_is_service = "tally"

    def __init__(self, srv_start: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.total = srv_start
        self.callers: dict[str, int] = {}

    def _tt_init_service_base(self, base: Any, ctxt_greeting: str = "hello", **kwargs: Any) -> None:
        if base is not None:
            self.ttsc__greet(base, ctxt_greeting)

    def ttsc__greet(self, caller: Any, greeting: str) -> None:
        caller.ttse__on_greeting(greeting, self.catalyst.name)

    def ttsc__add(self, caller: Any, amount: int) -> None:
        self.total += amount
        caller.ttse__on_total(self.total)
