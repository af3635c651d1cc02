"""The dispatch contract (the module docstring of ``tasktonic/_pure/dispatch.py``), both twins.

Every test takes ``tw``: the pure dispatch module with the pure loop, and the compiled dispatch
module with the compiled loop, in one process (the compiled pair is skipped when it is not
built, and fails to load when ``TASKTONIC_REQUIRE_EXTENSIONS`` is set). The tonic classes are
small fakes built with ``build_class_sparkles(cls, declared_states)``; their instances carry
``_tt_state``, ``_tt_state_name``, ``name`` and ``_tt_loop``, which is all dispatch reads.
Cross-thread steps wait on Events with a generous timeout and assert that they were set.
"""
from __future__ import annotations

import logging
import threading
import weakref
from types import ModuleType
from typing import Any, NamedTuple

import pytest

from tests.conftest import twin
from tests.test_loop_contract import Background, Payload

TWINS = ["pure", "compiled"]


class Twin(NamedTuple):
    dispatch: ModuleType
    loop: ModuleType


@pytest.fixture(params=TWINS)
def tw(request: Any) -> Twin:
    return Twin(twin(request.param, "dispatch"), twin(request.param, "loop"))


class FakeTonicBase:
    """What dispatch reads of a tonic; ``_tt_loop`` is the loop its sparkles are queued on."""

    _tt_by_reference = True
    _tt_state = 0
    _tt_state_name: str | None = None
    _tt_state_names: tuple = ()

    def __init__(self, loop: Any, name: str = "tonic") -> None:
        self._tt_loop = loop
        self.name = name

    def enter(self, state: str | None) -> None:
        """Make ``state`` the active one (None: no active state)."""
        if state is None:
            self._tt_state, self._tt_state_name = 0, None
        else:
            self._tt_state = self._tt_state_names.index(state) + 1
            self._tt_state_name = state

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def build(tw: Twin, cls: type, states: tuple = ()) -> dict:
    """Build ``cls``'s sparkles with the twin under test; its entries by generic name."""
    entries, state_names = tw.dispatch.build_class_sparkles(cls, states)
    cls._tt_state_names = state_names
    cls._tt_entries = entries
    return entries


def new_loop(tw: Twin, own_thread: bool = True) -> Any:
    loop = tw.loop.SparkleLoop(lambda tonic, entry, exc: None)
    if own_thread:
        loop.thread_id = threading.get_ident()
    return loop


def run_all(loop: Any) -> None:
    while loop.step() is not None:
        pass


# == names ===================================================================================

SPARKLE_NAMES = {
    "ttsc__go": ("ttsc", None, "go"),
    "ttse__on_start": ("ttse", None, "on_start"),
    "tts__internal": ("tts", None, "internal"),
    "_tts__private": ("_tts", None, "private"),
    "_ttss__transition": ("_ttss", None, "transition"),
    "ttsc_idle__go": ("ttsc", "idle", "go"),
    "ttse_busy_now__tick": ("ttse", "busy_now", "tick"),
    "tts_idle__x": ("tts", "idle", "x"),
    "_tts_idle__x": ("_tts", "idle", "x"),
    "_ttss_idle__x": ("_ttss", "idle", "x"),
    "ttsc__a__b": ("ttsc", None, "a__b"),
    "ttsc___x": ("ttsc", None, "_x"),
}
NOT_SPARKLES = ["go", "ttsc", "ttsc__", "__init__", "__ttsc", "ttsx__go", "ttscx__go",
                "ttsc_", "ttse_", "tts", "_ttss", "ttsc_idle", "x__go", "ttsc_idle_"]


def test_prefixes(tw):
    assert tw.dispatch.PREFIXES == ("_ttss", "_tts", "ttsc", "ttse", "tts")
    assert set(tw.dispatch.__all__) == {"PREFIXES", "SparkleEntry", "parse_sparkle_name",
                                        "build_class_sparkles"}
    assert tw.dispatch.SparkleEntry is tw.loop.SparkleEntry


@pytest.mark.parametrize("attr", sorted(SPARKLE_NAMES))
def test_parse_sparkle_name(tw, attr):
    assert tw.dispatch.parse_sparkle_name(attr) == SPARKLE_NAMES[attr]


@pytest.mark.parametrize("attr", NOT_SPARKLES)
def test_parse_sparkle_name_rejects(tw, attr):
    assert tw.dispatch.parse_sparkle_name(attr) is None


# == the tables ==============================================================================

def test_build_class_sparkles_tables_per_state(tw):
    def noop(self):
        pass
    noop._tt_noop = True

    class Worker(FakeTonicBase):
        def ttsc__go(self, n):
            """Go generically."""

        def ttsc_busy__go(self, n):
            """Go while busy."""

        def ttse_idle__ping(self):
            pass

        def _ttss__system(self):
            pass

        def tts_extra__hidden(self):
            pass

        ttse__on_start = noop

        def plain(self):
            pass

        ttsc__value = 5               # not callable: not a sparkle

    originals = dict(Worker.__dict__)
    entries, states = tw.dispatch.build_class_sparkles(Worker, ("idle", "busy", "idle"))
    assert states == ("idle", "busy", "extra")          # declared first, then discovered
    assert set(entries) == {"ttsc__go", "ttse__ping", "_ttss__system", "tts__hidden",
                            "ttse__on_start"}
    assert all(isinstance(e, tw.loop.SparkleEntry) for e in entries.values())
    assert all(e.name == key for key, e in entries.items())
    go, go_busy = originals["ttsc__go"], originals["ttsc_busy__go"]
    assert entries["ttsc__go"].table == (go, go, go_busy, go, None)
    assert entries["ttsc__go"].generic is go
    assert entries["ttsc__go"].by_state == {"busy": go_busy}
    ping = originals["ttse_idle__ping"]
    assert entries["ttse__ping"].table == (None, ping, None, None, None)
    hidden = originals["tts_extra__hidden"]
    assert entries["tts__hidden"].table == (None, None, None, hidden, None)
    system = originals["_ttss__system"]
    assert entries["_ttss__system"].table == (system,) * 4 + (None,)
    assert entries["ttse__on_start"].table == (None,) * 5   # a framework no-op runs nothing
    assert Worker.plain is originals["plain"] and Worker.ttsc__value == 5


def test_subclass_tables_merge_the_bases(tw):
    class Base(FakeTonicBase):
        def ttsc__go(self):
            pass

        def ttsc_idle__go(self):
            pass

        def ttse__hook(self):
            pass

    class Sub(Base):
        def ttsc__go(self):
            pass

        def ttse_busy__hook(self):
            pass

    base_go, base_idle_go = Base.__dict__["ttsc__go"], Base.__dict__["ttsc_idle__go"]
    base_hook = Base.__dict__["ttse__hook"]
    sub_go, sub_busy_hook = Sub.__dict__["ttsc__go"], Sub.__dict__["ttse_busy__hook"]
    base_entries = build(tw, Base, ("idle", "busy"))
    sub_entries = build(tw, Sub, ("idle", "busy"))
    assert base_entries["ttsc__go"].table == (base_go, base_idle_go, base_go, None)
    assert sub_entries["ttsc__go"].table == (sub_go, base_idle_go, sub_go, None)
    assert sub_entries["ttse__hook"].table == (base_hook, base_hook, sub_busy_hook, None)
    assert sub_entries["ttsc__go"] is not base_entries["ttsc__go"]


# == the installed sparkle methods ===========================================================

def test_installed_methods_are_described(tw):
    class Worker(FakeTonicBase):
        def ttsc__go(self, n):
            """Go generically."""

        def ttsc_busy__go(self, n):
            """Go while busy."""

        def ttse_idle__ping(self):
            """Only when idle."""

    originals = dict(Worker.__dict__)
    entries = build(tw, Worker, ("idle", "busy"))
    for attr, original in [("ttsc__go", originals["ttsc__go"]),
                           ("ttsc_busy__go", originals["ttsc_busy__go"]),
                           ("ttse_idle__ping", originals["ttse_idle__ping"]),
                           ("ttse__ping", None)]:
        method = Worker.__dict__[attr]
        name = tw.dispatch.parse_sparkle_name(attr)
        generic = f"{name[0]}__{name[2]}"
        assert method.__name__ == generic, attr
        assert method.__qualname__ == f"{Worker.__qualname__}.{generic}", attr
        assert method.__doc__ == (original.__doc__ if original is not None else None), attr
        assert method.__wrapped__ is original, attr
        assert method._tt_sparkle_method is True, attr
        assert callable(method)
    loop = new_loop(tw)
    w = Worker(loop)
    bound = w.ttsc__go
    assert bound.__self__ is w and bound.__func__ is Worker.__dict__["ttsc__go"]
    assert bound.__func__._tt_sparkle_method and bound.__func__.__name__ == "ttsc__go"
    assert entries["ttsc__go"].name == "ttsc__go"


def test_a_sparkle_method_behaves_as_a_function_in_both_twins(tw):
    """Called without its tonic it raises the error a function would; it can be weakly
    referenced (the pure twin's method is a plain function)."""
    class Worker(FakeTonicBase):
        def ttsc__go(self, n):
            pass

    build(tw, Worker)
    method = Worker.__dict__["ttsc__go"]
    for call in (lambda: Worker.ttsc__go(), lambda: method.__call__()):
        with pytest.raises(TypeError) as caught:
            call()
        assert str(caught.value) == (f"{Worker.__qualname__}.ttsc__go() missing 1 required "
                                     "positional argument: 'self'")
    assert weakref.ref(method)() is method


def test_a_call_on_the_loops_own_thread_queues_without_copying(tw):
    ran = []

    class Worker(FakeTonicBase):
        def ttsc__go(self, data, *, key=None):
            ran.append((data, key))
            return "result"

    entries = build(tw, Worker)
    threadsafe = []

    class Watched(tw.loop.SparkleLoop):
        def push_threadsafe(self, *order):
            threadsafe.append(order)
            super().push_threadsafe(*order)

    loop = Watched(lambda tonic, entry, exc: None)
    loop.thread_id = threading.get_ident()
    w = Worker(loop, "w")
    data, key = [1], {"k": [2]}
    assert w.ttsc__go(data, key=key) is None           # queued, not run
    assert w.ttsc__go(data) is None
    assert Worker.ttsc__go(w, data) is None            # through the class: queued all the same
    assert ran == [] and len(loop) == 3 and threadsafe == []
    orders = loop.drain()
    assert orders == [(w, entries["ttsc__go"], (data,), {"key": key}),
                      (w, entries["ttsc__go"], (data,), {}),
                      (w, entries["ttsc__go"], (data,), {})]
    assert orders[0].args[0] is data and orders[0].kwargs["key"] is key   # no copy
    for order in orders:
        loop.push(tuple(order))
    run_all(loop)
    assert ran == [(data, key), (data, None), (data, None)]
    assert ran[0][0] is data


def test_a_call_from_another_thread_copies_and_uses_push_threadsafe(tw):
    ran = []

    class Worker(FakeTonicBase):
        def ttsc__go(self, data, *, key=None):
            ran.append((data, key))

    entries = build(tw, Worker)
    threadsafe = []

    class Watched(tw.loop.SparkleLoop):
        def push_threadsafe(self, tonic, entry, args, kwargs):
            threadsafe.append((tonic, entry))
            super().push_threadsafe(tonic, entry, args, kwargs)

    loop = Watched(lambda tonic, entry, exc: None)
    loop.thread_id = threading.get_ident()   # owned by this thread: the sender is another one
    w = Worker(loop, "w")
    data, key = {"items": [1]}, [Payload(2)]
    sender = Background(lambda: w.ttsc__go(data, key=key))
    assert sender.finished() and sender.error is None, sender.error
    assert sender.result is None
    assert threadsafe == [(w, entries["ttsc__go"])]
    assert len(loop) == 1 and ran == []
    data["items"].append("after the call")
    run_all(loop)
    (got, got_key), = ran
    assert got == {"items": [1]} and got is not data
    assert got_key == [Payload(2)] and got_key is not key and got_key[0] is not key[0]


def test_a_call_from_another_thread_wakes_the_running_loop(tw):
    ran = []

    class Worker(FakeTonicBase):
        def ttsc__go(self, data):
            ran.append(data)
            self.ttsc__stop()            # on the loop's own thread: a plain push

        def ttsc__stop(self):
            ran.append("stop")
            self._tt_loop.stop()

    build(tw, Worker)
    loop = new_loop(tw, own_thread=False)
    w = Worker(loop)
    runner = Background(loop.run)
    try:
        w.ttsc__go([1])                  # this thread is not the loop's
        assert runner.finished(), "the call from another thread did not wake the loop"
    finally:
        loop.stop()
    assert runner.error is None, runner.error
    assert ran == [[1], "stop"]


def test_a_call_on_a_closed_loop_is_dropped_from_any_thread(tw, caplog):
    caplog.set_level(logging.DEBUG, logger="tasktonic")
    ran = []

    class Worker(FakeTonicBase):
        def ttsc__go(self, n):
            ran.append(n)

    build(tw, Worker)
    loop = new_loop(tw)                  # owned by this thread, then closed
    w = Worker(loop, "w")
    loop.close()
    w.ttsc__go(1)
    sender = Background(lambda: w.ttsc__go(2))
    assert sender.finished() and sender.error is None, sender.error
    finished = Worker(tw.loop.FINISHED_LOOP, "f")
    finished.ttsc__go(3)
    assert len(loop) == 0 and len(tw.loop.FINISHED_LOOP) == 0
    run_all(loop)
    assert ran == []
    lines = [r.getMessage() for r in caplog.records
             if r.name == "tasktonic" and r.levelno == logging.DEBUG]
    assert lines == [f"dropped ttsc__go for finished tonic {w!r}"] * 2 + [
        f"dropped ttsc__go for finished tonic {finished!r}"]


def test_super_and_explicit_base_calls_run_at_once(tw):
    log = []

    class Parent(FakeTonicBase):
        def ttse__hook(self, x):
            log.append(("parent", x, self._tt_loop.current_tonic is self))
            return f"parent {x}"

        def ttse_idle__hook(self, x):
            log.append(("parent idle", x))
            return f"parent idle {x}"

    class Child(Parent):
        def ttse__hook(self, x):
            log.append(("child", x))
            log.append(("super returned", super().ttse__hook(x)))
            log.append(("base returned", Parent.ttse__hook(self, x + 1)))

    build(tw, Parent, ("idle",))
    child_entries = build(tw, Child, ("idle",))
    loop = new_loop(tw)
    c = Child(loop, "c")
    c.ttse__hook(1)
    assert log == [] and len(loop) == 1
    run_all(loop)
    assert log == [("child", 1), ("parent", 1, True), ("super returned", "parent 1"),
                   ("parent", 2, True), ("base returned", "parent 2")]
    assert len(loop) == 0                # nothing more was queued
    # call_now routes by the active state name, as the queued call routes by its index
    log.clear()
    c.enter("idle")
    assert Parent.ttse__hook(c, 5) == "parent idle 5"
    assert log == [("parent idle", 5)] and len(loop) == 0
    assert child_entries["ttse__hook"].call_now(c, (6,), {}) == "parent idle 6"


def test_state_only_handlers_are_callable_by_their_generic_name(tw, caplog):
    caplog.set_level(logging.DEBUG, logger="tasktonic")
    ran = []

    class Pinger(FakeTonicBase):
        def ttse_idle__ping(self, n):
            ran.append(("idle", n))

        def ttse_busy__ping(self, n):
            ran.append(("busy", n))

    entries = build(tw, Pinger, ("idle", "busy"))
    assert Pinger.__dict__["ttse__ping"]._tt_sparkle_method
    loop = new_loop(tw)
    p = Pinger(loop)
    p.ttse__ping(0)                      # no active state: no handler, nothing runs
    p.enter("idle")
    p.ttse__ping(1)
    p.enter("busy")
    p.ttse_idle__ping(2)                 # a state's name queues the sparkle: routed when run
    assert len(loop) == 3 and ran == []
    orders = loop.drain()
    assert [o.sparkle for o in orders] == [entries["ttse__ping"]] * 3
    for state, order in zip([None, "idle", "busy"], orders):   # run each in its state
        p.enter(state)
        loop.push(tuple(order))
        run_all(loop)
    assert ran == [("idle", 1), ("busy", 2)]
    assert not [r for r in caplog.records if r.name == "tasktonic"]   # skipped silently


def test_methods_take_the_tonic_first(tw):
    class Worker(FakeTonicBase):
        def ttsc__go(self):
            pass

    build(tw, Worker)
    with pytest.raises(TypeError):
        Worker.__dict__["ttsc__go"]()


def test_either_dispatch_twin_queues_on_either_loop_twin(tw):
    """Dispatch reads the loop through its contract: another twin's loop works too."""
    other_kind = "pure" if tw.loop.__name__.startswith("tasktonic._core") else "compiled"
    other_loop = twin(other_kind, "loop")
    ran = []

    class Worker(FakeTonicBase):
        def ttsc__go(self, data):
            ran.append(data)

    build(tw, Worker)
    loop = other_loop.SparkleLoop(lambda tonic, entry, exc: None)
    loop.thread_id = threading.get_ident()
    w = Worker(loop)
    data = [1]
    w.ttsc__go(data)                     # own thread: no copy
    sender = Background(lambda: w.ttsc__go(data))
    assert sender.finished() and sender.error is None, sender.error
    assert len(loop) == 2
    run_all(loop)
    assert ran == [[1], [1]] and ran[0] is data and ran[1] is not data


def test_a_tonic_without_a_loop_fails_alike(tw):
    class Worker(FakeTonicBase):
        def ttsc__go(self):
            pass

    build(tw, Worker)
    w = Worker(None)
    with pytest.raises(AttributeError):
        w.ttsc__go()
