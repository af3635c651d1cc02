"""Sparkles: calling one queues it; discovery happens once per class."""
from __future__ import annotations

import tasktonic.tonic
from tasktonic import ttTonic
from tests.conftest import run_app


class Recorder(ttTonic):
    """A tonic that writes what happens into a list it was given."""

    def __init__(self, events: list, **kwargs):
        super().__init__(**kwargs)
        self.events = events


def test_calling_a_sparkle_queues_it():
    events = []

    class Caller(Recorder):
        def ttse__on_start(self):
            events.append("before call")
            result = self.ttsc__work()
            events.append(("after call", result))
            self.finish()

        def ttsc__work(self):
            events.append("work")

    run_app(lambda: Caller(events))
    assert events == ["before call", ("after call", None), "work"]


def test_sparkles_run_in_the_order_they_were_called():
    events = []

    class Chain(Recorder):
        def ttse__on_start(self):
            self.tts__a()
            self.ttsc__b()
            self.ttse__c()
            self.tts__a()
            self.finish()

        def tts__a(self):
            events.append("a")

        def ttsc__b(self):
            events.append("b")

        def ttse__c(self):
            events.append("c")

    run_app(lambda: Chain(events))
    assert events == ["a", "b", "c", "a"]


def test_args_and_kwargs_arrive():
    received = []

    class Target(ttTonic):
        def ttsc__take(self, a, b, *rest, c=None, **more):
            received.append((a, b, rest, c, more))

    class Sender(ttTonic):
        def ttse__on_start(self):
            target = Target()
            target.ttsc__take(1, "two", 3.0, c=[4], d={"e": 5})
            target.ttsc__take(a=6, b=7)
            target.finish()
            self.finish()

    run_app(Sender)
    assert received == [(1, "two", (3.0,), [4], {"d": {"e": 5}}), (6, 7, (), None, {})]


def test_discovery_is_per_class_not_per_instance(monkeypatch):
    class Many(ttTonic):
        def ttsc__ping(self):
            pass

        def ttse__on_start(self):
            self.finish()

    table = Many._tt_sparkles
    entries = dict(table)
    builds = []
    original = tasktonic.tonic._dispatch.build_class_sparkles

    def counting_build(*args, **kwargs):
        builds.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(tasktonic.tonic._dispatch, "build_class_sparkles", counting_build)
    created = []

    def starting():
        for _ in range(1000):
            created.append(Many())

    run_app(starting)
    assert len(created) == 1000
    assert builds == []
    assert Many._tt_sparkles is table
    assert set(Many._tt_sparkles) == set(entries)
    for name, entry in entries.items():
        assert Many._tt_sparkles[name] is entry
    assert all("_tt_sparkles" not in tonic.__dict__ for tonic in created)


def test_super_hook_runs_parent_handler_synchronously():
    events = []

    class Parent(ttTonic):
        def ttse__on_start(self):
            events.append("parent")

    class Child(Parent):
        def ttse__on_start(self):
            events.append("child before")
            super().ttse__on_start()
            events.append("child after")
            self.tts__done()

        def tts__done(self):
            events.append("done")
            self.finish()

    run_app(Child)
    assert events == ["child before", "parent", "child after", "done"]


def test_private_and_system_sparkles_are_queued_too():
    events = []

    class Hidden(ttTonic):
        def ttse__on_start(self):
            self._tts__private(1)
            self._ttss__system(2)
            events.append("caller done")
            self.finish()

        def _tts__private(self, value):
            events.append(("private", value))

        def _ttss__system(self, value):
            events.append(("system", value))

    run_app(Hidden)
    assert events == ["caller done", ("private", 1), ("system", 2)]
    assert "_tts__private" in Hidden._tt_sparkles
    assert "_ttss__system" in Hidden._tt_sparkles


def test_non_callable_attribute_named_like_a_sparkle_is_ignored():
    seen = []

    class WithLimit(ttTonic):
        ttsc__limit = 5
        ttse__labels = ("a", "b")

        def ttse__on_start(self):
            seen.append((self.ttsc__limit, self.ttse__labels))
            self.finish()

    assert "ttsc__limit" not in WithLimit._tt_sparkles
    assert "ttse__labels" not in WithLimit._tt_sparkles
    assert WithLimit.ttsc__limit == 5
    run_app(WithLimit)
    assert seen == [(5, ("a", "b"))]


def test_sparkles_inherited_from_a_plain_mixin_are_queued_too():
    events = []

    class Greeting:
        """A plain mixin (not a tonic) that contributes a sparkle."""

        def ttsc__greet(self, who):
            events.append(("greet", who))

    class Greeter(Greeting, ttTonic):
        def ttse__on_start(self):
            self.ttsc__greet("world")
            events.append("after the call")
            self.finish()

    run_app(Greeter, timeout=10)
    assert events == ["after the call", ("greet", "world")]
    assert "ttsc__greet" in Greeter._tt_sparkles
