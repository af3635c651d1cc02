"""tasktonic.daemon: the seed-004 runtime and tonics adopting payloads, for every flavour.

Every test runs an application (``run_app``) and waits for the paths it claims with events or
with the tonics' own finishing; assertions inside sparkles fail the test through the guard.
"""
from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from tasktonic import ttSparkleError, ttTonic
from tasktonic.daemon import AdoptHandle, runtime, service, ttAdopter, ttPayloadError
from tests.conftest import run_app

try:
    import trio
except ImportError:  # the trio flavour's tests are skipped; the others run
    trio = None


class Flavour(SimpleNamespace):
    """One flavour's module and its payloads, written in that flavour."""

    module: ModuleType
    double: Callable[..., Any]
    fail: Callable[..., Any]
    wait_forever: Callable[..., Any]  # (started, cancelled) events: sets started, then waits
    ask: Callable[..., Any]  # (tonic, n): a sparkle round trip from inside the payload


async def _aio_double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


async def _aio_fail(message: str) -> None:
    await asyncio.sleep(0)
    raise ValueError(message)


async def _aio_wait_forever(started: threading.Event, cancelled: threading.Event) -> None:
    started.set()
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        cancelled.set()
        raise


async def _aio_ask(tonic: Any, n: int) -> int:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()
    tonic.ttsc__square(n, lambda value: loop.call_soon_threadsafe(future.set_result, value))
    return await future + 1


async def _trio_double(x: int) -> int:
    await trio.sleep(0)
    return 2 * x


async def _trio_fail(message: str) -> None:
    await trio.sleep(0)
    raise ValueError(message)


async def _trio_wait_forever(started: threading.Event, cancelled: threading.Event) -> None:
    started.set()
    try:
        await trio.sleep_forever()
    except trio.Cancelled:
        cancelled.set()
        raise


async def _trio_ask(tonic: Any, n: int) -> int:
    token = trio.lowlevel.current_trio_token()
    send, receive = trio.open_memory_channel(1)
    tonic.ttsc__square(n, lambda value: token.run_sync_soon(send.send_nowait, value))
    return await receive.receive() + 1


def _th_double(x: int) -> int:
    return 2 * x


def _th_fail(message: str) -> None:
    raise ValueError(message)


def _th_ask(tonic: Any, n: int) -> int:
    answer: list[int] = []
    got = threading.Event()
    tonic.ttsc__square(n, lambda value: (answer.append(value), got.set()))
    got.wait()
    return answer[0] + 1


FLAVOURS = {
    "asyncio": Flavour(module=asyncio, double=_aio_double, fail=_aio_fail,
                       wait_forever=_aio_wait_forever, ask=_aio_ask),
    "trio": Flavour(module=trio, double=_trio_double, fail=_trio_fail,
                    wait_forever=_trio_wait_forever, ask=_trio_ask),
    "threading": Flavour(module=threading, double=_th_double, fail=_th_fail, wait_forever=None,
                         ask=_th_ask),
}
NO_TRIO = pytest.mark.skipif(trio is None, reason="trio is not installed (tasktonic[trio])")


def _names(*names: str) -> list[Any]:
    return [pytest.param(n, marks=NO_TRIO) if n == "trio" else n for n in names]


ALL = pytest.mark.parametrize("name", _names(*FLAVOURS))
COROUTINES = pytest.mark.parametrize("name", _names("asyncio", "trio"))


class Adopter(ttAdopter):
    """Adopts what ``plan(self)`` says; records outcomes; finishes when ``until(self)``."""

    def __init__(self, plan: Callable[[Adopter], None], until: Callable[[Adopter], bool],
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.until = until
        self.done: list[tuple[AdoptHandle, Any]] = []
        self.failed: list[tuple[AdoptHandle, BaseException]] = []
        self.threads: set[int] = set()

    def ttse__on_start(self) -> None:
        self.plan(self)

    def ttse__on_adopted_done(self, handle: AdoptHandle, result: Any) -> None:
        self._record(self.done, handle, result)

    def ttse__on_adopted_failed(self, handle: AdoptHandle, exc: BaseException) -> None:
        self._record(self.failed, handle, exc)

    def _record(self, into: list, handle: AdoptHandle, value: Any) -> None:
        assert self.catalyst.on_own_thread()
        self.threads.add(threading.get_ident())
        into.append((handle, value))
        if self.until(self):
            self.finish()

    def ttsc__square(self, n: int, reply: Callable[[int], Any]) -> None:
        reply(n * n)


def run_adopter(plan: Callable[[Adopter], None], until: Callable[[Adopter], bool],
                settings: tuple = ()) -> Adopter:
    made: list[Adopter] = []
    run_app(lambda: made.append(Adopter(plan, until)), settings=settings)
    return made[0]


@ALL
def test_result_arrives_as_a_sparkle_on_the_tonics_catalyst(name: str) -> None:
    flavour = FLAVOURS[name]
    handles: list[AdoptHandle] = []
    tonic = run_adopter(
        lambda t: handles.append(t.adopt(flavour.double, 21, flavour=flavour.module)),
        lambda t: len(t.done) == 1)
    assert tonic.done == [(handles[0], 42)] and not tonic.failed
    assert handles[0].flavour is flavour.module and handles[0].done


@ALL
def test_exception_arrives_as_on_adopted_failed_with_its_traceback(name: str) -> None:
    flavour = FLAVOURS[name]
    tonic = run_adopter(lambda t: t.adopt(flavour.fail, "boom", flavour=flavour.module),
                        lambda t: len(t.failed) == 1)
    (_handle, exc), = tonic.failed
    assert type(exc) is ValueError and str(exc) == "boom" and exc.__traceback__ is not None


@COROUTINES
def test_finishing_the_tonic_cancels_what_it_adopted(name: str) -> None:
    flavour = FLAVOURS[name]
    started, cancelled = threading.Event(), threading.Event()
    finished: list[AdoptHandle] = []

    class Quitter(ttAdopter):
        def ttse__on_start(self) -> None:
            self.handle = self.adopt(flavour.wait_forever, started, cancelled,
                                     flavour=flavour.module)
            self.adopt(started.wait, flavour=threading)

        def ttse__on_adopted_done(self, handle: AdoptHandle, result: Any) -> None:
            self.finish()  # its payload has started: finishing must cancel it

        def ttse__on_finished(self) -> None:
            finished.append(self.handle)

    def until(keeper: Adopter) -> bool:  # the application lives on until the cancellation
        assert keeper.done[0][1] is True
        return True

    run_adopter(lambda t: (Quitter(), t.adopt(cancelled.wait, 10, flavour=threading)), until)
    assert finished[0].cancelled


@COROUTINES
def test_cancel_stops_the_payload_and_no_outcome_arrives(name: str) -> None:
    flavour = FLAVOURS[name]
    started, cancelled = threading.Event(), threading.Event()

    def plan(tonic: Adopter) -> None:
        handle = tonic.adopt(flavour.wait_forever, started, cancelled, flavour=flavour.module)
        tonic.adopt(flavour.double, 1, flavour=flavour.module)
        tonic.victim = handle

    def until(tonic: Adopter) -> bool:
        assert started.wait(10)
        assert tonic.victim.cancel() and tonic.victim.cancelled
        assert not tonic.victim.cancel() or tonic.victim.cancelled  # stays cancelled
        assert cancelled.wait(10)
        return True

    tonic = run_adopter(plan, until)
    assert all(h is not tonic.victim for h, _ in tonic.done) and not tonic.failed


def test_cancel_after_delivery_returns_false() -> None:
    def until(tonic: Adopter) -> bool:
        handle = tonic.done[0][0]
        assert handle.cancel() is False and not handle.cancelled
        return True

    run_adopter(lambda t: t.adopt(_aio_double, 2), until)


@COROUTINES
def test_ten_thousand_adopted_coroutines_complete(name: str) -> None:
    flavour = FLAVOURS[name]
    count = 10_000
    tonic = run_adopter(
        lambda t: [t.adopt(flavour.double, i, flavour=flavour.module) for i in range(count)],
        lambda t: len(t.done) == count)
    assert sorted(result for _h, result in tonic.done) == [2 * i for i in range(count)]
    assert len(tonic.threads) == 1


@ALL
def test_a_payload_calls_its_tonic_and_hears_back(name: str) -> None:
    flavour = FLAVOURS[name]
    tonic = run_adopter(lambda t: t.adopt(flavour.ask, t, 7, flavour=flavour.module),
                        lambda t: len(t.done) == 1)
    assert tonic.done[0][1] == 50


async def _aio_execute_inside() -> str:
    try:
        runtime.execute(_aio_double, 1, flavour=asyncio)
    except RuntimeError as exc:
        return str(exc)
    return "not refused"


async def _trio_execute_inside() -> str:
    try:
        runtime.execute(_trio_double, 1, flavour=trio)
    except RuntimeError as exc:
        return str(exc)
    return "not refused"


def _th_execute_inside() -> str:
    try:
        runtime.execute(_th_double, 1, flavour=threading)
    except RuntimeError as exc:
        return str(exc)
    return "not refused"


@pytest.mark.parametrize("payload", [
    _aio_execute_inside, pytest.param(_trio_execute_inside, marks=NO_TRIO), _th_execute_inside],
    ids=list(FLAVOURS))
def test_execute_from_inside_its_own_loop_is_refused(payload: Callable) -> None:
    flavour = {_aio_execute_inside: asyncio, _trio_execute_inside: trio,
               _th_execute_inside: threading}[payload]
    tonic = run_adopter(lambda t: t.adopt(payload, flavour=flavour), lambda t: len(t.done) == 1)
    message = tonic.done[0][1]
    assert "runtime.execute" in message and "deadlock" in message


@ALL
def test_execute_runs_to_completion_from_another_thread(name: str) -> None:
    flavour = FLAVOURS[name]

    def blocking() -> tuple[int, str]:
        value = runtime.execute(flavour.double, 4, flavour=flavour.module)
        try:
            runtime.execute(flavour.fail, "no", flavour=flavour.module)
        except ValueError as exc:
            return value, str(exc)
        return value, "did not raise"

    runner = threading if flavour.module is not threading else asyncio
    adopted = (blocking if runner is threading else _in_a_thread(blocking))
    tonic = run_adopter(lambda t: t.adopt(adopted, flavour=runner), lambda t: len(t.done) == 1)
    assert tonic.done[0][1] == (8, "no")


def _in_a_thread(func: Callable[[], Any]) -> Callable[[], Any]:
    async def run() -> Any:
        return await asyncio.to_thread(func)
    return run


@ALL
def test_a_service_class_run_starts_at_once(name: str) -> None:
    flavour = FLAVOURS[name]
    module = flavour.module

    if module is threading:
        @service(flavour=module)
        class Service:
            def __init__(self, tonic: Any) -> None:
                self.tonic = tonic

            def run(self) -> None:
                self.tonic.ttse__on_service_ran(name)
    else:
        @service(flavour=module)
        class Service:  # type: ignore[no-redef]
            def __init__(self, tonic: Any) -> None:
                self.tonic = tonic

            async def run(self) -> None:
                await (asyncio.sleep(0) if module is asyncio else trio.sleep(0))
                self.tonic.ttse__on_service_ran(name)

    heard: list[str] = []

    class Owner(ttTonic):
        def ttse__on_start(self) -> None:
            Service(self)

        def ttse__on_service_ran(self, who: str) -> None:
            heard.append(who)
            self.finish()

    run_app(Owner)
    assert heard == [name]


def test_services_created_before_the_application_start_on_accept() -> None:
    ran = threading.Event()

    @service(flavour=threading)
    class Early:
        def run(self) -> None:
            ran.set()

    Early()
    assert not ran.is_set()

    class Starter(ttTonic):
        def ttse__on_start(self) -> None:
            runtime.accept()
            runtime.execute(ran.wait, flavour=threading)
            self.finish()

    run_app(Starter)
    assert ran.is_set()


def test_a_subclass_of_a_service_starts_once_after_its_own_init() -> None:
    seen: list[str] = []

    @service(flavour=threading)
    class Base:
        def __init__(self) -> None:
            self.ready = "base"

        def run(self) -> None:
            seen.append(self.ready)

    class Plain(Base):  # not decorated itself: a service all the same
        def __init__(self) -> None:
            super().__init__()
            self.ready = "plain"

    @service(flavour=threading)
    class Decorated(Plain):
        def __init__(self) -> None:
            super().__init__()
            self.ready = "decorated"

    class Owner(ttTonic):
        def ttse__on_start(self) -> None:
            Base(), Plain(), Decorated()
            runtime.execute(lambda: None, flavour=threading)  # one pool thread: in order
            self.finish()

    run_app(Owner, settings=(("tasktonic/daemon/threads", 1),))
    assert seen == ["base", "plain", "decorated"]


def test_threading_payloads_share_a_bounded_pool() -> None:
    def name() -> str:
        return threading.current_thread().name

    tonic = run_adopter(lambda t: [t.adopt(name, flavour=threading) for _ in range(40)],
                        lambda t: len(t.done) == 40,
                        settings=(("tasktonic/daemon/threads", 2),))
    names = {result for _h, result in tonic.done}
    assert 1 <= len(names) <= 2 and all(n.startswith("tasktonic:daemon/threading") for n in names)


def test_outcomes_a_tonic_does_not_handle_are_errors(expected_errors: Any) -> None:
    class Careless(ttAdopter):
        def ttse__on_start(self) -> None:
            self.adopt(_aio_fail, "not handled")
            self.adopt(_aio_double, 4)
            self.adopt(asyncio.sleep, 0)  # None is no result: no error
            self.adopt(_th_none, flavour=threading)

        def on_sparkle_error(self, sparkle: str, error: Exception) -> bool:
            self.errors = getattr(self, "errors", 0) + 1
            if self.errors == 2:
                self.finish()
            return False  # logged, as without the hook

    run_app(Careless)
    errors = {type(r.exc_info[1]): str(r.exc_info[1]) for r in expected_errors.records}
    assert len(expected_errors.records) == 2 and errors[ValueError] == "not handled"
    assert "result 8 of _aio_double is not handled" in errors[ttPayloadError]


def _th_none() -> None:
    return None


# -- payloads adopted outside any tonic: the error policy --------------------------------------

@pytest.fixture
def error_logged() -> Any:
    """An event set by the first ERROR record on the tasktonic logger during the test."""
    event = threading.Event()

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            event.set()

    handler = Handler(logging.ERROR)
    logger = logging.getLogger("tasktonic")
    logger.addHandler(handler)
    yield event
    logger.removeHandler(handler)


def _adopt_outside_then_wait(payload: Callable, arg: Any, flavour: ModuleType,
                             logged: threading.Event) -> Callable[[Adopter], None]:
    def plan(tonic: Adopter) -> None:
        runtime.adopt(payload, arg, flavour=flavour)
        tonic.adopt(logged.wait, flavour=threading)  # done once the error was reported
    return plan


@ALL
def test_an_unhandled_exception_is_logged_under_the_log_policy(
        name: str, expected_errors: Any, error_logged: threading.Event) -> None:
    flavour = FLAVOURS[name]
    run_adopter(_adopt_outside_then_wait(flavour.fail, "lost?", flavour.module, error_logged),
                lambda t: len(t.done) == 1)
    (record,) = expected_errors.records
    error = record.exc_info[1]
    assert isinstance(error, ttPayloadError) and "lost?" in str(error)
    assert isinstance(error.__cause__, ValueError) and flavour.module.__name__ in str(error)


@ALL
def test_a_return_value_is_an_error_too(name: str, expected_errors: Any,
                                        error_logged: threading.Event) -> None:
    flavour = FLAVOURS[name]
    run_adopter(_adopt_outside_then_wait(flavour.double, 21, flavour.module, error_logged),
                lambda t: len(t.done) == 1)
    (record,) = expected_errors.records
    assert "returned 42" in str(record.exc_info[1])


@ALL
def test_the_stop_policy_ends_the_application_and_the_formula_raises(
        name: str, expected_errors: Any) -> None:
    flavour = FLAVOURS[name]

    def plan(tonic: Adopter) -> None:
        runtime.adopt(flavour.fail, "fatal", flavour=flavour.module)

    with pytest.raises(ttSparkleError) as raised:
        run_adopter(plan, lambda t: False, settings=(("tasktonic/errors/policy", "stop"),))
    assert isinstance(raised.value.error, ttPayloadError)
    assert raised.value.tonic_name == f"tasktonic/daemon/{name}"
    assert len(expected_errors.records) == 1


def test_the_finish_policy_ends_that_flavours_runner(expected_errors: Any) -> None:
    started, cancelled = threading.Event(), threading.Event()

    def plan(tonic: Adopter) -> None:
        tonic.adopt(_aio_wait_forever, started, cancelled)
        tonic.adopt(started.wait, flavour=threading)

    def until(tonic: Adopter) -> bool:
        if not tonic.failed:  # the long one runs: now a failure outside any tonic
            runtime.adopt(_aio_fail, "ends the runner", flavour=asyncio)
        return len(tonic.failed) == 1

    tonic = run_adopter(plan, until, settings=(("tasktonic/errors/policy", "finish"),))
    assert cancelled.is_set() and isinstance(tonic.failed[0][1], CancelledError)
    (record,) = expected_errors.records
    assert "ends the runner" in str(record.exc_info[1])


# -- finishing the application ---------------------------------------------------------------

async def _aio_stubborn(started: threading.Event) -> None:
    started.set()
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        await asyncio.sleep(0.5)  # ignores its cancellation for a while


async def _trio_stubborn(started: threading.Event) -> None:
    started.set()
    try:
        await trio.sleep_forever()
    finally:
        with trio.CancelScope(shield=True):
            await trio.sleep(0.5)


def _th_stubborn(started: threading.Event, release: threading.Event) -> None:
    started.set()
    release.wait()


@ALL
def test_finishing_the_application_reports_payloads_that_do_not_end_in_time(
        name: str, expected_errors: Any) -> None:
    flavour = FLAVOURS[name]
    started, release = threading.Event(), threading.Event()
    stubborn: dict[str, tuple] = {"asyncio": (_aio_stubborn, started),
                                  "trio": (_trio_stubborn, started),
                                  "threading": (_th_stubborn, started, release)}

    def plan(tonic: Adopter) -> None:
        payload, *args = stubborn[name]
        runtime.adopt(payload, *args, flavour=flavour.module)
        tonic.adopt(started.wait, flavour=threading)

    try:
        run_adopter(plan, lambda t: True, settings=(("tasktonic/daemon/grace", 0.05),))
    finally:
        release.set()
    (record,) = expected_errors.records
    message = record.getMessage()
    assert stubborn[name][0].__qualname__ in message
    assert ("cannot be killed" in message) == (name == "threading")


def test_no_application_means_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="no tasktonic application is running"):
        runtime.adopt(_aio_double, 1, flavour=asyncio)


def test_an_unknown_flavour_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown flavour"):
        runtime.adopt(_aio_double, 1, flavour=logging)


@pytest.mark.parametrize("module, extra", [("trio", "trio"), ("PySide6.QtCore", "qt")])
def test_a_missing_optional_dependency_names_its_extra(module: str, extra: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from tasktonic._extras import require
    monkeypatch.setitem(sys.modules, module, None)  # an import of it now fails
    with pytest.raises(ImportError, match=rf"pip install 'tasktonic\[{extra}\]'"):
        require(module, extra)


def test_a_finishing_tonic_adopts_nothing_more() -> None:
    refused: list[str] = []

    class Late(ttAdopter):
        def ttse__on_start(self) -> None:
            self.finish()

        def ttse__on_finished(self) -> None:
            try:
                self.adopt(_aio_double, 1)
            except RuntimeError as exc:
                refused.append(str(exc))

    run_app(Late)
    assert "adopts nothing more" in refused[0]


@NO_TRIO
def test_a_tonic_on_a_trio_catalyst_uses_its_nursery_and_timers() -> None:
    from tasktonic import ttTimerSingleShot
    from tasktonic.daemon.triocat import ttTrioCatalyst

    events: list[str] = []

    class InTrio(ttTonic):
        def ttse__on_start(self) -> None:
            self.catalyst.nursery.start_soon(self._task)

        async def _task(self) -> None:
            await trio.sleep(0)
            self.ttse__on_task_done(trio.lowlevel.current_task().name)

        def ttse__on_task_done(self, name: str) -> None:
            events.append("task")
            ttTimerSingleShot(0.01, name="later")

        def ttse__on_later(self, info: Any) -> None:
            events.append("timer")
            self.finish()

    class Boss(ttTonic):
        _tt_auto_finish_without_infusions = True

        def ttse__on_start(self) -> None:
            InTrio(catalyst=ttTrioCatalyst(name="trio"))

    run_app(Boss)
    assert events == ["task", "timer"]
