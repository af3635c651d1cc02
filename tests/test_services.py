"""Services (seed 000): one instance, per-access hook, base classes, service_bases."""
from __future__ import annotations

import threading

from tasktonic import ttCatalyst, ttTimerSingleShot, ttTonic
from tests.conftest import run_app


class Counted(ttTonic):
    """A service that records its construction and every access."""

    _tt_is_service = "counted_service"

    def __init__(self, srv_url="default", **kwargs):
        super().__init__(**kwargs)
        self.url = srv_url
        self.inits = getattr(self, "inits", 0) + 1
        self.accesses = []
        self.old_accesses = []

    def _tt_init_service_base(self, base, ctxt_level="read", **kwargs):
        self.accesses.append((base, ctxt_level, threading.get_ident(), kwargs))

    def _init_service(self, context, **kwargs):
        self.old_accesses.append((context, kwargs))

    def ttsc__ping(self, who):
        who.ttse__pong(self)


class Consumer(ttTonic):
    def __init__(self, via_bind=False, level="write", **kwargs):
        super().__init__(**kwargs)
        self.via_bind = via_bind
        self.level = level

    def ttse__on_start(self):
        if self.via_bind:
            self.service = self.bind(Counted, srv_url="bound://", ctxt_level=self.level)
        else:
            self.service = Counted(srv_url="first://", ctxt_level=self.level)
        self.thread = threading.get_ident()
        self.finish()


def test_service_is_created_once_and_hooked_on_every_access():
    consumers = []

    def starting():
        consumers.append(Consumer(level="write"))
        consumers.append(Consumer(level="admin"))
        consumers.append(Consumer(via_bind=True, level="read"))

    run_app(starting)
    first, second, third = consumers
    service = first.service
    assert second.service is service and third.service is service
    assert service.inits == 1
    assert service.url == "first://"           # srv_ args of later accesses are ignored
    assert [a[0] for a in service.accesses] == [first, second, third]  # the creator too
    assert service.base is None  # the creator is not its base (seed 000 §6)
    assert [a[1] for a in service.accesses] == ["write", "admin", "read"]
    assert all(a[2] == first.thread for a in service.accesses)  # the caller's thread
    assert all(a[3] == {} for a in service.accesses)
    assert [c for c, _ in service.old_accesses] == [first, second, third]
    assert [k for _, k in service.old_accesses] == [{"ctxt_level": "write"},
                                                    {"ctxt_level": "admin"},
                                                    {"ctxt_level": "read"}]


def test_hook_runs_in_the_callers_thread_for_a_service_on_its_own_catalyst():
    seen = {}

    class Remote(ttCatalyst):
        _tt_is_service = "remote_service"

        def _tt_init_service_base(self, base, **kwargs):
            seen.setdefault("hook threads", []).append(threading.get_ident())

        def ttsc__where(self, who):
            who.ttse__answer(threading.get_ident())

    class User(ttTonic):
        def ttse__on_start(self):
            seen["user thread"] = threading.get_ident()
            Remote().ttsc__where(self)

        def ttse__answer(self, ident):
            seen["service thread"] = ident
            self.finish()

    run_app(User)
    assert seen["hook threads"] == [seen["user thread"]]
    assert seen["service thread"] != seen["user thread"]


# -- seed 000: a base-class service bound to the concrete one the formula started ------

class ConnectionService(ttCatalyst):
    """
    The universal contract class. Consumers will instantiate this class.
    """
    _tt_is_service = "central_connection_service"

    def ttsc__send_packet(self, payload):
        pass


class IpConnectionService(ConnectionService):
    """
    The actual network implementation.
    """
    def __init__(self, srv_host, srv_port, **kwargs):
        super().__init__(**kwargs)
        self.host = srv_host
        self.port = srv_port
        self.sent = []
        self.to_state("disconnected")

    def ttsc_disconnected__send_packet(self, payload):
        self.sent.append(("refused", payload, self.get_active_state()))

    def ttsc_connected__send_packet(self, payload):
        self.sent.append(("sent", payload, self.get_active_state()))


def test_base_class_service_binds_to_the_concrete_service_started_first():
    seen = {}

    class Sender(ttTonic):
        def ttse__on_start(self):
            self.connection = ConnectionService()
            self.connection.ttsc__send_packet(b"hello")
            self.finish()

    def starting():
        seen["service"] = IpConnectionService(srv_host="10.0.0.1", srv_port=5000)
        seen["sender"] = Sender()

    run_app(starting)
    service, sender = seen["service"], seen["sender"]
    assert type(sender.connection) is IpConnectionService
    assert sender.connection is service
    assert (service.host, service.port) == ("10.0.0.1", 5000)
    assert service.sent == [("refused", b"hello", "disconnected")]


# -- service_bases bookkeeping and teardown ----------------------------------------------

def test_service_bases_and_teardown_when_the_last_base_finishes():
    log = []

    class Tracked(ttTonic):
        _tt_is_service = "tracked_service"

        def __init__(self, watcher=None, **kwargs):
            super().__init__(**kwargs)
            self.watcher = watcher

        def ttse__on_service_base_completed(self, base):
            log.append(("base completed", base.name, [b.name for b in self.service_bases],
                        self.finished))
            self.watcher.ttsc__base_gone(base)

        def ttse__on_finished(self):
            log.append(("service finished",))
            self.watcher.ttsc__service_gone()

    class User(ttTonic):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.service = Tracked()

    class Watcher(ttTonic):
        def ttse__on_start(self):
            self.service = Tracked(watcher=self)  # the first access: created, base None
            self.users = [User(name="u1"), User(name="u2")]
            log.append(("bases", [b.name for b in self.service.service_bases],
                        [self.service in u.infusions for u in self.users]))
            self.users[0].finish()

        def ttsc__base_gone(self, base):
            if base is self.users[0]:
                log.append(("after u1", self.service.finished))
                self.users[1].finish()

        def ttsc__service_gone(self):
            self.finish()

    run_app(Watcher, timeout=10)
    assert log == [
        ("bases", ["u1", "u2"], [True, True]),
        ("base completed", "u1", ["u2"], False),
        ("after u1", False),
        ("base completed", "u2", [], False),
        ("service finished",),
    ]


def test_service_outlives_the_tonic_that_created_it():
    """Seed 000 'first creation isolation': the creator is not the service's base."""
    outcome = []

    class Echo(ttTonic):
        _tt_is_service = "echo_service"

        def ttsc__ping(self, who):
            who.ttse__pong(self)

    class Creator(ttTonic):
        def ttse__on_start(self):
            self.echo = Echo()
            self.finish()

        def ttse__on_finished(self):
            self.base.ttsc__creator_gone(self.echo)

    class Main(ttTonic):
        def ttse__on_start(self):
            Creator()

        def ttsc__creator_gone(self, echo):
            outcome.append(("base", echo.base, "finished", echo.finished))
            self.echo = Echo()
            outcome.append(self.echo is echo)
            self.echo.ttsc__ping(self)
            self.bind(ttTimerSingleShot, 5.0, sparkle_back=self.ttse__no_answer)

        def ttse__pong(self, echo):
            outcome.append("pong")
            self.finish()

        def ttse__no_answer(self, info):
            outcome.append("no answer")
            self.finish()

    run_app(Main, timeout=15)
    assert outcome == [("base", None, "finished", False), True, "pong"]


def test_service_catalyst_outlives_the_short_tonics_it_hosts_while_it_has_bases():
    """A service catalyst serving requests with one short-lived tonic per request."""
    replies = []

    class Session(ttTonic):
        def __init__(self, client, n, **kwargs):
            super().__init__(**kwargs)
            self.client, self.n = client, n

        def ttsc__handle(self):
            self.finish()

        def ttse__on_finished(self):
            # queued on the server behind the rest of this finishing, which unhosts the
            # session: the reply leaves a server that hosts no tonic at all
            self.catalyst.ttsc__reply(self.client, self.n)

    class Server(ttCatalyst):
        _tt_is_service = "session_server"

        def ttsc__request(self, client, n):
            Session(client, n).ttsc__handle()  # hosted on this catalyst

        def ttsc__reply(self, client, n):
            replies.append(("hosted when replying", n, sorted(t.name for t in self.hosted)))
            client.ttse__reply(n)

    class Client(ttTonic):
        def ttse__on_start(self):
            self.server = Server()   # a base of the service started by the formula
            self.server.ttsc__request(self, 1)

        def ttse__reply(self, n):
            replies.append(n)
            if n == 1:   # the next request, to the server that has just emptied
                self.server.ttsc__request(self, 2)
                self.bind(ttTimerSingleShot, 5.0, sparkle_back=self.ttse__give_up)
            else:
                self.finish()

        def ttse__give_up(self, info):
            replies.append(("no reply; server finished:", self.server.finished))
            self.finish()

    def starting():
        Server()
        Client()

    run_app(starting, timeout=15)
    assert replies == [("hosted when replying", 1, []), 1, ("hosted when replying", 2, []), 2]
