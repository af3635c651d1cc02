"""ttAdopter: a tonic that adopts payloads and hears their outcome as its own sparkles.

``self.adopt(payload, *args, flavour=asyncio, **kwargs)`` runs the payload on its flavour's
runner and returns its handle. The result arrives as ``ttse__on_adopted_done(handle, result)``
(a copy, as every argument that crosses threads) and an exception as
``ttse__on_adopted_failed(handle, exc)`` (the exception itself, traceback included), both on
the tonic's own catalyst: tonic code never runs on the payload's thread. ``handle.cancel()``
is final; finishing the tonic cancels everything it adopted. Unhandled outcomes are not
dropped: by default a failure re-raises in the tonic (the formula's error policy applies) and
a result other than None is an error too.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import ModuleType
from typing import Any

from ..essence import Phase
from ..tonic import ttTonic
from .handle import AdoptHandle, Outcome
from .runners import ttPayloadError
from .runtime import runtime

__all__ = ["ttAdopter"]


class ttAdopter(ttTonic):
    """Mix in (``class MyTonic(ttAdopter)``) to adopt asyncio, trio or threading payloads."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._tt_adopted: set[AdoptHandle] = set()

    def adopt(self, payload: Callable[..., Any], *args: Any, flavour: ModuleType = asyncio,
              **kwargs: Any) -> AdoptHandle:
        """Run ``payload(*args, **kwargs)`` in the background (call it on this tonic's
        catalyst); its outcome comes back as a sparkle of this tonic."""
        if self.phase >= Phase.FINISHING:
            raise RuntimeError(f"tasktonic.daemon: {self.name} is "
                               f"{self.phase.name.lower()}: it adopts nothing more")
        handle = AdoptHandle(payload, args, kwargs, flavour, self._tt_outcome)
        runtime.runner(flavour).submit(handle)
        self._tt_adopted.add(handle)
        return handle

    def _tt_outcome(self, handle: AdoptHandle, outcome: Outcome) -> None:
        # on the payload's thread: the result is copied, an exception passed as it is
        try:
            if outcome.ok:
                self._ttss__call(self._tt_deliver, handle, True, outcome.value)
                return
        except TypeError as exc:  # a result that cannot cross threads
            outcome = Outcome(False, exc)
        self._ttss__call(self._tt_deliver, handle, False, outcome)

    def _tt_deliver(self, handle: AdoptHandle, ok: bool, value: Any) -> None:
        self._tt_adopted.discard(handle)
        if handle.take():
            if ok:
                self.ttse__on_adopted_done(handle, value)
            else:
                self.ttse__on_adopted_failed(handle, value.value)

    def ttse__on_adopted_done(self, handle: AdoptHandle, result: Any) -> None:
        """The result of a payload this tonic adopted; override it. A result other than None
        that is not handled is an error."""
        if result is not None:
            raise ttPayloadError(f"{self.name}: the result {result!r} of {handle.name} is not "
                                 "handled (override ttse__on_adopted_done)")

    def ttse__on_adopted_failed(self, handle: AdoptHandle, exc: BaseException) -> None:
        """The exception of a payload this tonic adopted; override it. By default it is
        raised here, so the formula's error policy applies."""
        raise exc

    def _tt_releasing(self) -> None:
        super()._tt_releasing()
        adopted, self._tt_adopted = self._tt_adopted, set()
        for handle in adopted:
            handle.cancel()
