"""Tests for tasktonic.datatree: the plain, thread-safe data tree under ttStore."""
from __future__ import annotations

import logging
import threading

import pytest
from hypothesis import given, settings, strategies as st

from tasktonic.datatree import DataTree
from tasktonic.shared import ttShared


class Recorder:
    """A subscriber callback that keeps every change list it is given."""

    def __init__(self) -> None:
        self.calls: list[list] = []
        self.threads: list[int] = []

    def __call__(self, changes: list) -> None:
        self.calls.append(changes)
        self.threads.append(threading.get_ident())

    @property
    def flat(self) -> list:
        return [change for call in self.calls for change in call]


# -- set / get ---------------------------------------------------------------------------

def test_set_and_get_leaf():
    tree = DataTree()
    tree.set("app/config/version", "1.0")
    assert tree.get("app/config/version") == "1.0"
    assert tree.get("app/config") == {"version": "1.0"}
    assert tree.get("app") == {"config": {"version": "1.0"}}
    assert tree.get("") == {"app": {"config": {"version": "1.0"}}}


def test_leading_and_trailing_slashes_are_ignored():
    tree = DataTree()
    tree.set("/a/b/", 1)
    assert tree.get("a/b") == 1
    assert tree.get("//a/b//") == 1
    assert "/a/" in tree


def test_get_missing_returns_default():
    tree = DataTree()
    tree.set("a/b", 1)
    assert tree.get("a/x") is None
    assert tree.get("a/x", 42) == 42
    assert tree.get("a/b/c", "d") == "d"      # below a leaf
    assert tree.get("a[0]", "d") == "d"       # index into a branch
    assert tree.get("nothing/at/all", []) == []


def test_get_none_leaf_is_not_default():
    tree = DataTree()
    tree.set("a", None)
    assert "a" in tree
    assert tree.get("a", "default") is None


def test_set_overwrites_leaf_and_keeps_position():
    tree = DataTree()
    tree.set("a", 1)
    tree.set("b", 2)
    tree.set("a", 3)
    assert tree.dump() == [("a", 3), ("b", 2)]


def test_leaf_in_the_way_is_replaced_by_a_branch():
    tree = DataTree()
    tree.set("a", 1)
    tree.set("a/b", 2)
    assert tree.get("a") == {"b": 2}


def test_dict_value_is_expanded_into_the_tree():
    tree = DataTree()
    tree.set("app/config", {"a": 1, "b": {"c": 2}})
    assert tree.get("app/config/a") == 1
    assert tree.get("app/config/b/c") == 2
    assert tree.dump() == [("app/config/a", 1), ("app/config/b/c", 2)]


def test_dict_value_replaces_the_whole_branch():
    tree = DataTree()
    tree.set("app/config", {"a": 1, "old": 0})
    tree.set("app/config", {"a": 2})
    assert tree.get("app/config") == {"a": 2}


def test_list_value_becomes_a_list_node():
    tree = DataTree()
    tree.set("l", [1, {"x": 2}, [3, 4]])
    assert tree.get("l") == [1, {"x": 2}, [3, 4]]
    assert tree.get("l[1]/x") == 2
    assert tree.get("l[2][1]") == 4
    assert tree.get("l[-1]") == [3, 4]
    assert tree.get("l[3]") is None
    assert tree.dump() == [("l[0]", 1), ("l[1]/x", 2), ("l[2][0]", 3), ("l[2][1]", 4)]


def test_empty_containers_are_kept():
    tree = DataTree()
    tree.set("a", {})
    tree.set("b", [])
    assert tree.get("a") == {}
    assert tree.get("b") == []
    assert tree.dump() == [("a", {}), ("b", [])]


def test_set_does_not_keep_the_callers_objects():
    tree = DataTree()
    value = {"list": [1, 2], "tags": {"x"}}
    tree.set("v", value)
    value["list"].append(3)
    value["tags"].add("y")
    value["new"] = 1
    assert tree.get("v") == {"list": [1, 2], "tags": {"x"}}


def test_get_branch_returns_fresh_plain_data():
    tree = DataTree()
    tree.set("app/config", {"a": 1, "items": [1, 2], "tags": {"x"}})
    got = tree.get("app/config")
    assert type(got) is dict and type(got["items"]) is list
    got["a"] = 99
    got["items"].append(3)
    got["tags"].add("y")
    got["extra"] = {}
    assert tree.get("app/config") == {"a": 1, "items": [1, 2], "tags": {"x"}}
    assert tree.get("app/config") is not tree.get("app/config")
    leaf = tree.get("app/config/tags")
    leaf.add("z")
    assert tree.get("app/config/tags") == {"x"}


def test_by_reference_values_are_not_copied():
    tree = DataTree()
    shared = ttShared([1, 2])
    tree.set("big", shared)
    assert tree.get("big") is shared


def test_set_batch_from_dict_and_pairs():
    tree = DataTree()
    tree.set({"a/b": 1, "a/c": 2})
    tree.set([("x", 1), ("y/z", [1])])
    tree.set(("p", i) for i in range(3))  # a generator of pairs; the last one wins
    assert tree.get("") == {"a": {"b": 1, "c": 2}, "x": 1, "y": {"z": [1]}, "p": 2}


def test_set_batch_is_one_notification():
    tree = DataTree()
    rec = Recorder()
    tree.subscribe("", rec)
    tree.set({"a": 1, "b": 2, "c/d": 3})
    assert rec.calls == [[("a", 1, None), ("b", 2, None), ("c/d", 3, None)]]


def test_set_batch_with_a_bad_path_changes_nothing():
    tree = DataTree()
    with pytest.raises(ValueError, match="a//b"):
        tree.set([("x", 1), ("a//b", 2)])
    assert tree.dump() == []


def test_set_batch_error_midway_keeps_and_notifies_earlier_changes():
    tree = DataTree()
    tree.set("l", [])
    rec = Recorder()
    tree.subscribe("", rec)
    with pytest.raises(IndexError):
        tree.set([("x", 1), ("l[5]", 2), ("y", 3)])
    assert tree.dump() == [("l", []), ("x", 1)]
    assert rec.calls == [[("x", 1, None)]]


# -- lists -------------------------------------------------------------------------------

def test_append_creates_the_list_and_appends():
    tree = DataTree()
    tree.set("users/list[]", "ann")
    tree.set("users/list[]", "bob")
    tree.set("users/list[]", {"name": "cid"})
    assert tree.get("users/list") == ["ann", "bob", {"name": "cid"}]
    assert tree.get("users/list[0]") == "ann"
    assert tree.get("users/list[2]/name") == "cid"


def test_replace_existing_index():
    tree = DataTree()
    tree.set("l", ["a", "b", "c"])
    tree.set("l[1]", "B")
    tree.set("l[-1]", "C")
    assert tree.get("l") == ["a", "B", "C"]


def test_replace_index_out_of_range_names_the_path():
    tree = DataTree()
    tree.set("l", ["a"])
    with pytest.raises(IndexError, match=r"l\[3\]"):
        tree.set("l[3]", "x")
    with pytest.raises(IndexError, match=r"l\[-2\]"):
        tree.set("l[-2]", "x")
    with pytest.raises(IndexError, match=r"nolist\[0\]"):
        tree.set("nolist[0]", "x")
    with pytest.raises(IndexError, match=r"n/m\[0\]"):
        tree.set("n/m[0]", "x")  # nothing created on the way
    assert tree.get("") == {"l": ["a"]}


def test_set_inside_a_list_item():
    tree = DataTree()
    tree.set("l", [{"name": "a"}, 5])
    tree.set("l[0]/age", 3)
    tree.set("l[1]/name", "b")  # a leaf item in the way becomes a branch
    assert tree.get("l") == [{"name": "a", "age": 3}, {"name": "b"}]


def test_list_and_branch_are_never_turned_into_each_other():
    tree = DataTree()
    tree.set("branch/x", 1)
    tree.set("leaf", 1)
    tree.set("l", [1])
    with pytest.raises(TypeError, match="'branch' is a branch"):
        tree.set("branch[]", 2)
    with pytest.raises(TypeError, match="'leaf' holds a value"):
        tree.set("leaf[]", 2)
    with pytest.raises(TypeError, match="'l' is a list"):
        tree.set("l/x", 2)
    assert tree.get("") == {"branch": {"x": 1}, "leaf": 1, "l": [1]}


def test_append_must_end_the_path_and_is_only_for_set():
    tree = DataTree()
    with pytest.raises(ValueError, match=r"a\[\]/b"):
        tree.set("a[]/b", 1)
    with pytest.raises(ValueError, match=r"only for set"):
        tree.get("a[]")
    with pytest.raises(ValueError, match=r"only for set"):
        tree.remove("a[]")
    with pytest.raises(ValueError, match=r"only for set"):
        tree.subscribe("a[]", Recorder())


# -- remove ------------------------------------------------------------------------------

def test_remove_returns_plain_data():
    tree = DataTree()
    tree.set("app/config", {"a": 1, "l": [1, 2]})
    tree.set("app/other", 2)
    removed = tree.remove("app/config")
    assert removed == {"a": 1, "l": [1, 2]}
    assert type(removed) is dict and type(removed["l"]) is list
    assert "app/config" not in tree
    assert tree.get("app") == {"other": 2}
    assert tree.remove("app/other") == 2
    assert tree.get("app") == {}


def test_remove_list_item_shifts_the_rest():
    tree = DataTree()
    tree.set("l", ["a", "b", "c"])
    assert tree.remove("l[0]") == "a"
    assert tree.remove("l[-1]") == "c"
    assert tree.get("l") == ["b"]


def test_remove_missing_raises_keyerror_naming_the_path():
    tree = DataTree()
    tree.set("a/b", 1)
    tree.set("l", [1])
    for path in ("a/x", "x/y", "a/b/c", "l[1]", "a[0]", "l/x"):
        with pytest.raises(KeyError, match=path.replace("[", r"\[")):
            tree.remove(path)
    assert tree.get("") == {"a": {"b": 1}, "l": [1]}


def test_remove_root_is_refused():
    tree = DataTree()
    with pytest.raises(ValueError, match="root"):
        tree.remove("/")


# -- types and bad paths -----------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda t: t.get(3),
    lambda t: t.get(None),
    lambda t: t.remove(b"a"),
    lambda t: t.subscribe(["a"], Recorder()),
    lambda t: 5 in t,
    lambda t: t.set([(1, "v")]),
])
def test_path_must_be_a_str(call):
    with pytest.raises(TypeError, match="must be a str"):
        call(DataTree())


def test_set_path_type_error_names_the_type():
    with pytest.raises(TypeError, match="float"):
        DataTree().set(1.5, 1)
    with pytest.raises(TypeError, match="bytes"):
        DataTree().set(b"a/b", 1)


def test_batch_needs_pairs():
    tree = DataTree()
    with pytest.raises(TypeError, match="pairs"):
        tree.set(["a/b"])
    with pytest.raises(TypeError, match="not as a separate value"):
        tree.set({"a": 1}, 2)


@pytest.mark.parametrize("path", ["a//b", "a/ /b/", "a/[0]", "a/b[", "a/b]", "a[x]", "a[1", "a[-]",
                                  "a[1]x"])
def test_bad_paths_raise_valueerror_naming_the_path(path):
    tree = DataTree()
    if path == "a/ /b/":  # a space is a valid key
        tree.set(path, 1)
        assert tree.get("a/ /b") == 1
        return
    for call in (lambda: tree.set(path, 1), lambda: tree.get(path), lambda: tree.remove(path),
                 lambda: path in tree, lambda: tree.subscribe(path, Recorder())):
        with pytest.raises(ValueError) as info:
            call()
        assert repr(path) in str(info.value)


def test_root_cannot_be_set():
    with pytest.raises(ValueError, match="root"):
        DataTree().set("/", {"a": 1})


def test_dict_keys_must_be_single_segments():
    tree = DataTree()
    with pytest.raises(TypeError, match="must be a str, got int"):
        tree.set("a", {1: "x"})
    with pytest.raises(ValueError, match="'b/c'"):
        tree.set("a", {"b/c": 1})
    with pytest.raises(ValueError, match="'x\\[0\\]'"):
        tree.set("a", {"ok": {"x[0]": 1}})
    with pytest.raises(ValueError, match="''"):
        tree.set("a", {"": 1})
    assert tree.dump() == []


def test_self_containing_value_is_refused():
    tree = DataTree()
    cyclic: dict = {}
    cyclic["me"] = cyclic
    with pytest.raises(ValueError, match="contains itself"):
        tree.set("a", cyclic)


def test_uncopyable_value_is_a_typeerror_naming_the_path():
    with pytest.raises(TypeError, match="'lock'"):
        DataTree().set("lock", threading.Lock())


def test_subscribe_negative_index_and_bad_callback():
    tree = DataTree()
    with pytest.raises(ValueError, match="negative"):
        tree.subscribe("l[-1]", Recorder())
    with pytest.raises(TypeError, match="callable"):
        tree.subscribe("a", "not callable")


# -- contains / dump / dumps -------------------------------------------------------------

def test_contains():
    tree = DataTree()
    tree.set("a/b", [1])
    assert "a" in tree and "a/b" in tree and "a/b[0]" in tree and "" in tree
    assert "a/c" not in tree and "a/b[1]" not in tree and "a/b/c" not in tree


def test_dump_in_insertion_order_and_copies():
    tree = DataTree()
    tree.set("z", 1)
    tree.set("a/y", {"s"})
    tree.set("m[]", 2)
    dumped = tree.dump()
    assert dumped == [("z", 1), ("a/y", {"s"}), ("m[0]", 2)]
    dumped[1][1].add("t")
    assert tree.get("a/y") == {"s"}


def test_dump_of_a_tree_without_lists_rebuilds_it():
    tree = DataTree()
    tree.set({"a/b": 1, "a/c": {}, "d": "x"})
    copy = DataTree()
    copy.set(tree.dump())
    assert copy.get("") == tree.get("")


def test_dumps_is_readable_text():
    tree = DataTree()
    tree.set("app/config", {"version": "1.0", "empty": {}})
    tree.set("users/list[]", "ann")
    tree.set("users/list[]", {"name": "bob"})
    assert tree.dumps() == "\n".join([
        "app",
        "  config",
        "    version: '1.0'",
        "    empty: {}",
        "users",
        "  list",
        "    [0]: 'ann'",
        "    [1]",
        "      name: 'bob'",
    ])
    assert DataTree().dumps() == ""


# -- notifications -----------------------------------------------------------------------

def test_subscriber_hears_its_path_and_below_not_siblings():
    tree = DataTree()
    config, sibling = Recorder(), Recorder()
    tree.subscribe("app/config", config)
    tree.subscribe("app/configx", sibling)  # a prefix of the text is not an ancestor
    tree.set("app/config", 1)
    tree.set("app/config", {"a": 1})
    tree.set("app/config/b/c", 2)
    tree.set("app/other", 3)
    tree.set("other", 4)
    assert config.calls == [
        [("app/config", 1, None)],
        [("app/config/a", 1, None), ("app/config", None, 1)],
        [("app/config/b/c", 2, None)],
    ]
    assert sibling.calls == []


def test_subscriber_hears_ancestor_replace_only_when_something_below_changes():
    tree = DataTree()
    tree.set("app/config/a", 1)
    rec = Recorder()
    tree.subscribe("app/config", rec)
    tree.set("app", {"config": {"a": 1}, "other": 2})  # nothing below app/config changed
    assert rec.calls == []
    tree.set("app", {"config": {"a": 2}})
    assert rec.calls == [[("app/config/a", 2, 1)]]
    tree.set("app", 5)
    assert rec.calls[-1] == [("app/config/a", None, 2)]
    tree.remove("app")
    assert len(rec.calls) == 2  # app/config did not exist any more


def test_equal_value_is_not_a_change_but_a_different_type_is():
    tree = DataTree()
    tree.set("a", 1)
    rec = Recorder()
    tree.subscribe("a", rec)
    tree.set("a", 1)
    assert rec.calls == []
    tree.set("a", 1.0)
    assert rec.calls == [[("a", 1.0, 1)]]


def test_append_reports_the_index_path():
    tree = DataTree()
    rec = Recorder()
    tree.subscribe("users/list", rec)
    tree.set("users/list[]", "ann")
    tree.set("users/list[]", "bob")
    tree.set("users/list[0]", "ANN")
    assert rec.calls == [
        [("users/list[0]", "ann", None)],
        [("users/list[1]", "bob", None)],
        [("users/list[0]", "ANN", "ann")],
    ]


def test_subscriber_on_a_list_item():
    tree = DataTree()
    tree.set("l", [{"n": 1}, {"n": 2}])
    rec = Recorder()
    tree.subscribe("l[1]", rec)
    tree.set("l[0]/n", 10)
    tree.set("l[1]/n", 20)
    assert rec.calls == [[("l[1]/n", 20, 2)]]


def test_remove_notifies_with_new_value_none():
    tree = DataTree()
    tree.set("a", {"b": 1, "c": {"d": 2}})
    rec = Recorder()
    tree.subscribe("a", rec)
    tree.remove("a/c")
    tree.remove("a/b")  # a becomes an empty branch
    assert rec.calls == [[("a/c/d", None, 2)], [("a", {}, None), ("a/b", None, 1)]]


def test_remove_from_list_reports_the_shift():
    tree = DataTree()
    tree.set("l", ["a", "b", "c"])
    rec = Recorder()
    tree.subscribe("l", rec)
    tree.remove("l[0]")
    assert rec.calls == [[("l[0]", "b", "a"), ("l[1]", "c", "b"), ("l[2]", None, "c")]]


def test_notify_false_is_silent():
    tree = DataTree()
    rec = Recorder()
    tree.subscribe("", rec)
    tree.set("a", 1, notify=False)
    tree.remove("a", notify=False)
    assert rec.calls == []


def test_callbacks_run_in_subscription_order_after_the_lock_is_released():
    tree = DataTree()
    order = []
    seen_from_other_thread = []

    def first(changes):
        order.append("first")
        # Another thread can use the tree: the lock is not held while callbacks run.
        worker = threading.Thread(target=lambda: seen_from_other_thread.append(tree.get("a")))
        worker.start()
        worker.join(10)
        order.append(("worker done", not worker.is_alive()))

    tree.subscribe("a", first)
    tree.subscribe("", lambda changes: order.append("root"))
    tree.subscribe("a", lambda changes: order.append("second"))
    tree.set("a", 1)
    assert order == ["first", ("worker done", True), "root", "second"]
    assert seen_from_other_thread == [1]


def test_callback_may_change_the_tree():
    tree = DataTree()
    tree.subscribe("a", lambda changes: tree.set("b", changes[0][1] * 2))
    rec = Recorder()
    tree.subscribe("b", rec)
    tree.set("a", 21)
    assert tree.get("b") == 42
    assert rec.calls == [[("b", 42, None)]]


def test_each_subscriber_gets_its_own_copy():
    tree = DataTree()
    a, b = Recorder(), Recorder()
    tree.subscribe("x", a)
    tree.subscribe("x", b)
    tree.set("x", {"s"})
    a.calls[0][0][1].add("mutated")
    a.calls[0].append("junk")
    assert b.calls == [[("x", {"s"}, None)]]
    assert tree.get("x") == {"s"}


def test_callback_exception_is_logged_and_isolated(caplog, expected_errors):
    tree = DataTree()
    before, after = Recorder(), Recorder()

    def broken(changes):
        raise RuntimeError("subscriber bug")

    tree.subscribe("app", before)
    tree.subscribe("app/config", broken)
    tree.subscribe("app", after)
    with caplog.at_level(logging.ERROR, logger="tasktonic"):
        tree.set("app/config/a", 1)  # the setter does not see the error
    assert tree.get("app/config/a") == 1
    assert len(before.calls) == 1 and len(after.calls) == 1
    records = [r for r in caplog.records if r.name == "tasktonic"]
    assert records == expected_errors.records
    assert len(records) == 1
    assert "'app/config'" in records[0].getMessage()
    assert records[0].exc_info and records[0].exc_info[0] is RuntimeError


def test_unsubscribe():
    tree = DataTree()
    rec = Recorder()
    token = tree.subscribe("a", rec)
    assert tree.subscriptions() == [(token, "a", rec)]
    tree.set("a", 1)
    assert tree.unsubscribe(token) is True
    assert tree.unsubscribe(token) is False
    tree.set("a", 2)
    assert len(rec.calls) == 1
    assert tree.subscriptions() == []


def test_subscription_paths_are_canonical():
    tree = DataTree()
    tree.subscribe("/a/b[0]/", Recorder())
    assert [path for _token, path, _cb in tree.subscriptions()] == ["a/b[0]"]


# -- group -------------------------------------------------------------------------------

def test_group_batches_into_one_notification_per_subscriber():
    tree = DataTree()
    app, config = Recorder(), Recorder()
    tree.subscribe("app", app)
    tree.subscribe("app/config", config)
    with tree.group() as grouped:
        assert grouped is tree
        tree.set("app/config/a", 1)
        tree.set("app/name", "x")
        tree.set("app/config/b[]", 2)
        assert app.calls == []  # nothing until the group ends
    assert app.calls == [[("app/config/a", 1, None), ("app/name", "x", None),
                          ("app/config/b[0]", 2, None)]]
    assert config.calls == [[("app/config/a", 1, None), ("app/config/b[0]", 2, None)]]


def test_nested_groups_flush_at_the_outermost_exit():
    tree = DataTree()
    rec = Recorder()
    tree.subscribe("", rec)
    with tree.group():
        tree.set("a", 1)
        with tree.group():
            tree.set("b", 2)
            tree.remove("a")
        assert rec.calls == []
        tree.set({"c": 3})
    assert rec.calls == [[("a", 1, None), ("b", 2, None), ("a", None, 1), ("c", 3, None)]]


def test_group_with_exception_still_notifies_what_was_done():
    tree = DataTree()
    rec = Recorder()
    tree.subscribe("", rec)
    with pytest.raises(ZeroDivisionError):
        with tree.group():
            tree.set("a", 1)
            1 / 0  # noqa: B018  (raises inside the group)
    assert tree.get("a") == 1
    assert rec.calls == [[("a", 1, None)]]
    tree.set("b", 2)  # the lock was released
    assert len(rec.calls) == 2


class WatchedRLock:
    """The tree's RLock, telling when a thread finds it held and is about to wait for it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.contended = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.acquire(blocking=False):
            return True
        self.contended.set()
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> WatchedRLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


def test_the_watched_lock_tells_only_when_another_thread_finds_it_held():
    lock = WatchedRLock()
    with lock, lock:  # re-entered by its owner: no contention
        pass
    thread = threading.Thread(target=lambda: (lock.acquire(), lock.release()))
    thread.start()
    thread.join(10)  # a free lock: no contention either
    assert not thread.is_alive() and not lock.contended.is_set()
    thread = threading.Thread(target=lambda: (lock.acquire(), lock.release()))
    with lock:
        thread.start()
        assert lock.contended.wait(10)
    thread.join(10)
    assert not thread.is_alive()


def test_group_is_atomic_for_other_threads():
    tree = DataTree()
    tree.set({"x": 0, "y": 0})
    tree._lock = lock = WatchedRLock()
    seen = []
    thread = threading.Thread(target=lambda: seen.append(tree.get("")), name="reader")
    with tree.group():
        tree.set("x", 1)
        thread.start()
        # the reader has found the lock held: it waits until the group ends
        assert lock.contended.wait(10), "the reader got the tree's lock inside the group"
        tree.set("y", 1)
    thread.join(10)
    assert not thread.is_alive()
    assert seen == [{"x": 1, "y": 1}]


# -- threads -----------------------------------------------------------------------------

def test_concurrent_appends_keep_every_item_in_order():
    tree = DataTree()
    count, workers = 5000, 4
    heard = Recorder()
    tree.subscribe("counters", heard)
    start = threading.Barrier(workers)
    errors = []

    def work(i: int) -> None:
        try:
            start.wait(10)
            for n in range(count):
                tree.set(f"counters/t{i}[]", n)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert not any(thread.is_alive() for thread in threads)
    for i in range(workers):
        assert tree.get(f"counters/t{i}") == list(range(count))
    assert len(heard.calls) == workers * count
    assert set(heard.threads) == {thread.ident for thread in threads}
    paths = {change[0] for change in heard.flat}
    assert len(paths) == workers * count


def test_concurrent_set_get_remove_and_subscribe_do_not_corrupt():
    tree = DataTree()
    errors = []
    stop = threading.Event()

    def writer(i: int) -> None:
        try:
            for n in range(2000):
                tree.set(f"w{i}/v", {"n": n, "l": [n, n]})
                if n % 10 == 0:
                    tree.remove(f"w{i}")
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            while not stop.is_set():
                for i in range(3):
                    value = tree.get(f"w{i}/v")
                    assert value is None or value["l"] == [value["n"]] * 2
                token = tree.subscribe("w0", lambda changes: None)
                tree.unsubscribe(token)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    for thread in writers + readers:
        thread.start()
    for thread in writers:
        thread.join(60)
    stop.set()
    for thread in readers:
        thread.join(60)
    assert not errors
    assert tree.subscriptions() == []


# -- property: changes are exactly the difference of dump() -------------------------------

_KEYS = st.sampled_from(["a", "b", "c"])
_LEAVES = st.one_of(st.integers(-3, 3), st.text("xy", max_size=2), st.booleans())
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(_KEYS, inner, max_size=3)),
    max_leaves=6)
_PATHS = st.lists(st.tuples(_KEYS, st.one_of(st.none(), st.integers(-2, 3))),
                  min_size=1, max_size=3).map(
    lambda segs: "/".join(k + ("" if i is None else f"[{i}]") for k, i in segs))
_OPS = st.lists(st.one_of(
    st.tuples(st.just("set"), _PATHS, _VALUES),
    st.tuples(st.just("append"), _PATHS, _VALUES),
    st.tuples(st.just("remove"), _PATHS, st.none()),
), max_size=25)


@settings(max_examples=200, deadline=None)
@given(_OPS)
def test_changes_replay_to_dump(ops):
    tree = DataTree()
    model: dict = {}
    calls = []
    wrong_old = []  # checked below: an assert in here would only be logged by the tree

    def replay(changes):
        calls.append(changes)
        for path, new, old in changes:
            if model.get(path) != old:
                wrong_old.append((path, old, model.get(path)))
            if new is None:
                model.pop(path, None)
            else:
                model[path] = new

    tree.subscribe("", replay)
    for op, path, value in ops:
        before = tree.dump()
        try:
            if op == "set":
                tree.set(path, value)
            elif op == "append":
                tree.set(path + "[]", value)
            else:
                tree.remove(path)
        except (KeyError, IndexError, TypeError):
            assert tree.dump() == before  # a refused operation changes nothing
        assert wrong_old == []
        assert model == dict(tree.dump())
        assert len(model) == len(tree.dump())  # leaf paths are unique
        for leaf, leaf_value in tree.dump():
            assert tree.get(leaf) == leaf_value
    assert all(calls)  # nobody is called with an empty list
