"""Issue item 8 (the 0.2.4 store API): ``subscribe(path, cb, recursive=..., ignore_source=...)``,
``*`` segments, ``unsubscribe(callback)``, ``source(tag)`` and ``Change`` records with
``.source``; on ``DataTree`` directly and on ``ttStore`` inside real applications.

Concurrency is forced with Events, never with sleeps; every ``wait`` has a deadline only so a
broken build fails instead of hanging.
"""
from __future__ import annotations

import copy
import pickle
import threading

import pytest

from tasktonic import ttCatalyst, ttTonic
from tasktonic.datatree import Change, DataTree
from tasktonic.store import ttStore
from tests.conftest import run_app

DEADLINE = 15.0
WAIT = 10.0


def recorder(tree: DataTree, path: str, **kwargs) -> list:
    """Subscribe a callback to ``tree`` that keeps every batch it hears; return the list."""
    heard: list = []
    tree.subscribe(path, heard.append, **kwargs)
    return heard


def flat(heard: list) -> list:
    return [tuple(change) for batch in heard for change in batch]


# -- Change records --------------------------------------------------------------------------

def test_change_unpacks_as_three_and_carries_source():
    tree = DataTree()
    heard = recorder(tree, "a")
    tree.set("a/x", 1)
    with tree.source("gui"):
        tree.set("a/x", 2)
    first, second = heard[0][0], heard[1][0]
    path, new, old = second
    assert (path, new, old) == ("a/x", 2, 1)
    assert second == ("a/x", 2, 1) and len(second) == 3
    assert isinstance(second, Change) and isinstance(second, tuple)
    assert (second.path, second.new, second.old, second.source) == ("a/x", 2, 1, "gui")
    assert first.source is None
    assert "source='gui'" in repr(second)


def test_change_copies_and_pickles_with_its_source():
    change = Change("a/x", {"k": [1]}, None, "gui")
    for twin in (copy.deepcopy(change), pickle.loads(pickle.dumps(change))):
        assert type(twin) is Change and twin == change and twin.source == "gui"
        assert twin[1] is not change[1]
    assert copy.copy(change) is change


# -- recursive ---------------------------------------------------------------------------------

def test_recursive_is_the_default_and_hears_the_path_and_below():
    tree = DataTree()
    default = recorder(tree, "a/b")
    explicit = recorder(tree, "a/b", recursive=True)
    tree.set("a/b/c/d", 1)
    tree.set("a/b", 2)
    tree.set("a/other", 3)
    expected = [("a/b/c/d", 1, None), ("a/b", 2, None), ("a/b/c/d", None, 1)]
    assert flat(default) == expected
    assert flat(explicit) == expected


def test_recursive_false_hears_only_that_exact_path():
    tree = DataTree()
    exact = recorder(tree, "a/b", recursive=False)
    tree.set("a/b/c", 1)           # below: not heard
    tree.set("a/x", 1)             # a sibling: not heard
    assert exact == []
    tree.set("a/b", 5)             # the branch becomes a leaf: only a/b itself is heard
    tree.set("a/b", 6)
    tree.remove("a/b")
    assert flat(exact) == [("a/b", 5, None), ("a/b", 6, 5), ("a/b", None, 6)]
    tree.set("l", [])
    item = recorder(tree, "l[0]", recursive=False)
    tree.set("l[]", {"deep": 1})   # l[0]/deep is below l[0]: not heard
    tree.set("l[0]", 7)
    assert flat(item) == [("l[0]", 7, None)]


# -- '*' segments ----------------------------------------------------------------------------

def test_star_matches_exactly_one_level():
    tree = DataTree()
    exact = recorder(tree, "sensors/*/temp", recursive=False)
    below = recorder(tree, "sensors/*/temp")
    tree.set("sensors/a/temp", 1)          # matches
    tree.set("sensors/a/b/temp", 2)        # two levels in between: no
    tree.set("sensors/temp", 3)            # no level in between: no
    tree.set("sensors/b/hum", 4)           # another leaf under the star: no
    tree.set("sensors/c/temp/max", 5)      # below a match: recursive only
    tree.set("other/a/temp", 6)            # another first segment: no
    assert flat(exact) == [("sensors/a/temp", 1, None)]
    assert flat(below) == [("sensors/a/temp", 1, None), ("sensors/c/temp/max", 5, None)]


def test_star_matches_keys_not_list_indexes_and_can_lead_or_end():
    tree = DataTree()
    lead = recorder(tree, "*/x", recursive=False)
    end = recorder(tree, "s/*", recursive=False)
    tree.set("a/x", 1)
    tree.set("b/x", 2)
    tree.set("s/k", 3)
    tree.set("s/l[]", 4)                   # s/l[0]: an index is not a key level
    assert flat(lead) == [("a/x", 1, None), ("b/x", 2, None)]
    assert flat(end) == [("s/k", 3, None)]
    assert [path for _token, path, _cb in tree.subscriptions()] == ["*/x", "s/*"]


# -- source and ignore_source ----------------------------------------------------------------

def test_ignore_source_skips_the_tagged_changes_only():
    tree = DataTree()
    everything = recorder(tree, "a")
    not_gui = recorder(tree, "a", ignore_source="gui")
    tree.set("a/1", 1)
    with tree.source("gui"):
        tree.set("a/2", 2)
        with tree.source("net"):           # nested: the innermost tag wins
            tree.set("a/3", 3)
        tree.remove("a/1")                  # the outer tag is back
    tree.set("a/4", 4)                      # after the block: untagged again
    assert [(c[0], c.source) for batch in everything for c in batch] == [
        ("a/1", None), ("a/2", "gui"), ("a/3", "net"), ("a/1", "gui"), ("a/4", None)]
    # A batch left empty by the filter is not delivered at all.
    assert [[(c[0], c.source) for c in batch] for batch in not_gui] == [
        [("a/1", None)], [("a/3", "net")], [("a/4", None)]]


def test_source_inside_a_group_tags_per_change_and_the_batch_is_filtered():
    tree = DataTree()
    everything = recorder(tree, "")
    not_gui = recorder(tree, "", ignore_source="gui")
    with tree.group():
        tree.set("x", 1)
        with tree.source("gui"):
            tree.set("y", 2)
    assert [[(c[0], c.source) for c in batch] for batch in everything] == [
        [("x", None), ("y", "gui")]]
    assert [[(c[0], c.source) for c in batch] for batch in not_gui] == [[("x", None)]]


def test_source_rejects_none_and_restores_after_an_exception():
    tree = DataTree()
    heard = recorder(tree, "")
    with pytest.raises(ValueError, match="must not be None"):
        with tree.source(None):
            pass
    with pytest.raises(RuntimeError):
        with tree.source("t"):
            raise RuntimeError("boom")
    tree.set("after", 1)
    assert heard[0][0].source is None


def test_source_tags_only_its_own_thread_while_another_writes_concurrently():
    """Thread A holds ``source('a')`` open while thread B writes; the steps alternate A, B, A,
    B, forced by Events, so B's writes happen while A's block is open."""
    tree = DataTree()
    seen: list = []
    tree.subscribe("x", lambda changes: seen.extend(
        (c[0], c.source, threading.current_thread().name) for c in changes))
    not_a = recorder(tree, "x", ignore_source="a")
    a_wrote, b_wrote, a_wrote_again = threading.Event(), threading.Event(), threading.Event()
    failures: list = []

    def thread_a():
        try:
            with tree.source("a"):
                tree.set("x/a1", 1)
                a_wrote.set()
                assert b_wrote.wait(WAIT), "B did not write"
                tree.set("x/a2", 2)
                a_wrote_again.set()
                assert b_done.wait(WAIT), "B did not finish"
            tree.set("x/a3", 3)                 # after the block: untagged
        except BaseException as exc:
            failures.append(exc)

    b_done = threading.Event()

    def thread_b():
        try:
            assert a_wrote.wait(WAIT), "A did not write"
            tree.set("x/b1", 1)                 # while A's block is open
            b_wrote.set()
            assert a_wrote_again.wait(WAIT), "A did not write again"
            tree.set("x/b2", 2)                 # still while A's block is open
            b_done.set()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=thread_a, name="A"),
               threading.Thread(target=thread_b, name="B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    assert seen == [("x/a1", "a", "A"), ("x/b1", None, "B"), ("x/a2", "a", "A"),
                    ("x/b2", None, "B"), ("x/a3", None, "A")]
    assert [c[0] for batch in not_a for c in batch] == ["x/b1", "x/b2", "x/a3"]


# -- unsubscribe by callback -----------------------------------------------------------------

def test_unsubscribe_takes_the_callback_and_drops_all_its_subscriptions():
    tree = DataTree()
    heard: list = []
    kept: list = []

    class Holder:
        def on(self, changes):
            heard.append(changes)

    holder = Holder()
    tree.subscribe("a", holder.on)
    tree.subscribe("b", holder.on, recursive=False)
    token = tree.subscribe("a", kept.append)
    assert tree.unsubscribe(holder.on) is True        # a fresh bound method: equal, not same
    assert tree.unsubscribe(holder.on) is False
    assert [t for t, _path, _cb in tree.subscriptions()] == [token]
    tree.set("a", 1)
    tree.set("b", 1)
    assert heard == [] and flat(kept) == [("a", 1, None)]
    assert tree.unsubscribe(kept.append) is True
    assert tree.unsubscribe(token) is False
    assert tree.subscriptions() == []


# -- ttStore inside applications ---------------------------------------------------------------

def test_store_methods_source_is_plain():
    assert not getattr(ttStore.source, "_tt_sparkle_method", False)
    assert "ignore_source" in ttStore.subscribe.__doc__


def test_store_twin_does_not_hear_its_own_writes():
    """A twin on a worker catalyst writes inside ``source('twin')`` and subscribes with
    ``ignore_source='twin'``: it hears only the other tonic's writes, across threads, as
    ``Change`` records that kept their ``.source``; a plain subscriber hears everything."""
    got: dict = {"all": [], "mine": []}

    class Writer(ttTonic):
        def ttse__on_start(self):
            self.store = ttStore()

        def ttsc__go(self):
            got["writer_thread"] = threading.get_ident()
            with self.store.source("writer"):
                self.store.set("dev/speed", 7)
            self.store.set("dev/mode", "auto")
            self.finish()

    class Twin(ttTonic):
        def __init__(self, writer, **kwargs):
            super().__init__(**kwargs)
            self.writer = writer

        def ttse__on_start(self):
            got["twin_thread"] = threading.get_ident()
            store = self.store = ttStore()
            store.subscribe("dev", lambda changes: got["all"].extend(
                (type(c).__name__, c[0], c[1], c.source) for c in changes))
            store.subscribe("dev", self.ttse__on_dev, ignore_source="twin")
            with store.source("twin"):
                store.set("dev/speed", 5)
            self.writer.ttsc__go()

        def ttse__on_dev(self, changes):
            got["mine"].append([(type(c).__name__, c[0], c[1], c.source) for c in changes])
            if len(got["mine"]) == 2:
                self.finish()

    def starting():
        ttStore()
        worker = ttCatalyst(name="worker")
        Twin(Writer(), catalyst=worker)

    run_app(starting, timeout=DEADLINE)
    assert got["twin_thread"] != got["writer_thread"]
    assert got["mine"] == [[("Change", "dev/speed", 7, "writer")],
                           [("Change", "dev/mode", "auto", None)]]
    assert got["all"] == [("Change", "dev/speed", 5, "twin"),
                          ("Change", "dev/speed", 7, "writer"),
                          ("Change", "dev/mode", "auto", None)]


def test_store_source_does_not_tag_a_tonic_built_inside_the_block():
    """Tonic A opens ``source('a')`` and builds tonic B inside it; B's constructor writes:
    that change is B's, not A's, so it is untagged."""
    seen: list = []

    class B(ttTonic):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            ttStore().set("k/b", 1)

        def ttse__on_start(self):
            self.finish()

    class A(ttTonic):
        def ttse__on_start(self):
            store = ttStore()
            store.tree.subscribe("k", lambda changes: seen.extend(
                (c[0], c.source) for c in changes))   # runs in the writing thread, at once
            with store.source("a"):
                store.set("k/a1", 1)
                B()
                store.set("k/a2", 2)
            store.set("k/a3", 3)
            self.finish()

    run_app(A, timeout=DEADLINE)
    assert seen == [("k/a1", "a"), ("k/b", None), ("k/a2", "a"), ("k/a3", None)]


def test_store_recursive_star_and_unsubscribe_by_callback():
    got: dict = {"exact": [], "star": [], "gone": [], "plain": []}

    class User(ttTonic):
        def ttse__on_start(self):
            store = self.store = ttStore()
            store.subscribe("cfg", self.ttse__on_exact, recursive=False)
            store.subscribe("sensors/*/temp", self.ttse__on_star, recursive=False)
            store.subscribe("cfg", self.ttse__on_gone)
            store.subscribe("sensors", self.ttse__on_gone)
            plain = got["plain"].append
            store.subscribe("cfg", plain)
            got["first"] = store.unsubscribe(self.ttse__on_gone)
            got["again"] = store.unsubscribe(self.ttse__on_gone)
            got["left"] = [path for _t, path, _owner in store.subscriptions()]
            store.set("cfg/deep", 1)
            store.set("cfg", 2)
            store.set("sensors/a/temp", 20)
            store.set("sensors/a/b/temp", 21)
            store.set("sensors/temp", 22)
            got["plain_gone"] = store.unsubscribe(plain)
            store.set("cfg", 3)
            self.ttsc__after()

        def ttse__on_exact(self, changes):
            got["exact"].append(list(changes))

        def ttse__on_star(self, changes):
            got["star"].append(list(changes))

        def ttse__on_gone(self, changes):
            got["gone"].append(list(changes))

        def ttsc__after(self):
            self.finish()

    run_app(User, timeout=DEADLINE)
    assert got["first"] is True and got["again"] is False
    assert got["left"] == ["cfg", "sensors/*/temp", "cfg"]
    assert got["gone"] == []
    assert got["exact"] == [[("cfg", 2, None)], [("cfg", 3, 2)]]
    assert got["star"] == [[("sensors/a/temp", 20, None)]]
    assert got["plain_gone"] is True
    assert got["plain"] == [[("cfg/deep", 1, None)], [("cfg", 2, None), ("cfg/deep", None, 1)]]
