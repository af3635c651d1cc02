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


def test_tasktonic_ttTonicStore_has_0_2_4_import_paths():
    import tasktonic
    from tasktonic.distiller import ttDistiller
    from tasktonic.selector import ttSelectorCatalyst
    from tasktonic.ttTonicStore import ttDistiller as pkg_distiller, ttStore as pkg_store
    from tasktonic.ttTonicStore.ttDistiller import ttDistillerFormula
    from tasktonic.ttTonicStore.ttIpSockets import SelectorHandler
    from tasktonic.ttTonicStore.ttStore import ttStore
    from tasktonic.ttTonicStore.ttTimerScheduled import ttTimerEveryMinute, ttTimerScheduled

    assert pkg_distiller is ttDistiller and pkg_store is ttStore is tasktonic.ttStore
    assert ttDistillerFormula is tasktonic.distiller.ttDistillerFormula
    assert SelectorHandler is ttSelectorCatalyst
    assert ttTimerScheduled is tasktonic.ttTimerScheduled
    assert ttTimerEveryMinute is tasktonic.ttTimerEveryMinute


def _family(auto_finish: bool) -> dict:
    seen = {"parent finished": False}

    class Child(ttTonic):
        def ttse__on_start(self):
            self.finish()

    class Parent(ttTonic):
        _tt_auto_finish_without_infusions = auto_finish

        def ttse__on_start(self):
            self.beat = ttTimerSingleShot(3600, sparkle_back=self.ttse__never)  # not a child
            Child()
            Child()

        def ttse__never(self, info):
            raise AssertionError("the hour-long timer fired")

        def ttse__on_finished(self):
            seen["parent finished"] = True

    class Watcher(ttTonic):
        """Ends the application by itself when the parent does not."""

        def ttse__on_start(self):
            self.parent = Parent()
            self.ttsc__look(0)

        def ttsc__look(self, passes):
            if self.parent.finished or passes == 200:
                seen["finished by itself"] = self.parent.finished
                self.parent.finish()
                self.finish()
            else:
                self.ttsc__look(passes + 1)

    class App(ttFormula):
        def creating_formula(self):
            return (("tasktonic/log/to", "off"),)

        def creating_starting_tonics(self):
            Watcher()

    App()
    return seen


def test_auto_finish_without_infusions_is_opt_in():
    assert _family(auto_finish=True)["finished by itself"] is True
    off = _family(auto_finish=False)
    assert off["finished by itself"] is False and off["parent finished"] is True


def test_service_names_and_services_keyed_by_name():
    seen = {}

    class Central(ttCatalyst):
        _tt_is_service = "central_connection_service"

    class IpConnection(Central):
        pass

    class Plain(ttTonic):
        _tt_is_service = "plain_service"

    class PerName(ttTonic):
        _tt_is_service = True

    class OtherPerName(ttTonic):
        _tt_is_service = True

    class User(ttTonic):
        def ttse__on_start(self):
            ledger = ttLedger()
            seen["central"] = Central()            # bound to the concrete one started first
            seen["plain"] = Plain()
            seen["by name"] = (ledger.get_tonic_by_name("central_connection_service"),
                               ledger.get_tonic_by_name("plain_service"))
            a, b, a_again = PerName(name="a"), PerName(name="b"), PerName(name="a")
            seen["per name"] = (a, b, a_again, OtherPerName(name="a"))
            seen["found a"] = ledger.get_tonic_by_name("b")
            try:
                PerName()
            except TypeError as exc:
                seen["no name"] = str(exc)
            self.finish()

    class App(ttFormula):
        def creating_formula(self):
            return (("tasktonic/log/to", "off"),)

        def creating_starting_tonics(self):
            seen["concrete"] = IpConnection()
            User()

    App()
    assert seen["central"] is seen["concrete"] and seen["concrete"].name == \
        "central_connection_service"
    assert seen["by name"] == (seen["concrete"], seen["plain"])
    a, b, a_again, other_a = seen["per name"]
    assert a is a_again and a is not b and a.name == "a" and b.name == "b"
    assert other_a is not a  # another class with True never shares an instance
    assert seen["found a"] is b
    assert "PerName" in seen["no name"] and "name=" in seen["no name"]
