"""Ledger ids and names, hierarchy, finishing, and when an application ends."""
from __future__ import annotations

import logging

import pytest

from tasktonic import ttCatalyst, ttLedger, ttTonic
from tests.conftest import run_app


class Quiet(ttTonic):
    """A tonic that does nothing until it is finished."""


def test_main_catalyst_is_id_zero_named_tt_main_catalyst():
    seen = []

    class Probe(ttTonic):
        def ttse__on_start(self):
            main = ttLedger().main_catalyst
            seen.append((main.id, main.name, self.catalyst is main,
                         ttLedger().get_tonic_by_id(0) is main,
                         ttLedger().get_tonic_by_name("tt_main_catalyst") is main))
            self.finish()

    run_app(Probe)
    assert seen == [(0, "tt_main_catalyst", True, True, True)]


def test_ids_are_freed_and_reused():
    seen = {}

    class Reuser(ttTonic):
        def ttse__on_start(self):
            self.first = Quiet()
            seen["first"] = self.first.id
            seen["live"] = ttLedger().get_tonic_by_id(self.first.id) is self.first
            self.first.finish()
            self.tts__after()

        def tts__after(self):
            seen["gone"] = ttLedger().get_tonic_by_id(seen["first"]) is None
            second = Quiet()
            seen["second"] = second.id
            second.finish()
            self.finish()

    run_app(Reuser)
    assert seen["live"] and seen["gone"]
    assert seen["second"] == seen["first"]


def test_default_and_custom_names():
    seen = []

    def starting():
        plain = Quiet()
        named = Quiet(name="my tonic")
        seen.append((plain.id, plain.name, named.name,
                     ttLedger().get_tonic_by_name("my tonic") is named))
        plain.finish()
        named.finish()

    run_app(starting)
    tid, name, custom, found = seen[0]
    assert name == f"{tid:02d}.Quiet"
    assert custom == "my tonic" and found


def test_base_and_infusions():
    seen = {}

    class Parent(ttTonic):
        def ttse__on_start(self):
            self.child = Quiet()
            self.bound = self.bind(Quiet)
            seen["child"] = (self.child.base is self, self.child in self.infusions)
            seen["bound"] = (self.bound.base is self, self.bound in self.infusions)
            self.finish()

    def starting():
        top = Parent()
        seen["top"] = top.base
        outside = Quiet()
        via_bind = outside.bind(Quiet)  # bind works outside a sparkle too
        seen["outside bind"] = (via_bind.base is outside, via_bind in outside.infusions)
        outside.finish()

    run_app(starting)
    assert seen["top"] is None
    assert seen["child"] == (True, True)
    assert seen["bound"] == (True, True)
    assert seen["outside bind"] == (True, True)


def test_finishing_finishes_infusions_first():
    order = []

    class Node(ttTonic):
        def __init__(self, label, children=(), **kwargs):
            super().__init__(**kwargs)
            self.label = label
            self.kids = [Node(label + "." + c) for c in children]

        def ttse__on_finished(self):
            order.append((self.label, [k.finished for k in self.kids]))

    class Root(Node):
        def ttse__on_start(self):
            self.finish()

    run_app(lambda: Root("root", children=("a", "b")))
    labels = [label for label, _ in order]
    assert sorted(labels) == ["root", "root.a", "root.b"]
    assert labels[-1] == "root"
    assert all(all(kids_done) for _, kids_done in order)


def test_grandchildren_finish_before_their_parents():
    order = []

    class Leaf(ttTonic):
        def ttse__on_finished(self):
            order.append("leaf")

    class Middle(ttTonic):
        def ttse__on_start(self):
            Leaf()
            Leaf()

        def ttse__on_finished(self):
            order.append("middle")

    class Top(ttTonic):
        def ttse__on_start(self):
            Middle()
            self.tts__stop()

        def tts__stop(self):
            self.finish()

        def ttse__on_finished(self):
            order.append("top")

    run_app(Top)
    assert order == ["leaf", "leaf", "middle", "top"]


def test_infusions_on_other_catalysts_finish_before_their_parent():
    seen = {}

    class Child(ttTonic):
        pass

    class Parent(ttTonic):
        def ttse__on_start(self):
            worker = ttCatalyst(name="worker")
            self.kids = [Child(catalyst=worker), Child(catalyst=worker), Child()]
            self.finish()

        def ttse__on_finished(self):
            seen["kids finished"] = [kid.finished for kid in self.kids]

    run_app(Parent)
    assert seen["kids finished"] == [True, True, True]


def test_sparkle_for_a_finished_tonic_is_dropped_with_a_debug_line(caplog):
    caplog.set_level(logging.DEBUG, logger="tasktonic")
    events = []

    class Target(ttTonic):
        def ttsc__poke(self):
            events.append("poked")

    class Caller(ttTonic):
        def ttse__on_start(self):
            self.target = Target()
            self.target.finish()
            self.tts__later()

        def tts__later(self):
            events.append(("target finished", self.target.finished))
            try:
                self.target.ttsc__poke()
            except Exception as exc:  # the caller must never see one
                events.append(exc)
            events.append("called")
            self.finish()

    run_app(Caller)
    assert events == [("target finished", True), "called"]
    dropped = [r for r in caplog.records
               if r.name == "tasktonic" and r.levelno == logging.DEBUG
               and "ttsc__poke" in r.getMessage()]
    assert dropped, "no debug line for the dropped sparkle"


def test_sparkles_queued_before_finish_still_run():
    events = []

    class Finisher(ttTonic):
        def ttse__on_start(self):
            self.ttsc__one()
            self.ttsc__two()
            self.finish()
            self.ttsc__three()  # queued after the finish: dropped

        def ttsc__one(self):
            events.append("one")

        def ttsc__two(self):
            events.append("two")

        def ttsc__three(self):
            events.append("three")

        def ttse__on_finished(self):
            events.append("finished")

    run_app(Finisher)
    assert events == ["one", "two", "finished"]


def test_an_empty_application_exits():
    called = []
    run_app(lambda: called.append(True), timeout=10)
    assert called == [True]


def test_the_application_exits_when_all_its_tonics_finish():
    finished = []

    class Counter(ttTonic):
        def __init__(self, steps, **kwargs):
            super().__init__(**kwargs)
            self.steps = steps

        def ttse__on_start(self):
            self.tts__step()

        def tts__step(self):
            self.steps -= 1
            if self.steps:
                self.tts__step()
            else:
                self.finish()

        def ttse__on_finished(self):
            finished.append(self.name)

    run_app(lambda: [Counter(n, name=f"c{n}") for n in (1, 10, 100)], timeout=10)
    assert sorted(finished) == ["c1", "c10", "c100"]


def test_unknown_kwargs_raise_type_error_naming_them():
    outcome = []

    def starting():
        with pytest.raises(TypeError) as info:
            Quiet(colour="red", size=3)
        outcome.append(str(info.value))
        accepted = Quiet(srv_url="x://y", ctxt_level="read")
        outcome.append(accepted.finished)
        accepted.finish()

    run_app(starting)
    message, finished = outcome
    assert "colour" in message and "size" in message
    assert finished is False


def test_log_modes_decide_what_is_recorded(list_logger):
    class Chatty(ttTonic):
        def ttse__on_start(self):
            self.log("hello")
            self.to_state("busy")
            self.finish()

        def ttse_busy__on_enter(self):
            pass

    def starting():
        for mode in ("STEALTH", "OFF", "QUIET", "FULL"):
            Chatty(name=mode, log_mode=mode)

    run_app(starting, logger=list_logger)
    kinds = {mode: {r.kind for r in list_logger.records if r.tonic_name == mode}
             for mode in ("STEALTH", "OFF", "QUIET", "FULL")}
    # seed 001 section 8: STEALTH nothing, OFF lifecycle, QUIET + self.log(), FULL + trace
    assert kinds["STEALTH"] == set()
    assert kinds["OFF"] == {"lifecycle"}
    assert kinds["QUIET"] == {"lifecycle", "log"}
    assert kinds["FULL"] >= {"lifecycle", "log", "sparkle", "state"}
    assert "hello" in [r.text for r in list_logger.records if r.tonic_name == "FULL"]


def test_switching_to_full_at_run_time_traces_later_sparkles(list_logger):
    class Late(ttTonic):
        def ttse__on_start(self):
            self.set_log_mode("FULL")
            self.ttsc__traced(1)

        def ttsc__traced(self, value):
            self.finish()

    run_app(lambda: Late(name="late", log_mode="QUIET"), logger=list_logger)
    traced = [r.text for r in list_logger.records if r.tonic_name == "late"
              and r.kind == "sparkle"]
    assert "ttsc__traced(1)" in traced
