"""The examples of the design seeds, copied with only the import changed, run as tests.

Where a seed example never ends (its tonics never finish) the test subclasses it to finish;
the seed code itself is left as written.
"""
from __future__ import annotations

from tasktonic import *
from tests.conftest import run_app, run_formula

# -- seed 001 quick start ----------------------------------------------------------------

# 1. Define the Logic (The Tonic)
class HelloWorld(ttTonic):
    def __init__(self, name=None, context=None, log_mode=None, catalyst=None):
        super().__init__(name, context, log_mode, catalyst)

    def ttse__on_start(self):
        """Called automatically by the framework on start."""
        self.tts__hello()

    def tts__hello(self):
        self.log('Hello ')
        self.tts__world()

    def tts__world(self):
        self.log('world, ')
        self.tts__welcome()

    def tts__welcome(self):
        self.log('welcome ')
        self.tts__to()

    def tts__to(self):
        self.log('to ')
        self.tts__tasktonic()

    def tts__tasktonic(self):
        self.log('TaskTonic!')
        self.finish()


# 2. Define the Application Structure (The Formula)
class MyApp(ttFormula):
    def creating_formula(self):
        """Configuration settings."""
        return (
            ('tasktonic/log/to', 'screen'),
            ('tasktonic/log/default', ttLog.FULL),
        )

    def creating_main_catalyst(self):
        super().creating_main_catalyst()

    def creating_starting_tonics(self):
        """Define which Tonics start immediately."""
        HelloWorld()


def test_seed_001_hello_world(list_logger):
    class ToList(MyApp):
        def creating_formula(self):
            return tuple(super().creating_formula()) + (('tasktonic/log/to', list_logger),)

    run_formula(ToList)
    mine = [r for r in list_logger.records if r.tonic_name.endswith(".HelloWorld")]
    assert [r.text for r in mine if r.kind == "log"] == [
        'Hello ', 'world, ', 'welcome ', 'to ', 'TaskTonic!']
    sparkles = [r.text.split("(")[0] for r in mine if r.kind == "sparkle"]
    expected = ["ttse__on_start", "tts__hello", "tts__world", "tts__welcome", "tts__to",
                "tts__tasktonic"]
    assert [s for s in sparkles if s in expected] == expected
    # each sparkle's trace comes before the line it logs
    kinds = [(r.kind, r.text) for r in mine if r.kind in ("sparkle", "log")]
    assert kinds.index(("sparkle", "tts__hello()")) < kinds.index(("log", "Hello "))
    assert kinds.index(("log", "Hello ")) < kinds.index(("sparkle", "tts__world()"))
    lifecycle = [r.text for r in mine if r.kind == "lifecycle"]
    assert lifecycle[0] == "started" and lifecycle[-1] == "finished"


# -- seed 000 services -------------------------------------------------------------------

class SharedDatabaseService(ttTonic):
    # The unique framework key for the Ledger
    _tt_is_service = "SharedDatabaseService"

    def __init__(self, srv_db_url, **kwargs):
        """
        Executed EXACTLY once during the very first call.
        """
        super().__init__(**kwargs)
        self.db_url = srv_db_url
        self.authorized_clients = {}
        self.log(f"Database connected at: {self.db_url}")

    def _tt_init_service_base(self, base, ctxt_access_level="read", **kwargs):
        """
        Executed ON EVERY CALL to the service.
        WARNING: This runs in the thread of the CALLER (base)!
        Forward the data directly to the safe Catalyst queue via a sparkle.
        """
        if base is None:
            return
        # Place the registration safely on this service's own queue
        self.ttsc__register_client(base, ctxt_access_level)

    def ttsc__register_client(self, client_instance, access_level):
        """
        Runs SAFELY within the Service Catalyst's own thread.
        """
        client_id = client_instance.id
        self.authorized_clients[client_id] = {
            "instance": client_instance,
            "level": access_level
        }
        self.log(f"Client {client_id} registered with level: {access_level}")


class DataAnalyzer(ttTonic):
    def ttse__on_start(self):
        # Request the database. Provide srv_ args in case we are the first.
        # Provide ctxt_ args specific to our own session.
        self.database = SharedDatabaseService(
            srv_db_url="postgresql://localhost:5432/prod",
            ctxt_access_level="write"
        )

    def ttsc__process_measurement(self, measurement_data):
        # Communicate via the service's asynchronous command queue
        self.database.ttsc__write_record(measurement_data)


class Laboratory(ttTonic):
    """Test driver: starts two analyzers, lets them meet the service, then ends."""

    def ttse__on_start(self):
        self.analyzers = [DataAnalyzer(), DataAnalyzer()]
        self.polls = 0
        self.tts__poll()

    def tts__poll(self):
        # FIFO on one catalyst: a bounded number of passes lets every queued sparkle run
        self.polls += 1
        service = getattr(self.analyzers[-1], "database", None)
        if (service is not None and len(service.authorized_clients) == 2) or self.polls > 1000:
            self.finish()
        else:
            self.tts__poll()


def test_seed_000_database_service_with_two_consumers(list_logger):
    seen = {}

    def starting():
        seen["lab"] = Laboratory()

    run_app(starting, logger=list_logger)
    first, second = seen["lab"].analyzers
    service = first.database
    assert second.database is service
    assert type(service) is SharedDatabaseService
    assert service.db_url == "postgresql://localhost:5432/prod"
    texts = list_logger.texts("log")
    assert texts.count("Database connected at: postgresql://localhost:5432/prod") == 1
    # seed 000 §3: the hook gets the calling tonic on every access, the creating one too, so
    # the first client registers its access level as well (the service's own base stays None)
    assert service.base is None
    assert service.authorized_clients == {
        first.id: {"instance": first, "level": "write"},
        second.id: {"instance": second, "level": "write"}}
    assert f"Client {first.id} registered with level: write" in texts
    assert f"Client {second.id} registered with level: write" in texts



class RecordingDatabase(SharedDatabaseService):
    """Completes the seed's service with the ttsc__write_record its consumers call."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.records = []

    def ttsc__write_record(self, record):
        self.records.append(record)


def test_seed_000_consumers_use_the_service_started_by_the_formula():
    seen = {}

    class Analyze(ttTonic):
        def ttse__on_start(self):
            self.analyzers = [DataAnalyzer(), DataAnalyzer()]
            self.tts__measure()

        def tts__measure(self):
            for n, analyzer in enumerate(self.analyzers):
                analyzer.ttsc__process_measurement({"sensor": n, "value": 20.5 + n})
            self.finish()

    def starting():
        seen["db"] = RecordingDatabase(srv_db_url="sqlite://:memory:")
        Analyze()

    run_app(starting)
    db = seen["db"]
    assert db.db_url == "sqlite://:memory:"
    assert sorted(c["level"] for c in db.authorized_clients.values()) == ["write", "write"]
    assert db.records == [{"sensor": 0, "value": 20.5}, {"sensor": 1, "value": 21.5}]
    assert db.finished  # torn down with the application


# -- seed 002 MathWorker -----------------------------------------------------------------

class MathWorker(ttCatalyst):
    def ttsc__crunch_numbers(self):
        self.log("Starting heavy NumPy processing...")
        # This blocks THIS Catalyst's thread, but the Main Catalyst stays responsive!
        # import numpy as np ... heavy math here ...
        result = 42

        # Send the result back to the parent that created us
        self.base.ttse__on_math_done(result)


class MainApp(ttTonic):
    def ttse__on_start(self):
        # Spawns the worker in its own dedicated thread!
        self.worker = MathWorker()
        self.worker.ttsc__crunch_numbers()
        self.log("Worker is busy, but I am still free to react to UI events!")

    def ttse__on_math_done(self, result):
        self.log(f"The heavy lifting is done! Result: {result}")


def test_seed_002_math_worker(list_logger):
    class FinishingMainApp(MainApp):
        def ttse__on_math_done(self, result):
            super().ttse__on_math_done(result)
            self.finish()

    run_app(FinishingMainApp, logger=list_logger)
    texts = list_logger.texts("log")
    assert "Starting heavy NumPy processing..." in texts
    busy = texts.index("Worker is busy, but I am still free to react to UI events!")
    assert texts.index("The heavy lifting is done! Result: 42") > busy
    workers = {r.tonic_name for r in list_logger.records
               if r.text == "Starting heavy NumPy processing..."}
    assert len(workers) == 1 and workers.pop().endswith(".MathWorker")
