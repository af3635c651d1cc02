"""Parity of the compiled twins with the pure ones: same answers on random inputs, same API.

Each test takes the compiled module from ``tasktonic._core`` and its pure twin from
``tasktonic._pure`` in one process (the pure twins are always importable). When the compiled
core is not built the tests skip, unless ``TASKTONIC_REQUIRE_EXTENSIONS`` is set: then they fail.
"""
from __future__ import annotations

import copy as _copy
import importlib
import inspect
import math
import random
import re
import sys
from functools import partial
from types import ModuleType
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tasktonic._pure import copy as pure_copy, timerheap as pure_timerheap
from tasktonic.shared import ttShared
from tests.conftest import twin

#: The twins whose compiled module this file compares (loop and dispatch come with their own).
TWIN_MODULES = ["copy", "dispatch", "loop", "timerheap"]

# The autouse ``clean_ledger`` fixture of conftest.py is function-scoped; these tests never
# touch the ledger, so running it once per test rather than once per example is right.
PROPERTY = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def compiled_twin(name: str) -> ModuleType:
    """``tasktonic._core.<name>``; skip when it is not built, fail when it is required."""
    return twin("compiled", name)


@pytest.fixture(scope="module")
def ccopy() -> ModuleType:
    return compiled_twin("copy")


@pytest.fixture(scope="module")
def cheap() -> ModuleType:
    return compiled_twin("timerheap")


# == same public API, signatures and docstrings (cytoolz test_embedded_sigs style) ========

def _clean(doc: str | None) -> str | None:
    """A docstring as ``inspect.cleandoc`` leaves it.

    CPython 3.13 strips the common indentation of the docstrings it compiles; Cython keeps
    them as written. Cleaned, the docstrings of both twins compare on every version.
    """
    return None if doc is None else inspect.cleandoc(doc)


def _doc_parts(doc: str | None) -> tuple[str, str]:
    """A module docstring as (title without its "(... twin of ...)" note, the rest)."""
    assert doc, "missing module docstring"
    title, _, rest = _clean(doc).partition("\n")
    return re.sub(r"\s*\((pure|compiled) twin of [^)]*\)", "", title), rest


def _parameters(func: Any) -> list[tuple[str, Any, Any]]:
    """Names, kinds and defaults of a callable's parameters (annotations differ by design)."""
    return [(p.name, p.kind, _comparable(p.default))
            for p in inspect.signature(func).parameters.values()]


def _comparable(value: Any) -> Any:
    """Twin-specific objects (each twin's own class, each twin's own instance) by their kind."""
    if isinstance(value, (type(None), bool, int, float, str, bytes, tuple, frozenset)):
        return value
    if inspect.isclass(value):
        return ("class", value.__qualname__)
    return ("instance of", type(value).__qualname__)


def _public_methods(cls: type) -> list[str]:
    return sorted(name for name in dir(cls)
                  if not name.startswith("_") and callable(getattr(cls, name)))


def assert_same_api(names: list[str]) -> None:
    for name in names:
        pure = importlib.import_module(f"tasktonic._pure.{name}")
        compiled = compiled_twin(name)
        assert compiled.__all__ == pure.__all__, name
        assert _doc_parts(compiled.__doc__) == _doc_parts(pure.__doc__), (
            f"{name}: the module docstrings (the contract) differ")
        for public in pure.__all__:
            p_obj, c_obj = getattr(pure, public), getattr(compiled, public)
            where = f"{name}.{public}"
            if not callable(p_obj):  # a constant: dispatch.PREFIXES, loop.FINISHED_LOOP
                assert _comparable(c_obj) == _comparable(p_obj), where
                continue
            assert _clean(c_obj.__doc__) == _clean(p_obj.__doc__), f"{where}: docstrings differ"
            if inspect.isclass(p_obj):
                assert inspect.isclass(c_obj), where
                methods = _public_methods(p_obj)
                assert _public_methods(c_obj) == methods, f"{where}: public methods differ"
                for method in methods:
                    p_meth, c_meth = getattr(p_obj, method), getattr(c_obj, method)
                    assert _clean(c_meth.__doc__) == _clean(p_meth.__doc__), (
                        f"{where}.{method}: docstrings")
                    assert _parameters(c_meth) == _parameters(p_meth), f"{where}.{method}"
                assert hasattr(c_obj, "__len__") == hasattr(p_obj, "__len__"), where
            else:
                assert _parameters(c_obj) == _parameters(p_obj), f"{where}: signatures differ"


@pytest.mark.parametrize("name", TWIN_MODULES)
def test_same_names_signatures_and_docstrings(name):
    assert_same_api([name])


def test_same_atomic_types(ccopy):
    assert ccopy._ATOMIC == pure_copy._ATOMIC


# == the copier ==============================================================================

class Point:
    """A plain class: both copiers hand it to ``copy.deepcopy`` with their memo."""

    def __init__(self, x: Any, items: list) -> None:
        self.x = x
        self.items = items


class Spy:
    """A ``__deepcopy__`` that copies its reference with the memo it is given, and records
    what that memo held at that moment (keys in order, the keep-alive list)."""

    log: list | None = None

    def __init__(self, ref: Any) -> None:
        self.ref = ref

    def __deepcopy__(self, memo: dict) -> Spy:
        if Spy.log is not None:
            Spy.log.append((id(memo), list(memo), [id(o) for o in memo.get(id(memo), [])]))
        return Spy(_copy.deepcopy(self.ref, memo))


class Marker:
    """Not callable, passed by reference because its type says so."""

    _tt_by_reference = True


class Action:
    """A callable instance: passed by reference."""

    def __call__(self) -> int:
        return 1


def function(x: Any) -> Any:
    return x


BY_REFERENCE = [function, lambda: 0, Action(), Marker(), ttShared([1, 2, 3]), print, Point]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6),
    st.binary(max_size=6), st.complex_numbers(max_magnitude=1e9),
    st.sampled_from([Ellipsis, NotImplemented, range(3)]),
)
hashables = st.recursive(
    scalars | st.sampled_from([function, BY_REFERENCE[4]]),
    lambda inner: st.lists(inner, max_size=3).map(tuple) | st.frozensets(inner, max_size=3),
    max_leaves=6)


def _containers(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=4), children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.sets(hashables, max_size=4),
        st.frozensets(hashables, max_size=4),
        st.builds(Point, children, st.lists(children, max_size=3)),
        st.builds(Spy, children),
    )


trees = st.recursive(scalars | st.sampled_from(BY_REFERENCE), _containers, max_leaves=25)


def _nodes(root: Any) -> list:
    """Every distinct object reachable from ``root`` through the containers we build."""
    seen: dict[int, Any] = {}
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen[id(obj)] = obj
        cls = type(obj)
        if cls in (list, tuple, set, frozenset):
            stack.extend(obj)
        elif cls is dict:
            stack.extend(obj.values())
        elif cls is Point:
            stack.extend((obj.x, obj.items))
        elif cls is Spy:
            stack.append(obj.ref)
    return list(seen.values())


@st.composite
def payloads(draw: Any) -> Any:
    """A random tree, then shared references and (often) a cycle injected into it."""
    root = draw(trees)
    nodes = _nodes(root)
    targets = [n for n in nodes if type(n) in (list, dict)]
    if not targets:
        return root
    for _ in range(draw(st.integers(0, 4))):       # shared sub-objects (cycles too, by chance)
        target = draw(st.sampled_from(targets))
        ref = draw(st.sampled_from(nodes))
        if type(target) is list:
            target.append(ref)
        else:
            target[draw(st.text(max_size=3))] = ref
    if draw(st.booleans()):                        # a sure cycle back to the root
        target = draw(st.sampled_from(targets))
        if type(target) is list:
            target.insert(draw(st.integers(0, len(target))), root)
        else:
            target["cycle"] = root
    return root


def _inside_fallbacks(root: Any) -> set:
    """Ids of the objects reachable from a Point or a Spy (copied by ``copy.deepcopy``)."""
    ids: set = set()
    for node in _nodes(root):
        if type(node) in (Point, Spy):
            ids.update(id(n) for n in _nodes(node) if n is not node)
    return ids


def assert_same_copies(original: Any, a: Any, b: Any) -> None:
    """``a`` (pure) and ``b`` (compiled) copy ``original`` alike.

    Parity: same types, same values, the same identity shape (a one-to-one map between the
    objects of ``a`` and those of ``b``), each object kept or copied by both. Rules: atomic
    values and objects passed by reference are kept, mutable containers are new, and one
    container of the input is one container in the output.
    """
    pairs: dict[int, tuple] = {}      # id(pure object) -> (compiled object, original)
    reverse: dict[int, Any] = {}      # id(compiled object) -> pure object
    copies: dict[int, Any] = {}       # id(original mutable container) -> its pure copy
    fallback_ids = _inside_fallbacks(original)
    stack = [(original, a, b, False)]
    while stack:
        o, x, y, in_fallback = stack.pop()
        cls = type(o)
        assert type(x) is cls and type(y) is cls, (cls, type(x), type(y))
        assert (x is o) == (y is o), f"{cls.__name__}: one twin kept it, the other copied it"
        if id(x) in pairs or id(y) in reverse:
            assert id(x) in pairs and pairs[id(x)][0] is y and reverse[id(y)] is x, (
                f"sharing of a {cls.__name__} differs")
            assert pairs[id(x)][1] is o, f"two {cls.__name__} objects became one"
            continue
        pairs[id(x)] = (y, o)
        reverse[id(y)] = x
        # The rules hold outside the parts copied by copy.deepcopy (inside a Point or a Spy).
        # An object that is also reachable from there may have been copied there, and the
        # shared memo then hands that copy out everywhere: both twins do so.
        strict = not in_fallback and id(o) not in fallback_ids
        touched = strict and cls in (set, frozenset) and any(
            id(n) in fallback_ids for n in _nodes(o))
        if cls in pure_copy._ATOMIC:
            assert x is o and y is o
        elif cls in (list, dict, set):
            assert x is not o and y is not o
            assert copies.setdefault(id(o), x) is x, f"one {cls.__name__} copied twice"
            if cls is dict:
                assert list(x) == list(o) == list(y)
                stack.extend((o[k], x[k], y[k], in_fallback) for k in o)
            elif cls is list:
                assert len(x) == len(o) == len(y)
                stack.extend((p, q, r, in_fallback) for p, q, r in zip(o, x, y))
            elif strict and not touched:
                # hashable immutables: the same objects
                assert {id(v) for v in x} == {id(v) for v in o} == {id(v) for v in y}
            else:
                assert len(x) == len(o) == len(y)
        elif cls is tuple:
            assert len(x) == len(o) == len(y)
            stack.extend((p, q, r, in_fallback) for p, q, r in zip(o, x, y))
        elif cls is frozenset:
            assert len(x) == len(o) == len(y)
            if strict and not touched:
                assert x is o
        elif cls is Point:
            assert x is not o
            stack.append((o.x, x.x, y.x, True))
            stack.append((o.items, x.items, y.items, True))
        elif cls is Spy:
            assert x is not o
            stack.append((o.ref, x.ref, y.ref, True))
        elif strict:                                # tonics, ttShared, callables
            assert x is o and y is o, f"{cls.__name__} must pass by reference"


def _memo_view(log: list, known: set) -> list:
    """The Spy log with the memo's own id normalised and temporaries of copy.deepcopy
    (objects not in the payload, such as the list a set's ``__reduce__`` builds) left out.

    ``known`` must hold the ids of objects alive during the whole copy (take them before the
    copy, from roots kept alive): a temporary of copy.deepcopy dies with the memo, and an
    object made after the copy may get its address, hence its id.
    """
    view = []
    for memo_id, keys, keep in log:
        view.append((sorted(k for k in keys if k in known), sorted(k for k in keep if k in known),
                     memo_id in keys))
    return view


def _run_twins(func_name: str, ccopy: ModuleType, *args: Any) -> tuple:
    results, logs = [], []
    for module in (pure_copy, ccopy):
        Spy.log = []
        try:
            results.append(getattr(module, func_name)(*args))
        finally:
            logs.append(Spy.log)
            Spy.log = None
    return results[0], results[1], logs


@PROPERTY
@given(payload=payloads())
def test_copy_value_parity(ccopy, payload):
    a, b, (log_a, log_b) = _run_twins("copy_value", ccopy, payload)
    assert_same_copies(payload, a, b)
    known = {id(n) for n in _nodes(payload)}
    assert _memo_view(log_a, known) == _memo_view(log_b, known)


@PROPERTY
@given(args=st.lists(payloads(), max_size=3),
       kwargs=st.dictionaries(st.text(max_size=5), payloads(), max_size=3),
       share=st.booleans())
def test_copy_call_parity(ccopy, args, kwargs, share):
    if share and args and kwargs:                  # one object in args and in kwargs
        kwargs[next(iter(kwargs))] = args[0]
    args = tuple(args)
    roots = [args, kwargs]               # a local: alive until the end (see _memo_view)
    known = {id(n) for n in _nodes(roots)}
    (a_args, a_kwargs), (b_args, b_kwargs), (log_a, log_b) = _run_twins(
        "copy_call", ccopy, args, kwargs)
    assert type(b_args) is tuple and type(b_kwargs) is dict
    assert (a_args is args) == (b_args is args)
    assert (a_kwargs is kwargs) == (b_kwargs is kwargs)
    assert list(a_kwargs) == list(kwargs) == list(b_kwargs)
    # args and kwargs share one memo: compare all their values as one structure
    assert_same_copies([*args, *kwargs.values()], [*a_args, *a_kwargs.values()],
                       [*b_args, *b_kwargs.values()])
    assert _memo_view(log_a, known) == _memo_view(log_b, known)


@pytest.mark.parametrize("twin", ["pure", "compiled"])
def test_deepcopy_hooks_get_the_shared_memo(ccopy, twin):
    module = pure_copy if twin == "pure" else ccopy
    shared = [1, [2]]
    Spy.log = []
    try:
        args, kwargs = module.copy_call((shared,), {"spy": Spy(shared), "again": Spy(shared)})
        log = Spy.log
    finally:
        Spy.log = None
    assert kwargs["spy"].ref is args[0] is kwargs["again"].ref
    assert args[0] is not shared and args[0] == shared
    assert len(log) == 2 and log[0][0] == log[1][0], "one memo for the whole call"
    memo_id, keys, keep = log[0]
    # copy.deepcopy's format: memo[id(original)] = copy, keep-alive list at memo[id(memo)]
    assert id(shared) in keys and memo_id in keys
    assert id(shared) in keep and id(shared[1]) in keep


@pytest.mark.parametrize("twin", ["pure", "compiled"])
def test_copy_value_fills_a_given_memo_like_deepcopy(ccopy, twin):
    module = pure_copy if twin == "pure" else ccopy
    inner = [1]
    payload = {"a": inner, "b": (inner,), "c": {3}}
    memo: dict = {}
    result = module.copy_value(payload, memo)
    assert memo[id(payload)] is result
    assert memo[id(inner)] is result["a"] is result["b"][0]
    assert memo[id(payload["b"])] is result["b"]
    assert memo[id(payload["c"])] is result["c"]
    assert [id(o) for o in memo[id(memo)]] == [id(payload), id(inner), id(payload["b"]),
                                              id(payload["c"])]
    # and a second call with that memo returns the same copies
    assert module.copy_value(payload, memo) is result
    assert module.copy_value(inner, memo) is result["a"]


def test_dict_values_are_copied_before_their_keys(ccopy):
    """``result[key] = value`` in the pure twin copies the value first: with keys that need
    copying (hashable objects going to ``copy.deepcopy``) the order shows in the memo."""
    shared = [1]
    key_spy, value_spy = Spy(shared), Spy([2, shared])
    payload = {key_spy: value_spy, "plain": shared}
    roots = [payload, key_spy]           # a local: alive until the end (see _memo_view)
    known = {id(n) for n in _nodes(roots)}
    logs = []
    for module in (pure_copy, ccopy):
        Spy.log = []
        try:
            result = module.copy_value(payload)
            logs.append(Spy.log)
        finally:
            Spy.log = None
        ((new_key, new_value),) = [(k, v) for k, v in result.items() if k != "plain"]
        assert new_key.ref is result["plain"] is new_value.ref[1]
    assert _memo_view(logs[0], known) == _memo_view(logs[1], known)
    assert len(logs[0]) == 2 and len(logs[0][0][1]) < len(logs[0][1][1])


def test_copier_errors_match(ccopy):
    class Refuses:
        def __deepcopy__(self, memo):
            raise ValueError("no copies")

    for payload in ([1, Refuses()], {"k": (1, [Refuses()])}):
        errors = []
        for module in (pure_copy, ccopy):
            with pytest.raises(ValueError, match="no copies") as info:
                module.copy_call((payload,), {})
            errors.append(type(info.value))
        assert errors[0] is errors[1]


def test_copier_mutation_during_copy_raises_alike(ccopy):
    class Grows:
        def __init__(self, target):
            self.target = target

        def __deepcopy__(self, memo):
            self.target["new"] = 1
            return self

    for module in (pure_copy, ccopy):
        target: dict = {}
        target["g"] = Grows(target)
        target["z"] = 0
        with pytest.raises(RuntimeError, match="changed size during iteration"):
            module.copy_value(target)


def test_copier_exotic_inputs_match(ccopy):
    class Args(tuple):
        pass

    class Kwargs(dict):
        pass

    for args, kwargs in ((Args((1, [2])), Kwargs(a=[3])), (Args((1,)), {}), (None, None), ((), {})):
        a = pure_copy.copy_call(args, kwargs)
        b = ccopy.copy_call(args, kwargs)
        assert a == b and [type(x) for x in a] == [type(x) for x in b]


def test_deep_nesting_raises_recursion_error_not_a_crash(ccopy):
    deep: list = []
    for _ in range(200_000):
        deep = [deep]
    with pytest.raises(RecursionError):
        ccopy.copy_value(deep)


# == nesting depth ===========================================================================
# The contract (module docstring of tasktonic/_pure/copy.py): an argument is level 1, what a
# container holds is one level deeper, and any non-atomic value deeper than MAX_DEPTH raises
# RecursionError with the message below, in both twins, whatever the interpreter's stack.

MAX_DEPTH = pure_copy.MAX_DEPTH
TOO_DEEP = (f"tasktonic copier: the argument is nested deeper than {MAX_DEPTH} levels "
            "(MAX_DEPTH)")

#: How each kind of container wraps a value in one more level.
WRAP = {
    "list": lambda x: [x],
    "tuple": lambda x: (x,),
    "dict": lambda x: {"k": x},
    "dict key": lambda x: {x: "v"},
    "set": lambda x: {x},
    "frozenset": lambda x: frozenset((x,)),
}
#: The kinds that need a hashable value inside, and the hashable kinds.
NEEDS_HASHABLE = ("dict key", "set", "frozenset")
HASHABLE = ("tuple", "frozenset")


def nest(kinds: list, leaf: Any) -> Any:
    """``leaf`` inside one container per kind, ``kinds[0]`` outermost."""
    value = leaf
    for kind in reversed(kinds):
        value = WRAP[kind](value)
    return value


def levels(kinds: list, leaf: Any) -> int:
    """Levels by the contract: one per container, one more for a leaf that is not atomic."""
    return len(kinds) + (type(leaf) not in pure_copy._ATOMIC)


def _mixed(n: int) -> list:
    return (["list", "dict", "tuple"] * n)[:n]


#: name -> (kinds, leaf) with ``depth`` levels in all.
CHAINS = {
    "tuple": lambda depth: (["tuple"] * depth, 0),                   # nothing to copy
    "tuple over a list": lambda depth: (["tuple"] * (depth - 1), [0]),  # every tuple rebuilt
    "list": lambda depth: (["list"] * depth, 0),
    "dict": lambda depth: (["dict"] * depth, 0),
    "frozenset": lambda depth: (["frozenset"] * depth, 0),
    "mixed, a set at the bottom": lambda depth: (
        _mixed(depth - 3) + ["set", "tuple", "frozenset"], 0),
    "mixed, a dict key at the bottom": lambda depth: (
        _mixed(depth - 3) + ["dict key", "frozenset", "tuple"], "leaf"),
    "mixed, a Point (copy.deepcopy) at the bottom": lambda depth: (
        _mixed(depth - 1), Point(1, [2, [3]])),
    "mixed, a Spy (__deepcopy__) at the bottom": lambda depth: (_mixed(depth - 1), Spy([4])),
    "lists, a function (by reference) at the bottom": lambda depth: (
        ["list"] * (depth - 1), function),
}

#: Ways a payload reaches the copier; it is at level 1 in each.
ENTRIES = {
    "copy_value": lambda module, payload: module.copy_value(payload),
    "copy_call args": lambda module, payload: module.copy_call((1, payload), {})[0][1],
    "copy_call kwargs": lambda module, payload: module.copy_call(
        (), {"n": 1, "payload": payload})[1]["payload"],
}


def _outcomes(ccopy: ModuleType, entry: str, payload: Any) -> list[tuple]:
    """What the pure twin, then the compiled one, make of ``payload``: ("copy", the copy, the
    Spy log) or ("error", type, message, the Spy log)."""
    outcomes = []
    for module in (pure_copy, ccopy):
        log: list = []
        Spy.log = log
        try:
            outcomes.append(("copy", ENTRIES[entry](module, payload), log))
        except RecursionError as exc:   # any other error fails the test here
            outcomes.append(("error", type(exc), str(exc), log))
        finally:
            Spy.log = None
    return outcomes


def _summary(outcome: tuple) -> str:
    if outcome[0] == "copy":
        return f"a copy ({len(outcome[2])} __deepcopy__ calls)"
    return f"{outcome[1].__name__}: {outcome[2]}"


def assert_depth_parity(ccopy: ModuleType, entry: str, payload: Any, depth: int) -> list:
    """Both twins copy ``payload`` alike when ``depth`` is within MAX_DEPTH, and raise the same
    RecursionError, without calling any ``__deepcopy__``, beyond it. Returns the outcomes."""
    pure, compiled = _outcomes(ccopy, entry, payload)
    seen = f"pure: {_summary(pure)}; compiled: {_summary(compiled)}"
    if depth <= MAX_DEPTH:
        assert pure[0] == compiled[0] == "copy", seen
        assert_same_copies(payload, pure[1], compiled[1])
        known = {id(n) for n in _nodes(payload)}
        assert _memo_view(pure[2], known) == _memo_view(compiled[2], known)
    else:
        assert pure[:3] == compiled[:3] == ("error", RecursionError, TOO_DEEP), seen
        assert pure[3] == compiled[3] == [], "a __deepcopy__ ran beyond MAX_DEPTH"
    return [pure, compiled]


def test_max_depth_is_the_documented_one(ccopy):
    assert ccopy.MAX_DEPTH == pure_copy.MAX_DEPTH == 100
    for module in (pure_copy, ccopy):
        assert f"``MAX_DEPTH`` ({MAX_DEPTH})" in module.__doc__
        assert f'RecursionError("{TOO_DEEP[:40]}' in " ".join(module.__doc__.split())


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("chain", CHAINS)
@pytest.mark.parametrize("extra", [0, 1], ids=["at MAX_DEPTH", "at MAX_DEPTH + 1"])
def test_nesting_at_and_beyond_max_depth(ccopy, chain, entry, extra):
    depth = MAX_DEPTH + extra
    kinds, leaf = CHAINS[chain](depth)
    assert levels(kinds, leaf) == depth
    payload = nest(kinds, leaf)
    pure, compiled = assert_depth_parity(ccopy, entry, payload, depth)
    if extra == 0 and not isinstance(leaf, (Point, Spy)):   # these compare by identity
        assert pure[1] == payload == compiled[1]


@st.composite
def nestings(draw: Any) -> tuple[Any, int]:
    """A random chain of containers around a random leaf, MAX_DEPTH +- 3 levels deep."""
    leaf = draw(st.sampled_from(["atomic", "list", "Point", "Spy", "function", "ttShared"]))
    leaf = {"atomic": 0, "list": [0], "Point": Point(1, [2]), "Spy": Spy([3]),
            "function": function, "ttShared": BY_REFERENCE[4]}[leaf]
    depth = draw(st.integers(MAX_DEPTH - 3, MAX_DEPTH + 3))
    hashable = type(leaf) in pure_copy._ATOMIC or leaf is function
    kinds: list = []
    for _ in range(depth - levels([], leaf)):     # inside out
        kind = draw(st.sampled_from(list(WRAP) if hashable else
                                    [k for k in WRAP if k not in NEEDS_HASHABLE]))
        hashable = hashable and kind in HASHABLE
        kinds.insert(0, kind)
    assert levels(kinds, leaf) == depth
    return nest(kinds, leaf), depth


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(nesting=nestings(), entry=st.sampled_from(list(ENTRIES)))
def test_nesting_parity_around_max_depth(ccopy, nesting, entry):
    payload, depth = nesting
    assert_depth_parity(ccopy, entry, payload, depth)


@pytest.mark.parametrize("extra", [0, 1], ids=["at MAX_DEPTH", "at MAX_DEPTH + 1"])
def test_a_copy_already_made_counts_at_its_level_too(ccopy, extra):
    shared = [0]                     # copied at level 2, met again at MAX_DEPTH + extra
    chain = ["list"] * (MAX_DEPTH + extra - 2)
    payload = [shared, nest(chain, shared)]
    assert 1 + levels(chain, shared) == MAX_DEPTH + extra
    for entry in ENTRIES:
        assert_depth_parity(ccopy, entry, payload, MAX_DEPTH + extra)


@pytest.mark.parametrize("extra", [0, 1], ids=["at MAX_DEPTH", "at MAX_DEPTH + 1"])
def test_a_cycle_counts_its_levels(ccopy, extra):
    root: list = []
    inner = root
    for _ in range(MAX_DEPTH + extra - 2):       # the list at level n + 1 ...
        inner.append([])
        inner = inner[0]
    inner.append(root)                           # ... and back to the root at the bottom
    for entry in ENTRIES:
        assert_depth_parity(ccopy, entry, root, MAX_DEPTH + extra)


def _stack_depth() -> int:
    """Python frames on the stack, this function's caller included."""
    frame, n = sys._getframe(1), 0
    while frame is not None:
        n += 1
        frame = frame.f_back
    return n


def _at_stack_depth(frames: int, func: Any) -> Any:
    """``func()`` called with ``frames`` Python frames (at least) on the stack."""
    def down(depth: int) -> Any:
        return down(depth + 1) if depth < frames else func()
    return down(_stack_depth())


class FrameProbe:
    """Copied by ``copy.deepcopy`` through its ``__deepcopy__``: records the stack depth."""

    depths: ClassVar[list] = []

    def __deepcopy__(self, memo: dict) -> FrameProbe:
        FrameProbe.depths.append(_stack_depth())
        return FrameProbe()


@pytest.mark.parametrize("chain", ["list", "tuple", "dict", "set", "frozenset", "mixed"])
def test_a_level_costs_at_most_one_python_frame(ccopy, chain):
    """The headroom the contract promises ``copy.deepcopy``: MAX_DEPTH levels take MAX_DEPTH
    Python frames at most (plus the entry point and ``copy.deepcopy`` itself)."""
    kinds = {"set": ["set"] + ["frozenset"] * (MAX_DEPTH - 2),
             "frozenset": ["frozenset"] * (MAX_DEPTH - 1),
             "mixed": _mixed(MAX_DEPTH - 4) + ["set", "tuple", "frozenset"]}.get(
                 chain, [chain] * (MAX_DEPTH - 1))
    payload = nest(kinds, FrameProbe())
    assert levels(kinds, FrameProbe()) == MAX_DEPTH
    for module in (pure_copy, ccopy):
        for entry, copy_through in ENTRIES.items():
            FrameProbe.depths = []
            start = _stack_depth()
            copy_through(module, payload)
            (at_fallback,) = FrameProbe.depths
            # a frame per level; the lambda of ENTRIES, the entry point, the args tuple of
            # copy_call (level 0), copy.deepcopy and __deepcopy__
            assert at_fallback - start <= MAX_DEPTH + 5, (module.__name__, entry)


def test_max_depth_from_200_frames_deep_under_the_default_limit(ccopy):
    """Both twins copy MAX_DEPTH levels from 200 frames deep with the default recursion limit
    of CPython (1000), a ``copy.deepcopy`` fallback at the bottom that recurses 250 levels
    itself included, and raise the same error one level deeper."""
    interior: list = []
    for _ in range(250):
        interior = [interior]
    kinds = _mixed(MAX_DEPTH - 4) + ["set", "tuple", "frozenset"]
    leaf = Point(0, [interior])             # hashable: it fits in the frozenset
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        for extra in (0, 1):
            payload = nest(["list"] * extra + kinds, leaf)
            depth = levels(["list"] * extra + kinds, leaf)
            assert depth == MAX_DEPTH + extra
            for entry in ENTRIES:
                _at_stack_depth(200, partial(assert_depth_parity, ccopy, entry, payload, depth))
    finally:
        sys.setrecursionlimit(limit)


def test_the_limit_does_not_follow_the_recursion_limit(ccopy):
    kinds = _mixed(MAX_DEPTH - 1)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        for extra in (0, 1):
            payload = nest(kinds + ["list"] * extra, [0])
            for entry in ENTRIES:
                assert_depth_parity(ccopy, entry, payload, MAX_DEPTH + extra)
    finally:
        sys.setrecursionlimit(limit)


def test_compiled_copier_with_the_stack_nearly_spent_fails_cleanly(ccopy):
    """With hardly any of the recursion limit left, the compiled twin either copies or raises
    RecursionError: Py_EnterRecursiveCall returns 1 (not -1) when it fails, and the copier once
    went on with the exception set (a SystemError later) and unbalanced the interpreter's
    recursion counter. Where the pure twin cannot even make its calls, the twins may differ
    (the contract's guarantee needs the headroom it states)."""
    payloads = [nest(["dict"] * MAX_DEPTH, 0), nest(["list"] * MAX_DEPTH, 0),
                nest(["tuple"] * (MAX_DEPTH - 1), [0]), nest(_mixed(MAX_DEPTH), "x")]

    def reachable() -> int:             # how deep Python recursion gets from here
        def down(n: int) -> int:
            try:
                return down(n + 1)
            except RecursionError:
                return n
        return down(0)

    def attempt(payload: Any) -> str:
        try:
            assert ccopy.copy_value(payload) == payload
            return "copy"
        except RecursionError:
            return "RecursionError"

    before = reachable()
    seen = set()
    limit = sys.getrecursionlimit()
    for payload in payloads:
        for spare in range(5, 2 * MAX_DEPTH, 3):
            try:
                seen.add(_at_stack_depth(limit - spare, partial(attempt, payload)))
            except RecursionError:      # raised by the frames of _at_stack_depth
                pass
    assert reachable() == before, "the recursion counter moved"
    assert "copy" in seen

# == the timer heap ==========================================================================

deadlines = st.one_of(
    st.sampled_from([0.0, 0.5, 1.0, 2.0]),          # equal deadlines: FIFO by sequence
    st.floats(min_value=-10, max_value=100, allow_nan=False),
    st.integers(min_value=-5, max_value=50),
    st.just(math.inf),
)
heap_ops = st.lists(st.one_of(
    st.tuples(st.just("push"), deadlines),
    st.tuples(st.just("push_many"), st.integers(1, 60), deadlines),
    st.tuples(st.just("cancel"), st.integers(0, 10_000)),
    st.tuples(st.just("cancel_many"), st.integers(0, 10_000), st.integers(1, 60)),
    st.tuples(st.just("advance"), st.floats(min_value=0, max_value=10)),
    st.tuples(st.just("next_deadline")),
    st.tuples(st.just("len")),
), max_size=120)


class HeapDriver:
    """Runs one op sequence on one heap; handles are addressed by push index."""

    def __init__(self, module: ModuleType) -> None:
        self.heap = module.TimerHeap()
        self.handles: list = []
        self.now = 0.0

    def apply(self, op: tuple) -> Any:
        kind = op[0]
        heap = self.heap
        if kind == "push":
            self.handles.append(heap.push(op[1], ("timer", len(self.handles))))
            return None
        if kind == "push_many":
            for _ in range(op[1]):
                self.handles.append(heap.push(op[2], ("timer", len(self.handles))))
            return None
        if kind == "cancel":
            if self.handles:
                heap.cancel(self.handles[op[1] % len(self.handles)])
            return None
        if kind == "cancel_many":
            if self.handles:
                start = op[1] % len(self.handles)
                for handle in self.handles[start:start + op[2]]:
                    heap.cancel(handle)
                    heap.cancel(handle)                # twice is a no-op
            return None
        if kind == "advance":
            self.now += op[1]
            return heap.pop_due(self.now)
        if kind == "next_deadline":
            return heap.next_deadline()
        return len(heap)


def assert_heaps_agree(cheap: ModuleType, ops: list) -> None:
    pure, compiled = HeapDriver(pure_timerheap), HeapDriver(cheap)
    for step, op in enumerate(ops):
        a, b = pure.apply(op), compiled.apply(op)
        assert a == b, (step, op)
        assert len(pure.heap) == len(compiled.heap), (step, op)
        assert pure.heap.next_deadline() == compiled.heap.next_deadline(), (step, op)
    assert pure.heap.pop_due(math.inf) == compiled.heap.pop_due(math.inf)
    assert len(pure.heap) == len(compiled.heap) == 0
    assert pure.heap.next_deadline() is None and compiled.heap.next_deadline() is None
    for handle in compiled.handles:                    # every handle fired or was cancelled
        compiled.heap.cancel(handle)
    assert len(compiled.heap) == 0


@PROPERTY
@given(ops=heap_ops)
def test_timer_heap_parity(cheap, ops):
    assert_heaps_agree(cheap, ops)


@pytest.mark.parametrize("seed", range(10))
def test_timer_heap_parity_long_runs(cheap, seed):
    """Thousands of operations: many compactions, restarts of the same timers."""
    rng = random.Random(seed)
    ops: list = []
    for _ in range(3000):
        r = rng.random()
        if r < 0.35:
            ops.append(("push", rng.choice([1.0, 2.0, rng.uniform(0, 50)])))
        elif r < 0.45:
            ops.append(("push_many", rng.randint(1, 40), rng.uniform(0, 50)))
        elif r < 0.75:
            ops.append(("cancel", rng.randrange(10_000)))
        elif r < 0.85:
            ops.append(("cancel_many", rng.randrange(10_000), rng.randint(1, 80)))
        elif r < 0.95:
            ops.append(("advance", rng.uniform(0, 0.5)))
        else:
            ops.append(("next_deadline",))
    assert_heaps_agree(cheap, ops)


def test_timer_handle_is_inert_after_fire_or_cancel(cheap):
    for module in (pure_timerheap, cheap):
        heap = module.TimerHeap()
        fired, stopped, live = heap.push(1.0, "a"), heap.push(2.0, "b"), heap.push(3.0, "c")
        heap.cancel(stopped)
        assert heap.pop_due(2.5) == ["a"]
        heap.cancel(fired)
        heap.cancel(stopped)
        assert len(heap) == 1 and heap.next_deadline() == 3.0
        assert heap.pop_due(10) == ["c"]
        heap.cancel(live)
        assert len(heap) == 0


def test_timer_heap_rejects_what_is_not_a_handle(cheap):
    for module in (pure_timerheap, cheap):
        for bad in (None, object()):
            with pytest.raises(TypeError):
                module.TimerHeap().cancel(bad)
    with pytest.raises(TypeError):                 # the pure twin's handle type is a list
        cheap.TimerHeap().cancel([1.0, 1, "t"])
