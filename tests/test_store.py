"""Tests for tasktonic.store: ttStore, the data-tree service, inside real applications.

Every application ends by itself (its tonics finish when done); ``run_app`` fails the test if
one does not end within its deadline.
"""
from __future__ import annotations

import copy
import threading

from tasktonic import ttCatalyst, ttLedger, ttTonic
from tasktonic._context import current_tonic
from tasktonic.datatree import DataTree
from tasktonic.store import ttStore
from tests.conftest import run_app

DEADLINE = 15.0


class Setter(ttTonic):
    """Sets ``pairs`` in the store when told to go, then finishes."""

    def __init__(self, pairs: list, record: dict, **kwargs):
        super().__init__(**kwargs)
        self.pairs = pairs
        self.record = record

    def ttse__on_start(self):
        self.store = ttStore()

    def ttsc__go(self):
        self.record["setter_thread"] = threading.get_ident()
        for path, value in self.pairs:
            self.store.set(path, value)
        self.finish()


# -- plain methods -----------------------------------------------------------------------

def test_store_methods_are_plain_and_immediate():
    got: dict = {}

    class User(ttTonic):
        def ttse__on_start(self):
            store = ttStore()
            got["set_returns"] = store.set("app/config", {"version": "1.0", "n": [1]})
            store.set("users/list[]", "ann")
            store.set({"users/list[]": "bob", "app/name": "demo"})
            got["get"] = store.get("app/config")
            got["get_list_item"] = store.get("users/list[1]")
            got["missing"] = store.get("nope", "default")
            got["contains"] = ("app/name" in store, "app/nope" in store)
            with store.group():
                store.set("g/a", 1)
                store.set("g/b", 2)
            got["removed"] = store.remove("g")
            got["dump"] = store.dump()
            got["dumps"] = store.dumps()
            got["tree"] = store.tree
            got["tree_sees_it"] = store.tree.get("app/name")
            try:
                store.remove("g")
            except KeyError as exc:
                got["remove_error"] = str(exc)
            self.finish()

    run_app(User, timeout=DEADLINE)
    assert got["set_returns"] is None
    assert got["get"] == {"version": "1.0", "n": [1]}
    assert got["get_list_item"] == "bob"
    assert got["missing"] == "default"
    assert got["contains"] == (True, False)
    assert got["removed"] == {"a": 1, "b": 2}
    assert got["dump"] == [("app/config/version", "1.0"), ("app/config/n[0]", 1),
                           ("app/name", "demo"), ("users/list[0]", "ann"),
                           ("users/list[1]", "bob")]
    assert "version: '1.0'" in got["dumps"]
    assert isinstance(got["tree"], DataTree)
    assert got["tree_sees_it"] == "demo"
    assert "'g'" in got["remove_error"]


def test_store_methods_are_not_sparkles():
    for name in ("set", "get", "remove", "dump", "dumps", "group", "subscribe", "unsubscribe",
                 "subscriptions"):
        assert not getattr(getattr(ttStore, name), "_tt_sparkle_method", False), name
    assert "thread" in ttStore.__doc__ and "not sparkles" in ttStore.__doc__


# -- (a) a sparkle subscriber on a worker catalyst ----------------------------------------

def test_sparkle_subscriber_hears_on_its_worker_thread_as_a_copy():
    got: dict = {"calls": []}

    class Listener(ttTonic):
        def __init__(self, setter, **kwargs):
            super().__init__(**kwargs)
            self.setter = setter

        def ttse__on_start(self):
            got["listener_thread"] = threading.get_ident()
            self.store = ttStore()
            self.store.subscribe("app/config", self.ttse__on_config)
            self.setter.ttsc__go()

        def ttse__on_config(self, changes):
            got["calls"].append({"thread": threading.get_ident(),
                                 "thread_name": threading.current_thread().name,
                                 "changes": copy.deepcopy(changes)})
            for _path, new, _old in changes:  # mutate what we were given
                if isinstance(new, set):
                    new.add("mutated")
            changes.clear()
            got.setdefault("store_after_mutation", []).append(self.store.get("app/config"))
            if len(got["calls"]) == 2:
                self.finish()

    def starting():
        ttStore()  # created first, outside any tonic: both tonics become its service bases
        worker = ttCatalyst(name="worker")
        got["worker"] = worker
        setter = Setter([("app/other", 1),  # a sibling: not heard
                         ("app/config/version", "1.0"),
                         ("app/config", {"version": "1.0", "tags": {"a"}})], got)
        Listener(setter, catalyst=worker)

    run_app(starting, timeout=DEADLINE)
    worker_ident = got["worker"]._tt_thread.ident
    assert got["listener_thread"] == worker_ident
    assert got["setter_thread"] != worker_ident
    assert [call["changes"] for call in got["calls"]] == [
        [("app/config/version", "1.0", None)],
        [("app/config/tags", {"a"}, None)],
    ]
    for call in got["calls"]:
        assert call["thread"] == worker_ident
        assert call["thread_name"] == f"tasktonic:{got['worker'].name}"
    assert got["store_after_mutation"][-1] == {"version": "1.0", "tags": {"a"}}


def test_sparkle_subscriber_on_the_setters_catalyst_is_queued_not_called_inline():
    got: dict = {"calls": []}

    class Both(ttTonic):
        def ttse__on_start(self):
            store = ttStore()
            store.subscribe("x", self.ttse__on_x)
            store.set("x", {"v": {"s"}})
            got["heard_inline"] = bool(got["calls"])
            self.ttsc__after()

        def ttse__on_x(self, changes):
            got["calls"].append(changes)
            changes[0][1].add("mutated")  # the tree gave us our own copy
            got["store"] = ttStore().get("x")

        def ttsc__after(self):
            got["heard_before_after"] = bool(got["calls"])
            self.finish()

    run_app(Both, timeout=DEADLINE)
    assert got["heard_inline"] is False
    assert got["heard_before_after"] is True
    assert got["store"] == {"v": {"s"}}


# -- (b) a plain callable runs on its tonic's catalyst ------------------------------------

def test_plain_callable_subscribed_in_on_start_runs_on_that_tonics_catalyst():
    got: dict = {"calls": []}

    class Watcher(ttTonic):
        def __init__(self, setter, **kwargs):
            super().__init__(**kwargs)
            self.setter = setter

        def ttse__on_start(self):
            got["watcher_thread"] = threading.get_ident()
            me = self

            def on_change(changes):
                got["calls"].append((threading.get_ident(), current_tonic() is me, changes))
                me.finish()

            ttStore().subscribe("app", on_change)
            self.setter.ttsc__go()

    def starting():
        ttStore()
        worker = ttCatalyst(name="worker")
        got["worker"] = worker
        Watcher(Setter([("app/x", 1)], got), catalyst=worker)

    run_app(starting, timeout=DEADLINE)
    worker_ident = got["worker"]._tt_thread.ident
    assert got["watcher_thread"] == worker_ident != got["setter_thread"]
    assert got["calls"] == [(worker_ident, True, [("app/x", 1, None)])]


def test_plain_callable_with_owner_from_outside_any_tonic():
    got: dict = {"calls": []}

    class Owner(ttTonic):
        def ttsc__done(self):
            self.finish()

    def starting():
        store = ttStore()
        try:
            store.subscribe("a", lambda changes: None)
        except ValueError as exc:
            got["no_tonic_error"] = str(exc)
        worker = ttCatalyst(name="worker")
        owner = Owner(catalyst=worker)
        got["worker"] = worker

        def on_change(changes):
            got["calls"].append((threading.get_ident(), current_tonic() is owner, changes))
            owner.ttsc__done()

        store.subscribe("a", on_change, owner=owner)
        store.set("a/b", 2)  # from the formula's thread

    run_app(starting, timeout=DEADLINE)
    assert "pass owner=" in got["no_tonic_error"]
    assert got["calls"] == [(got["worker"]._tt_thread.ident, True, [("a/b", 2, None)])]


def test_subscribe_argument_errors():
    got: dict = {}

    class Sub(ttTonic):
        def ttse__on_start(self):
            store = ttStore()
            other = Other()
            for key, call in {
                "not_callable": lambda: store.subscribe("a", 42),
                "owner_mismatch": lambda: store.subscribe("a", self.ttse__x, owner=other),
                "owner_not_tonic": lambda: store.subscribe("a", print, owner="me"),
                "bad_path": lambda: store.subscribe("a//b", self.ttse__x),
                "path_type": lambda: store.subscribe(7, self.ttse__x),
            }.items():
                try:
                    call()
                except Exception as exc:
                    got[key] = (type(exc), str(exc))
            got["same_owner_ok"] = store.subscribe("a", self.ttse__x, owner=self)
            got["subscriptions"] = store.subscriptions()
            other.finish()
            self.finish()

        def ttse__x(self, changes):
            pass

    class Other(ttTonic):
        pass

    run_app(Sub, timeout=DEADLINE)
    assert got["not_callable"][0] is TypeError and "int" in got["not_callable"][1]
    assert got["owner_mismatch"][0] is ValueError
    assert got["owner_not_tonic"][0] is TypeError and "str" in got["owner_not_tonic"][1]
    assert got["bad_path"][0] is ValueError and "'a//b'" in got["bad_path"][1]
    assert got["path_type"][0] is TypeError and "int" in got["path_type"][1]
    token = got["same_owner_ok"]
    assert [(t, p) for t, p, _owner in got["subscriptions"]] == [(token, "a")]
    assert type(got["subscriptions"][0][2]).__name__ == "Sub"


# -- (c) one instance ---------------------------------------------------------------------

def test_store_is_one_instance_for_every_tonic():
    got: dict = {"stores": []}

    class First(ttTonic):
        def ttse__on_start(self):
            store = ttStore()  # creates it
            got["stores"].append(store)
            store.set("shared/by", "first")
            got["second"] = Second(catalyst=ttCatalyst(name="worker"))

        def ttsc__second_done(self):
            self.finish()

    class Second(ttTonic):
        def ttse__on_start(self):
            store = ttStore()  # another thread, the same store
            got["stores"].append(store)
            got["seen_by_second"] = store.get("shared/by")
            got["bases"] = list(store.service_bases)
            got["registered"] = ttLedger().get_service_by_name("tt_store")
            self.base.ttsc__second_done()
            self.finish()

    run_app(First, timeout=DEADLINE)
    first, second = got["stores"]
    assert first is second is got["registered"]
    assert isinstance(first, ttStore)
    assert got["seen_by_second"] == "first"
    assert got["bases"] == [got["second"]]  # the creator is not a base, later users are
    assert first.finished


def test_store_init_passes_kwargs_on():
    got: dict = {}

    def starting():
        try:
            ttStore(nonsense=1)
        except TypeError as exc:
            got["error"] = str(exc)
        got["store"] = ttStore(name="the_store")
        got["again"] = ttStore(name="ignored")

    run_app(starting, timeout=DEADLINE)
    assert "nonsense" in got["error"]
    assert got["store"] is got["again"]
    assert got["store"].name == "the_store"


# -- (d) finished subscribers are dropped -------------------------------------------------

def test_finished_subscriber_is_not_called_and_its_subscription_goes():
    got: dict = {"heard": [], "driver_heard": []}

    class Subscriber(ttTonic):
        def __init__(self, driver, **kwargs):
            super().__init__(**kwargs)
            self.driver = driver

        def ttse__on_start(self):
            ttStore().subscribe("data", self.ttse__on_data)
            self.driver.ttsc__subscribed(self)

        def ttse__on_data(self, changes):
            got["heard"].append(changes)
            self.finish()

        def ttse__on_finished(self):
            # Queued on the driver: it runs once this tonic has completely finished.
            self.driver.ttsc__subscriber_done(self)

    class Driver(ttTonic):
        def ttse__on_start(self):
            self.store = ttStore()
            self.store.subscribe("data", lambda changes: got["driver_heard"].append(changes))
            Subscriber(self)

        def ttsc__subscribed(self, subscriber):
            got["count_subscribed"] = len(self.store.subscriptions())
            self.store.set("data/x", 1)

        def ttsc__subscriber_done(self, subscriber):
            got["subscriber_finished"] = subscriber.finished
            got["count_before"] = len(self.store.subscriptions())
            self.store.set("data/x", 2)
            got["count_after"] = len(self.store.subscriptions())
            self.ttsc__end()

        def ttsc__end(self):
            self.finish()

    def starting():
        ttStore()

    run_app(lambda: (starting(), Driver()), timeout=DEADLINE)
    assert got["heard"] == [[("data/x", 1, None)]]
    assert got["subscriber_finished"] is True
    assert got["count_subscribed"] == 2
    assert got["count_before"] == 2  # removed lazily ...
    assert got["count_after"] == 1   # ... at the next notification
    assert got["driver_heard"] == [[("data/x", 1, None)], [("data/x", 2, 1)]]


def test_finished_subscriber_on_a_quiet_path_is_swept():
    got: dict = {}

    class Quiet(ttTonic):
        def __init__(self, driver, **kwargs):
            super().__init__(**kwargs)
            self.driver = driver

        def ttse__on_start(self):
            ttStore().subscribe("quiet", self.ttse__on_quiet)
            self.finish()

        def ttse__on_quiet(self, changes):
            got["quiet_heard"] = changes

        def ttse__on_finished(self):
            self.driver.ttsc__quiet_done()

    class Driver(ttTonic):
        def ttse__on_start(self):
            self.store = ttStore()
            Quiet(self)

        def ttsc__quiet_done(self):
            got["before"] = [p for _t, p, _o in self.store.subscriptions()]
            # Nothing is ever set at 'quiet'; other traffic paces the sweep.
            for n in range(200):
                token = self.store.subscribe("busy", self.ttse__busy)
                self.store.set("busy", n)
                self.store.unsubscribe(token)
            got["after"] = [p for _t, p, _o in self.store.subscriptions()]
            self.finish()

        def ttse__busy(self, changes):
            pass

    run_app(lambda: (ttStore(), Driver()), timeout=DEADLINE)
    assert got["before"] == ["quiet"]
    assert got["after"] == []
    assert "quiet_heard" not in got


def test_store_finishes_when_its_last_base_finishes():
    got: dict = {"done": 0, "checks": 0}

    class User(ttTonic):
        def ttse__on_start(self):
            ttStore().set(f"users/{self.name}", True)
            self.finish()

        def ttse__on_finished(self):
            self.base.ttsc__user_done()

    class Keeper(ttTonic):
        """Creates two users of the store and ends once the store has finished."""

        def ttse__on_start(self):
            User()
            User()

        def ttsc__user_done(self):
            got["done"] += 1
            if got["done"] == 2:
                self.ttsc__check()

        def ttsc__check(self):
            # The store's own finishing is queued on this catalyst too: look again later.
            got["checks"] += 1
            if got["store"].finished or got["checks"] >= 1000:
                got["store_finished"] = got["store"].finished
                got["data"] = got["store"].get("users")
                self.finish()
            else:
                self.ttsc__check()

    def starting():
        got["store"] = ttStore()
        Keeper()

    run_app(starting, timeout=DEADLINE)
    assert got["store_finished"] is True
    assert len(got["data"]) == 2  # a finished store's tree can still be read
