"""The distiller's TaskTonic 0.2.4 API: formula hand-over, status dicts, contract dicts."""
from __future__ import annotations

import io
import threading

import pytest

from tasktonic import ttFormula, ttLedger, ttTonic
from tasktonic.distiller import DistillerStep, ttDistiller
from tests.test_distiller import Asker, Waiter

TRACE_KEYS = {"id", "tonic", "sparkle", "args", "kwargs", "at_enter", "at_exit"}
MOMENT_KEYS = {"@", "state", "probes"}


class Pump(ttTonic):
    def ttse__on_start(self):
        self.pumped = 0
        self.log_book = []
        self.to_state("idle")

    def ttsc_idle__start(self, speed=1):
        self.speed = speed
        self.to_state("pumping")

    def ttsc_pumping__pump(self, litres=1):
        self.pumped += litres
        self.log_book.append(litres)

    def ttsc_pumping__stop(self):
        self.to_state("idle")


class PumpFormula(ttFormula):
    def creating_formula(self):
        return (("tasktonic/log/to", "off"), ("tasktonic/project/name", "pump test"))

    def creating_main_catalyst(self):
        ttDistiller()

    def creating_starting_tonics(self):
        Pump(name="pump")
        Pump(name="spare")


def main_distiller() -> ttDistiller:
    dist = ttLedger().main_catalyst
    assert isinstance(dist, ttDistiller)
    return dist


def summary(status):
    return [(t["tonic"], t["sparkle"], t["at_enter"]["state"], t["at_exit"]["state"])
            for t in status["sparkle_trace"]]


# -- the formula hands the application over to the test -------------------------------------

def test_plain_formula_with_a_distiller_returns_after_the_starting_tonics():
    PumpFormula()  # returns: the loop is not run
    ledger = ttLedger()
    dist = main_distiller()
    pump = ledger.get_tonic_by_name("pump")
    assert pump is not None and ledger.get_tonic_by_name("spare") is not None
    assert pump.get_active_state() == "--"  # nothing ran yet
    assert ledger.setting("tasktonic/project/name") == "pump test"  # settings kept
    assert ledger.setting("tasktonic/project/status") == "main_running"
    assert isinstance(dist.distilled_formula, PumpFormula)
    status = dist.sparkle()
    assert status["status"] == "running" and status["stop_condition"] == ["idle"]
    assert pump.get_active_state() == "idle"
    assert ledger.main_catalyst is dist  # still alive after sparkling
    dist.finish_distiller()
    assert ledger.main_catalyst is None and ledger.get_tonic_by_name("pump") is None


def test_teardown_test_environment_ends_a_formula_application_with_a_worker():
    class App(ttFormula):
        def creating_formula(self):
            return (("tasktonic/log/to", "off"),)

        def creating_main_catalyst(self):
            ttDistiller()

        def creating_starting_tonics(self):
            Asker(name="asker")

    App()
    dist = main_distiller()
    status = dist.sparkle(till_sparkle_in="ttse__on_pong", timeout=10.0)
    assert status["stop_condition"] == ["sparkle_trigger: [ttse__on_pong]"]
    asker = ttLedger().get_tonic_by_name("asker")
    assert asker.pong_thread != threading.get_ident()
    dist.teardown_test_environment()
    assert ttLedger().main_catalyst is None
    assert not [t for t in threading.enumerate() if t.name == "worker"]


def test_a_failing_starting_tonic_tears_the_distilled_application_down():
    class Broken(PumpFormula):
        def creating_starting_tonics(self):
            Pump(name="pump")
            raise ValueError("no second pump")

    with pytest.raises(ValueError, match="no second pump"):
        Broken()
    assert ttLedger().main_catalyst is None


# -- the status dict ------------------------------------------------------------------------

def test_status_dict_and_trace_entries_have_the_024_shape():
    PumpFormula()
    dist = main_distiller()
    pump = ttLedger().get_tonic_by_name("pump")
    pump.ttsc__start(speed=3)
    pump.ttsc__pump(5)
    status = dist.sparkle(contract={"probes": ["pumped", "speed"]})
    assert {"status", "start@", "end@", "stop_condition", "sparkle_trace"} <= set(status)
    assert "contract_details" not in status  # only with a contract's tonics
    assert status["start@"] <= status["end@"]
    trace = status["sparkle_trace"]
    assert all(set(t) == TRACE_KEYS for t in trace)
    assert all(set(t["at_enter"]) == MOMENT_KEYS == set(t["at_exit"]) for t in trace)
    pumps = [t for t in trace if t["tonic"] == "pump"]
    assert [(t["sparkle"], t["at_enter"]["state"], t["at_exit"]["state"]) for t in pumps] == [
        ("ttse__on_start", "--", "--"),
        ("to_state", "--", "idle"),
        ("ttsc__start", "idle", "idle"),
        ("to_state", "idle", "pumping"),
        ("ttsc__pump", "pumping", "pumping"),
    ]
    assert all(t["id"] == pump.id for t in pumps)
    start, pumped = pumps[2], pumps[4]
    assert start["args"] == () and start["kwargs"] == {"speed": 3}
    assert pumped["args"] == (5,) and pumped["kwargs"] == {}
    assert pumps[1]["args"] == ("idle",)
    # probes: attributes the tonic has, before and after the sparkle
    assert pumps[0]["at_enter"]["probes"] == {} and pumps[0]["at_exit"]["probes"] == {"pumped": 0}
    assert start["at_enter"]["probes"] == {"pumped": 0}
    assert start["at_exit"]["probes"] == {"pumped": 0, "speed": 3}
    assert pumped["at_enter"]["probes"]["pumped"] == 0
    assert pumped["at_exit"]["probes"]["pumped"] == 5
    assert all(t["at_enter"]["@"] <= t["at_exit"]["@"] for t in trace)
    dist.finish_distiller()


def test_probes_are_snapshots():
    PumpFormula()
    dist = main_distiller()
    pump = ttLedger().get_tonic_by_name("pump")
    pump.ttsc__start()
    pump.ttsc__pump(1)
    pump.ttsc__pump(2)
    status = dist.sparkle(contract={"tonics": {"pump": {"probes": ["log_book"]}},
                                    "stop_match_count": 1}, sparkle_count=10)
    books = [t["at_exit"]["probes"].get("log_book") for t in status["sparkle_trace"]
             if t["sparkle"] == "ttsc__pump"]
    assert books == [[1], [1, 2]]  # the first is not the live list
    spare = [t for t in status["sparkle_trace"] if t["tonic"] == "spare"]
    assert spare and all(t["at_exit"]["probes"] == {} for t in spare)  # no global probes
    dist.finish_distiller()


# -- stop conditions ------------------------------------------------------------------------

def test_stop_on_sparkle_count_state_and_sparkle():
    PumpFormula()
    dist = main_distiller()
    pump = ttLedger().get_tonic_by_name("pump")
    pump.ttsc__start()
    pump.ttsc__stop()
    status = dist.sparkle(sparkle_count=1)
    assert status["stop_condition"] == ["sparkle_count"]
    assert [t["sparkle"] for t in status["sparkle_trace"]] == ["ttse__on_start", "to_state"]
    status = dist.sparkle(till_state_in=["pumping"])
    assert status["stop_condition"] == ["state_trigger: [pumping]"]
    assert status["sparkle_trace"][-1]["at_exit"]["state"] == "pumping"
    status = dist.sparkle(till_sparkle_in="ttsc__stop")
    assert status["stop_condition"] == ["sparkle_trigger: [ttsc__stop]"]
    assert summary(status)[0] == ("pump", "ttsc__stop", "pumping", "pumping")
    assert dist.sparkle(sparkle_count=0)["sparkle_trace"] == []
    assert dist.sparkle(steps=0)["stop_condition"] == ["sparkle_count"]  # the docs' name
    dist.finish_distiller()


def test_timeout_waits_for_timers_and_idle_does_not():
    fired: list = []
    dist = ttDistiller()
    waiter = Waiter(fired, name="waiter")
    status = dist.sparkle()
    assert status["stop_condition"] == ["idle"] and fired == []
    waiter.ttsc__soon()
    status = dist.sparkle(timeout=10.0, till_sparkle_in="ttse__on_timer")
    assert status["stop_condition"] == ["sparkle_trigger: [ttse__on_timer]"]
    assert fired == ["soon"]
    status = dist.sparkle(timeout=0.01)  # only the hour timer left: the timeout ends it
    assert status["stop_condition"] == ["timeout"] and status["sparkle_trace"] == []
    dist.finish_distiller()


def test_finishing_shows_catalyst_finished():
    dist = ttDistiller()
    Pump(name="pump")
    dist.sparkle()
    dist.finish()
    status = dist.sparkle(timeout=10.0)
    assert status["status"] == "catalyst finished"
    assert status["stop_condition"] == ["catalyst finished"]
    assert [(t["tonic"], t["sparkle"]) for t in status["sparkle_trace"]] == [
        ("tt_main_catalyst", "ttsc__finish"), ("pump", "ttsc__finish")]
    assert dist.sparkle(timeout=10.0)["stop_condition"] == ["catalyst finished"]  # at once
    dist.teardown_test_environment()
    assert ttLedger().main_catalyst is None


def test_finish_distiller_returns_the_finishing_status():
    dist = ttDistiller()
    Pump(name="pump")
    dist.sparkle()
    status = dist.finish_distiller()
    assert status["status"] == "catalyst finished"
    assert "catalyst finished" in status["stop_condition"]
    assert any(t["tonic"] == "pump" for t in status["sparkle_trace"])
    assert ttLedger().main_catalyst is None


# -- contracts ------------------------------------------------------------------------------

def test_keyword_arguments_override_the_contract():
    PumpFormula()
    dist = main_distiller()
    pump = ttLedger().get_tonic_by_name("pump")
    pump.ttsc__start()
    contract = {"till_state_in": ["pumping"], "timeout": 10.0}
    status = dist.sparkle(contract=contract, till_state_in="idle")
    assert status["stop_condition"] == ["state_trigger: [idle]"]
    assert pump.get_active_state() == "idle"  # stopped before the start ran
    status = dist.sparkle(contract=contract)  # the contract's own condition
    assert status["stop_condition"] == ["state_trigger: [pumping]"]
    assert contract == {"till_state_in": ["pumping"], "timeout": 10.0}  # not changed
    dist.finish_distiller()


def test_tonics_rules_and_stop_match_count():
    def fresh():
        PumpFormula()
        ledger = ttLedger()
        pump, spare = ledger.get_tonic_by_name("pump"), ledger.get_tonic_by_name("spare")
        pump.ttsc__start()
        pump.ttsc__pump(2)
        spare.ttsc__start()
        return main_distiller(), pump, spare

    rules = {"pump": {"stop_on_probe": {"pumped": 2}},
             "spare": {"till_state_in": ["pumping"], "till_sparkle_in": ["ttsc__start"]}}
    dist, pump, spare = fresh()
    status = dist.sparkle(contract={"tonics": rules})  # stop_match_count 1 by default
    assert status["stop_condition"] == ["contract_met"]
    assert status["contract_details"] == {  # the pump's probe holds first
        "match_count": 1, "target_count": 1,
        "matched_tonics": {"pump": ["probe: pumped == 2"]}}
    assert summary(status)[-1] == ("pump", "ttsc__pump", "pumping", "pumping")
    assert spare.get_active_state() == "idle"  # its start has not run
    dist.finish_distiller()

    dist, pump, spare = fresh()
    status = dist.sparkle(contract={"tonics": rules, "stop_match_count": "all"})
    details = status["contract_details"]
    assert status["stop_condition"] == ["contract_met"]
    assert details["match_count"] == 2 and details["target_count"] == 2
    assert details["matched_tonics"] == {"pump": ["probe: pumped == 2"],
                                         "spare": ["sparkle: 'ttsc__start'"]}
    # the step that met the contract ends with the transition its sparkle caused
    assert summary(status)[-2:] == [("spare", "ttsc__start", "idle", "idle"),
                                    ("spare", "to_state", "idle", "pumping")]
    dist.finish_distiller()

    dist, pump, spare = fresh()
    status = dist.sparkle(contract={"tonics": {"pump": {"till_state_in": ["broken"]}}})
    assert status["stop_condition"] == ["idle"]  # never matched: ran out of work
    assert status["contract_details"]["match_count"] == 0
    dist.finish_distiller()


def test_bad_contracts_and_arguments_raise():
    dist = ttDistiller()
    for bad in ({"timout": 1}, {"tonics": ["pump"]}, {"tonics": {"pump": {"state": "x"}}},
                {"stop_match_count": 0}, {"tonics": {"p": {"stop_on_probe": ["x"]}}}, 42):
        with pytest.raises(TypeError):
            dist.sparkle(contract=bad)
    with pytest.raises(TypeError):
        dist.sparkle(sparkle_count=-1)
    with pytest.raises(TypeError):
        dist.sparkle(timeout="soon")
    with pytest.raises(TypeError):
        dist.sparkle(sparkle_count=1, steps=1)
    with pytest.raises(TypeError):
        dist.run_steps(contract={"timeout": 1})
    dist.finish_distiller()


def test_a_step_list_contract_still_checks_the_trace():
    dist = ttDistiller()
    pump = Pump(name="pump")
    pump.ttsc__start()
    status = dist.sparkle(contract=["pump.ttse__on_start", "pump@idle", "pump@pumping"])
    assert isinstance(status, dict)
    pump.ttsc__stop()
    with pytest.raises(AssertionError, match="pump@pumping"):
        dist.sparkle(contract=["pump@pumping"])
    assert all(isinstance(s, DistillerStep) for s in dist.trace)
    dist.finish_distiller()


def test_documented_shorthands():
    dist = ttDistiller()
    pump = Pump(name="pump")
    status = dist.run_until_state(pump, target_state="idle")
    assert status["stop_condition"] == ["contract_met"] and pump.get_active_state() == "idle"
    dist.inject_sparkle(pump.ttsc__start, 7)
    status = dist.run_until_sparkle(pump, target_sparkle="ttsc__start")
    assert status["stop_condition"] == ["contract_met"] and pump.speed == 7
    with pytest.raises(TypeError):
        dist.inject_sparkle(print, 1)
    dist.finish_distiller()


# -- printing -------------------------------------------------------------------------------

def test_stat_print_filters_by_tonic_id():
    PumpFormula()
    dist = main_distiller()
    ledger = ttLedger()
    pump, spare = ledger.get_tonic_by_name("pump"), ledger.get_tonic_by_name("spare")
    status = dist.sparkle(contract={"probes": ["pumped"]})
    out = io.StringIO()
    dist.stat_print(status, filter=spare.id, stream=out)
    text = out.getvalue()
    assert "spare.ttse__on_start" in text and "pump." not in text
    assert f"{spare.id:03d} - spare" in text and "pumped: '-' -> 0" in text
    assert ">> stopped: ['idle']" in text
    out = io.StringIO()
    dist.stat_print([("first", status)], filter=[pump.id, spare.id], stream=out)
    assert "--- first ---" in out.getvalue() and "pump.ttse__on_start" in out.getvalue()
    with pytest.raises(TypeError):
        dist.stat_print(status, filter="pump")
    dist.finish_distiller()


# -- code from 0.2.4's documentation --------------------------------------------------------

DOCS_EXAMPLE = '''
# 0.2.4: from TaskTonic import * / from TaskTonic.ttTonicStore import ttDistiller
from tasktonic import *


class Downloader(ttTonic):
    def ttse__on_start(self):
        self.download_count = 0
        self.to_state('waiting')

    def ttsc_waiting__download(self, files):
        self.files = files
        self.to_state('downloading')

    def ttse_downloading__on_enter(self):
        self.ttsc__chunk()

    def ttsc_downloading__chunk(self):
        self.download_count += 1
        if self.download_count < len(self.files):
            self.ttsc__chunk()
        else:
            self.to_state('saving')

    def ttse_saving__on_enter(self):
        self.saved = True


class DownloadTest(ttFormula):
    def creating_main_catalyst(self):
        ttDistiller()

    def creating_starting_tonics(self):
        Downloader(name='downloader')


DownloadTest()
distiller = ttLedger().get_tonic_by_name('tt_main_catalyst')
downloader = ttLedger().get_tonic_by_name('downloader')

status = distiller.sparkle(till_state_in=['waiting'])
assert status['stop_condition'] == ['state_trigger: [waiting]'], status['stop_condition']

downloader.ttsc__download(['a', 'b', 'c', 'd', 'e'])
status = distiller.sparkle(contract={
    'timeout': 5.0,
    'probes': ['download_count'],
    'tonics': {'downloader': {'till_state_in': ['saving']}},
})
assert 'contract_met' in status['stop_condition']
assert status['contract_details']['matched_tonics'] == {'downloader': ["state: 'saving'"]}
assert downloader.download_count == 5
chunks = [t for t in status['sparkle_trace'] if t['sparkle'] == 'ttsc__chunk']
assert [t['at_exit']['probes']['download_count'] for t in chunks] == [1, 2, 3, 4, 5]
distiller.stat_print(status, filter=downloader.id)
result = distiller.finish_distiller()
'''


def test_docs_style_example_runs_with_only_the_import_changed(capsys):
    namespace: dict = {}
    exec(compile(DOCS_EXAMPLE, "<0.2.4 docs example>", "exec"), namespace)
    assert namespace["result"]["status"] == "catalyst finished"
    assert "downloader.ttsc__chunk" in capsys.readouterr().out
    assert ttLedger().main_catalyst is None
