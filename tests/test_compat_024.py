"""Names code written for TaskTonic 0.2.4 relies on (issue: conformance, 0.2.4's public API)."""
from __future__ import annotations

from tasktonic import ttCatalyst, ttFormula, ttLedger, ttTimerSingleShot, ttTonic


def test_every_essence_and_the_formula_carry_the_ledger():
    seen = {}

    class Service(ttTonic):
        _tt_is_service = "ledger_service"

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            seen["service init"] = self.ledger

    class Worker(ttTonic):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            seen["tonic init"] = self.ledger

        def ttse__on_start(self):
            seen["sparkle"] = self.ledger
            seen["catalyst"] = self.catalyst.ledger
            seen["timer"] = ttTimerSingleShot(0, sparkle_back=self.ttse__done).ledger
            seen["service"] = Service().ledger
            seen["records"] = dict(self.ledger.records)

        def ttse__done(self, info):
            self.finish()

    class App(ttFormula):
        def creating_formula(self):
            seen["formula settings"] = self.ledger
            return (("tasktonic/log/to", "off"),)

        def creating_main_catalyst(self):
            seen["main"] = ttCatalyst().ledger

        def creating_starting_tonics(self):
            seen["formula starting"] = self.ledger
            Worker()

    app = App()
    ledger = ttLedger()
    for key in ("formula settings", "main", "formula starting", "tonic init", "sparkle",
                "catalyst", "timer", "service", "service init"):
        assert seen[key] is ledger, key
    assert any(type(e).__name__ == "Worker" for e in seen["records"].values())
    assert app.ledger is ledger  # on the formula after it returned


def test_a_subclass_that_assigns_its_own_ledger_keeps_it():
    seen = {}

    class Own(ttTonic):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.ledger = {"mine": True}

        def ttse__on_start(self):
            seen["ledger"] = self.ledger
            self.finish()

    class App(ttFormula):
        def creating_formula(self):
            return (("tasktonic/log/to", "off"),)

        def creating_starting_tonics(self):
            Own()

    App()
    assert seen["ledger"] == {"mine": True}
