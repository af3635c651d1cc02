"""ttAsyncioCatalyst: tasktonic inside an asyncio program, and asyncio inside tasktonic."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from tasktonic import ttCatalyst, ttFormula, ttTimerSingleShot, ttTonic
from tasktonic.daemon import run_async, ttAsyncioCatalyst
from tests.conftest import run_app


class Seen:
    """What the tonics saw, for the test to assert on after the application."""

    def __init__(self) -> None:
        self.loop: Any = None
        self.threads: set[int] = set()
        self.events: list[str] = []


class Crunch(ttCatalyst):
    def ttsc__add(self, a: int, b: int) -> None:
        self.base.ttse__on_sum(a + b)


class Inside(ttTonic):
    """On the asyncio catalyst: uses asyncio directly, gets sparkles from a worker, a timer."""

    def __init__(self, seen: Seen, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen = seen

    def _note(self, event: str) -> None:
        self.seen.loop = asyncio.get_running_loop()
        self.seen.threads.add(threading.get_ident())
        self.seen.events.append(event)

    def ttse__on_start(self) -> None:
        self._note("start")
        asyncio.get_running_loop().create_task(self._later())
        Crunch().ttsc__add(2, 3)

    async def _later(self) -> None:
        await asyncio.sleep(0)
        self.ttse__on_task(["from", "a task"])

    def ttse__on_task(self, words: list[str]) -> None:
        self._note(" ".join(words))

    def ttse__on_sum(self, total: int) -> None:
        self._note(f"sum {total}")
        ttTimerSingleShot(0.01, name="tick")

    def ttse__on_tick(self, info: Any) -> None:
        self._note("tick")
        self.finish()


def _formula(seen: Seen, **catalyst_kwargs: Any) -> type[ttFormula]:
    class App(ttFormula):
        def creating_formula(self) -> Any:
            return (("tasktonic/log/to", "off"),)

        def creating_main_catalyst(self) -> None:
            ttAsyncioCatalyst(**catalyst_kwargs)

        def creating_starting_tonics(self) -> None:
            Inside(seen)

    return App


def _check(seen: Seen, loop: Any, thread: int | None) -> None:
    assert seen.loop is loop
    assert seen.threads == ({thread} if thread is not None else seen.threads)
    assert len(seen.threads) == 1
    assert sorted(seen.events) == sorted(["start", "from a task", "sum 5", "tick"])
    assert seen.events[0] == "start" and seen.events[-1] == "tick"


def _run(main: Callable[[], Coroutine[Any, Any, Any]], loop_factory: Any = None) -> None:
    loop = (loop_factory or asyncio.new_event_loop)()
    try:
        loop.run_until_complete(asyncio.wait_for(main(), 30))
    finally:
        loop.close()


def test_an_application_runs_inside_a_running_asyncio_loop() -> None:
    seen = Seen()
    ticks = []

    async def main() -> None:
        async def ticker() -> None:  # the host program goes on meanwhile
            while True:
                ticks.append(1)
                await asyncio.sleep(0)

        task = asyncio.get_running_loop().create_task(ticker())
        await run_async(_formula(seen))
        task.cancel()
        _check(seen, asyncio.get_running_loop(), threading.get_ident())

    _run(main)
    assert ticks


def test_uvloop_works_as_the_host_loop() -> None:
    uvloop = pytest.importorskip("uvloop")
    seen = Seen()

    async def main() -> None:
        await run_async(_formula(seen))
        _check(seen, asyncio.get_running_loop(), threading.get_ident())

    _run(main, uvloop.new_event_loop)


def test_a_main_catalyst_without_a_host_runs_its_own_loop() -> None:
    seen = Seen()
    run_app(lambda: Inside(seen), main_catalyst=ttAsyncioCatalyst)
    _check(seen, seen.loop, None)
    assert seen.loop.is_closed()


def test_a_worker_asyncio_catalyst_runs_its_loop_in_its_own_thread() -> None:
    seen = Seen()
    app_thread: list[int] = []

    class Boss(ttTonic):
        _tt_auto_finish_without_infusions = True  # ends once Inside and its catalyst have

        def ttse__on_start(self) -> None:
            app_thread.append(threading.get_ident())
            Inside(seen, catalyst=ttAsyncioCatalyst(name="aio"))

    run_app(Boss)
    _check(seen, seen.loop, None)
    assert app_thread[0] not in seen.threads


def test_a_call_from_an_asyncio_callback_is_queued_without_a_copy() -> None:
    handed: list[Any] = []

    class Receiver(ttTonic):
        def ttse__on_start(self) -> None:
            self.data = {"a": [1]}
            asyncio.get_running_loop().call_soon(self.ttse__on_data, self.data)

        def ttse__on_data(self, data: dict) -> None:
            handed.append(data is self.data)
            self.finish()

    run_app(Receiver, main_catalyst=ttAsyncioCatalyst)
    assert handed == [True]


def test_systemexit_in_a_sparkle_ends_the_application_in_order(expected_errors: Any) -> None:
    finished: list[bool] = []

    class Exiter(ttTonic):
        def ttse__on_start(self) -> None:
            raise SystemExit(3)

        def ttse__on_finished(self) -> None:
            finished.append(True)

    with pytest.raises(SystemExit):
        run_app(Exiter, main_catalyst=ttAsyncioCatalyst)
    assert finished == [True]
    assert "SystemExit" in expected_errors.records[0].getMessage()
