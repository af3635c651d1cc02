"""The hot-path twins: importable, switchable, and behaving like their specification."""
from __future__ import annotations

import copy
import importlib
import os
import random
import subprocess
import sys

import pytest

import tasktonic
from tasktonic._pure import copy as pure_copy, timerheap as pure_timerheap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def twins(name: str) -> list:
    """The pure module, plus the compiled one when it is built."""
    modules = [importlib.import_module(f"tasktonic._pure.{name}")]
    try:
        modules.append(importlib.import_module(f"tasktonic._core.{name}"))
    except ImportError:
        pass
    return modules


def test_pure_twins_are_always_importable():
    for name in ("copy", "dispatch", "loop", "timerheap"):
        module = importlib.import_module(f"tasktonic._pure.{name}")
        assert module.__doc__, f"tasktonic._pure.{name} has no docstring"
    assert callable(pure_copy.copy_call)
    assert callable(pure_timerheap.TimerHeap)


def test_implementation_is_reported():
    assert tasktonic.implementation in ("compiled", "pure")


def implementation_with(env_update: dict) -> str:
    env = dict(os.environ)
    env.pop("TASKTONIC_REQUIRE_EXTENSIONS", None)
    env.update(env_update)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-c",
                             "import tasktonic; print(tasktonic.implementation)"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_no_extensions_env_selects_pure():
    assert implementation_with({"TASKTONIC_NO_EXTENSIONS": "1"}) == "pure"


def test_require_and_no_extensions_together_is_an_import_error():
    env = dict(os.environ, TASKTONIC_NO_EXTENSIONS="1", TASKTONIC_REQUIRE_EXTENSIONS="1")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-c", "import tasktonic"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "ImportError" in result.stderr


# -- the argument copier -----------------------------------------------------------------

class Point:
    def __init__(self, x, y, tags):
        self.x, self.y, self.tags = x, y, tags


def assert_same_shape(a, b, original, pairs=None):
    """``a`` and ``b`` are equal copies of ``original`` with the same sharing pattern."""
    if pairs is None:
        pairs = {}
    if id(a) in pairs:
        assert pairs[id(a)] is b, "sharing differs"
        return
    pairs[id(a)] = b
    assert type(a) is type(b) is type(original)
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b) == len(original)
        if isinstance(a, list):
            assert a is not original
        for x, y, o in zip(a, b, original):
            assert_same_shape(x, y, o, pairs)
    elif isinstance(a, dict):
        assert a is not original
        assert list(a) == list(b) == list(original)
        for key in a:
            assert_same_shape(a[key], b[key], original[key], pairs)
    elif isinstance(a, (set, frozenset)):
        assert a == b == original
        if isinstance(a, set):
            assert a is not original
    elif isinstance(a, Point):
        assert a is not original
        assert_same_shape(vars(a), vars(b), vars(original), pairs)
    else:
        assert a == b == original


def payloads():
    shared = [1, 2]
    cyclic = ["head"]
    cyclic.append(cyclic)
    looped = {"name": "loop"}
    looped["self"] = looped
    point = Point(1, 2.5, ["a", shared])
    tuple_cycle = ([],)
    tuple_cycle[0].append(tuple_cycle)
    return [
        {"a": [1, 2, {"b": (3, 4, [5])}], "c": {6, 7}, "d": frozenset({8}), "e": None},
        [shared, shared, (shared, "x"), {"again": shared}],
        cyclic,
        looped,
        (1, "two", 3.0, b"four", None, True),
        (1, [2]),
        point,
        [point, point, {"p": point}],
        {"bytes": bytearray(b"xyz"), "nested": [[[]]]},
        tuple_cycle,
        [tuple_cycle, tuple_cycle[0]],
    ]


@pytest.mark.parametrize("module", twins("copy"), ids=lambda m: m.__name__)
@pytest.mark.parametrize("index", range(len(payloads())))
def test_copy_value_matches_deepcopy(module, index):
    original = payloads()[index]
    ours = module.copy_value(original)
    reference = copy.deepcopy(original)
    assert_same_shape(ours, reference, original)


@pytest.mark.parametrize("module", twins("copy"), ids=lambda m: m.__name__)
def test_copy_call_shares_one_memo_and_keeps_immutables(module):
    shared = {"k": [1]}
    flat = (1, "a", None)

    def function():
        return 1

    args, kwargs = module.copy_call((shared, flat, function), {"same": shared, "s": "text"})
    assert args[0] is not shared and args[0] == shared
    assert kwargs["same"] is args[0]
    assert args[1] is flat            # nothing inside needed copying
    assert args[2] is function        # callables pass by reference
    assert kwargs["s"] == "text"


# -- the timer heap ----------------------------------------------------------------------

class Model:
    """What a timer heap must do, written the slow and obvious way."""

    def __init__(self):
        self.live = {}   # handle key -> (deadline, sequence, timer)
        self.sequence = 0

    def push(self, key, deadline, timer):
        self.sequence += 1
        self.live[key] = (deadline, self.sequence, timer)

    def cancel(self, key):
        self.live.pop(key, None)

    def next_deadline(self):
        return min((v[0] for v in self.live.values()), default=None)

    def pop_due(self, now):
        due = sorted((v for v in self.live.values() if v[0] <= now), key=lambda v: v[:2])
        for key in [k for k, v in self.live.items() if v[0] <= now]:
            del self.live[key]
        return [v[2] for v in due]


@pytest.mark.parametrize("module", twins("timerheap"), ids=lambda m: m.__name__)
@pytest.mark.parametrize("seed", range(20))
def test_timer_heap_against_a_model(module, seed):
    rng = random.Random(seed)
    heap, model = module.TimerHeap(), Model()
    handles = {}
    now = 0.0
    for step in range(600):
        action = rng.random()
        if action < 0.5:
            key = step
            deadline = now + rng.choice([0.0, 0.5, 1.0, rng.uniform(0, 20)])
            timer = ("timer", step)
            handles[key] = heap.push(deadline, timer)
            model.push(key, deadline, timer)
        elif action < 0.8 and handles:
            key = rng.choice(list(handles))
            heap.cancel(handles[key])
            heap.cancel(handles[key])  # twice is harmless
            model.cancel(key)
        else:
            now += rng.uniform(0, 3)
            assert heap.pop_due(now) == model.pop_due(now)
        assert len(heap) == len(model.live)
        assert heap.next_deadline() == model.next_deadline()
    assert heap.pop_due(float("inf")) == model.pop_due(float("inf"))
    assert len(heap) == 0 and heap.next_deadline() is None


@pytest.mark.parametrize("module", twins("timerheap"), ids=lambda m: m.__name__)
def test_timer_heap_compaction_keeps_order(module):
    rng = random.Random(1234)
    heap = module.TimerHeap()
    entries = []
    for n in range(400):
        deadline = rng.uniform(0, 100)
        entries.append((deadline, n, heap.push(deadline, ("t", n))))
    cancelled = set(rng.sample(range(400), 300))  # far past the compaction threshold
    for n in sorted(cancelled):
        heap.cancel(entries[n][2])
    assert len(heap) == 100
    expected = [("t", n) for deadline, n, _ in sorted(entries) if n not in cancelled]
    due = heap.pop_due(50.0) + heap.pop_due(100.0)
    assert due == expected
    # cancelling a handle that fired does nothing
    heap.cancel(entries[expected[0][1]][2])
    assert len(heap) == 0


@pytest.mark.parametrize("module", twins("timerheap"), ids=lambda m: m.__name__)
def test_equal_deadlines_fire_in_start_order(module):
    heap = module.TimerHeap()
    for n in range(10):
        heap.push(5.0, n)
    assert heap.pop_due(4.999) == []
    assert heap.pop_due(5.0) == list(range(10))
