"""The daemon: a tasktonic application that hosts one object (or tonic service) for the user.

Why an application: every connection is a ``Session`` tonic on the main ``ttSelectorCatalyst``
(one thread, non-blocking sockets, so a client that stalls or stops reading blocks nobody), and
the hosted object runs on a catalyst of its own, one call at a time, in arrival order. A session
is a small state machine: ``auth`` reads the fixed-size handshake as raw bytes and nothing else;
only in ``ready`` are frames cut (capped) and decoded. Each session has a stall timer: no
handshake, or a frame left incomplete, for ``io_timeout`` seconds closes that connection.
The ``Listener`` counts authenticated clients; with none for ``idle_ttl`` seconds (from
start-up too) it removes the runtime files and ends the application, and so the process.

Run as ``python -m tasktonic.local.daemon --name N --factory module:attr ...`` (the handle does).
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any, Protocol

from .. import ttCatalyst, ttFormula, ttTimerSingleShot, ttTonic
from ..net import ttTcpConnection
from ..selector import EVENT_READ, ttSelectorCatalyst
from . import wire
from .errors import ProtocolError
from .runtime_dir import RuntimeFiles
from .service import ServiceHosting, service_class

__all__ = ["DaemonConfig", "Hosting", "Listener", "Session", "ObjectHost",
           "main", "resolve_factory", "run"]

_log = logging.getLogger("tasktonic.local")

#: The longest Unix socket path we bind (sun_path is 104-108 bytes); longer goes to TCP.
_MAX_UNIX_PATH = 100
_ACCEPT_BURST = 16


@dataclass(frozen=True)
class DaemonConfig:
    name: str
    factory: str
    serializer: str
    idle_ttl: float
    io_timeout: float
    max_frame: int


def resolve_factory(path: str) -> Any:
    """Import ``module:attribute`` (the attribute may be dotted)."""
    module_name, _, attr = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    return target


def _error_reply(exc: BaseException, codec: wire.Codec, text: str | None = None) -> bytes:
    return codec.dumps(wire.error_message(exc, text))


class Hosting(Protocol):
    """What the daemon hosts: a plain object (``ObjectHost``) or a tonic service
    (``tasktonic.local.service.ServiceHosting``)."""

    def codec_for(self, session: Session) -> wire.Codec: ...

    def handle(self, session: Session, op: str, message: list) -> None: ...

    def finish(self) -> None: ...


class ObjectHost(ttTonic):
    """The factory's object, on a catalyst of its own: calls run one at a time, in order."""

    def __init__(self, factory: Any, config: DaemonConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.obj = factory()
        self.codec = wire.Codec(config.serializer)
        self.max_frame = config.max_frame

    def codec_for(self, session: Session) -> wire.Codec:
        return wire.Codec(self.codec.serializer)

    def handle(self, session: Session, op: str, message: list) -> None:
        if op != "call" or len(message) != 4 or not isinstance(message[1], str) \
                or not isinstance(message[2], list) or not isinstance(message[3], dict):
            raise ProtocolError(f"this daemon hosts an object: expected ['call', method, args, "
                                f"kwargs], got operation {op!r}")
        self.ttsc__call(session, message[1], message[2], message[3])

    def ttsc__call(self, session: Session, method: str, args: list, kwargs: dict) -> None:
        session.ttsc__send_payload(self._outcome(method, args, kwargs))

    def _outcome(self, method: str, args: list, kwargs: dict) -> bytes:
        if method.startswith("_"):
            return _error_reply(PermissionError(f"method {method!r} is private: the daemon "
                                               "refuses names starting with '_'"), self.codec, "")
        try:
            result = getattr(self.obj, method)(*args, **kwargs)
        except Exception as exc:
            return _error_reply(exc, self.codec)
        try:
            return self.codec.dumps(["ok", result])
        except (TypeError, ValueError) as exc:
            return _error_reply(exc, self.codec, f"the result of {method}() cannot be sent")


class Session(ttTonic):
    """One client connection: handshake on raw bytes, then framed messages."""

    _tt_states = ("auth", "ready", "closed")

    def __init__(self, sock: socket.socket, listener: Listener, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = listener.config
        self.listener = listener
        self.config = config
        self.authenticated = False
        self.challenge = secrets.token_bytes(32)
        self.inbox = bytearray()
        self.reader = wire.FrameReader(config.max_frame)
        self.codec = listener.hosting.codec_for(self)
        self.conn = ttTcpConnection(sock, owner=self, max_buffer=2 * config.max_frame + 4096,
                                    catalyst=self.catalyst)
        self.stall = ttTimerSingleShot(config.io_timeout, sparkle_back=self.ttse__on_stall)

    def ttse__on_start(self) -> None:
        self.to_state("auth")
        self.conn.ttsc__send(wire.hello(self.challenge))

    # -- auth: raw bytes only ----------------------------------------------------------
    def ttse_auth__on_tcp_data(self, conn: ttTcpConnection, data: bytes) -> None:
        self.inbox += data
        if len(self.inbox) < wire.RESPONSE_SIZE:
            return
        token = self.listener.token
        status, reason, theirs = wire.check_response(token, self.challenge,
                                                     bytes(self.inbox[:wire.RESPONSE_SIZE]))
        self.conn.ttsc__send(wire.verdict(token, status, theirs, self.config.serializer))
        if status != wire.OK:
            self.close(reason)
            return
        rest = bytes(self.inbox[wire.RESPONSE_SIZE:])
        self.inbox.clear()
        self.stall.stop()
        self.authenticated = True
        self.to_state("ready")
        self.listener.ttse__on_session_ready(self)
        if rest:
            self._frames(rest)

    # -- ready: frames -----------------------------------------------------------------
    def ttse_ready__on_tcp_data(self, conn: ttTcpConnection, data: bytes) -> None:
        self._frames(data)

    def _frames(self, data: bytes) -> None:
        try:
            for payload in self.reader.feed(data):
                self._handle(self.codec.loads(payload))
        except ProtocolError as exc:
            self.close(str(exc), tell_client=True)
            return
        if not self.reader.partial:
            self.stall.stop()
        elif not self.stall.running:  # from the first byte of a frame: a trickle gains nothing
            self.stall.restart()

    def _handle(self, message: Any) -> None:
        if not isinstance(message, list) or not message or not isinstance(message[0], str):
            raise ProtocolError(f"malformed message: {message!r:.80}")
        op = message[0]
        if op == "ping":
            self.reply(self.listener.info())
        elif op == "shutdown":
            self.reply(None)
            self.listener.ttsc__shutdown(f"asked by {self.name}")
        else:
            self.listener.hosting.handle(self, op, message)

    def reply(self, result: Any) -> None:
        self._send(["ok", result])

    def ttsc__send_message(self, message: list) -> None:
        """Encode and send ``message`` (an event from the hosted service's thread)."""
        self._send(message)

    def ttsc__send_payload(self, payload: bytes) -> None:
        """Send a message the host has encoded (a reply)."""
        self._send_payload(payload)

    def _send(self, message: list) -> None:
        self._send_payload(self.codec.dumps(message))

    def _send_payload(self, payload: bytes) -> None:
        """Frame and send; a message over the frame cap becomes an error reply."""
        try:
            data = wire.frame(payload, self.config.max_frame)
        except ProtocolError as exc:
            data = wire.frame(_error_reply(exc, self.codec, ""), self.config.max_frame)
        self.conn.ttsc__send(data)

    def close(self, reason: str, tell_client: bool = False) -> None:
        """Refuse this connection: log why, tell the client when it is authenticated, close
        after what is queued has been sent, and read nothing more."""
        _log.warning("tasktonic.local: closing %s: %s", self.name, reason)
        if tell_client:
            self._send(["fatal", reason])
        self.stall.stop()
        self.to_state("closed")
        self.conn.ttsc__close()

    # -- the connection's end and stalls ---------------------------------------------
    def ttse__on_stall(self, info: dict) -> None:
        if self.state == "auth":
            self.close(f"no handshake within {self.config.io_timeout} s")
        elif self.state == "ready":
            self.close(f"a frame was left incomplete ({self.reader.partial} bytes) for "
                       f"{self.config.io_timeout} s", tell_client=True)

    def ttse__on_tcp_buffer_full(self, conn: ttTcpConnection, pending: int) -> None:
        _log.warning("tasktonic.local: closing %s: the client does not read its replies "
                     "(%d bytes waiting)", self.name, pending)
        conn.finish()

    def ttse__on_tcp_closed(self, conn: ttTcpConnection, reason: Any) -> None:
        if self.state == "ready" and self.reader.partial:
            _log.warning("tasktonic.local: %s closed in the middle of a frame (%d bytes "
                         "received)", self.name, self.reader.partial)
        self.finish()

    def ttse__on_finished(self) -> None:
        self.listener.ttse__on_session_ended(self)


def _listen(files: RuntimeFiles) -> tuple[socket.socket, str | list]:
    """A listening socket: the Unix socket in the runtime directory, else loopback TCP."""
    path = str(files.socket)
    if hasattr(socket, "AF_UNIX") and len(os.fsencode(path)) <= _MAX_UNIX_PATH:
        files.socket.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket file is the user's only, from its creation
        try:
            sock.bind(path)
        finally:
            os.umask(old)
        address: str | list = path
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        address = list(sock.getsockname()[:2])
    sock.listen(128)
    sock.setblocking(False)
    return sock, address


class Listener(ttTonic):
    """Accepts connections, counts clients, and ends the daemon when idle or asked to."""

    catalyst: ttSelectorCatalyst  # the main catalyst of the daemon's formula

    def __init__(self, config: DaemonConfig, files: RuntimeFiles, hosting: Hosting,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.files = files
        self.started = time.monotonic()
        self.clients = 0
        self.hosting = hosting
        self.closing = False
        self.token = files.new_token()
        self.sock, self.address = _listen(files)
        self.idle = ttTimerSingleShot(config.idle_ttl, sparkle_back=self.ttse__on_idle)

    def ttse__on_start(self) -> None:
        self.catalyst.register(self.sock, EVENT_READ, self.tts__accept)
        self.files.write_metadata({
            "pid": os.getpid(), "protocol": wire.PROTOCOL_VERSION, "address": self.address,
            "name": self.config.name, "factory": self.config.factory,
            "serializer": self.config.serializer, "started": time.time()})
        _log.info("tasktonic.local: daemon %r started, pid %d, listening on %s",
                  self.config.name, os.getpid(), self.address)

    def tts__accept(self, sock: socket.socket, events: int) -> None:
        for _ in range(_ACCEPT_BURST):
            try:
                client, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                _log.warning("tasktonic.local: accept failed: %s", exc)
                return
            Session(client, self)

    def info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "uptime": time.monotonic() - self.started,
                "active": self.clients, "protocol": wire.PROTOCOL_VERSION,
                "name": self.config.name, "serializer": self.config.serializer,
                "transport": "unix" if isinstance(self.address, str) else "tcp"}

    def ttse__on_session_ready(self, session: Session) -> None:
        self.clients += 1
        self.idle.stop()

    def ttse__on_session_ended(self, session: Session) -> None:
        if session.authenticated:
            self.clients -= 1
            if self.clients == 0 and not self.closing:
                self.idle.restart()

    def ttse__on_idle(self, info: dict) -> None:
        self.ttsc__shutdown(f"no client for {self.config.idle_ttl} s")

    def ttsc__shutdown(self, why: str) -> None:
        """Stop listening, remove our runtime files (unless a newer daemon owns them), end."""
        if self.closing:
            return
        self.closing = True
        _log.info("tasktonic.local: daemon %r exits: %s", self.config.name, why)
        self.catalyst.unregister(self.sock)
        self.sock.close()
        with self.files.start_lock():
            metadata = self.files.read_metadata()
            if metadata is not None and metadata["pid"] == os.getpid():
                self.files.remove_daemon_files()
        self.hosting.finish()
        self.finish()


class _DaemonFormula(ttFormula):
    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        super().__init__()

    def creating_formula(self) -> tuple:
        return (("tasktonic/log/to", "off"),)

    def creating_main_catalyst(self) -> None:
        ttSelectorCatalyst()

    def creating_starting_tonics(self) -> None:
        # built here, outside any tonic, as a formula builds a service: nobody is its base
        hosting = _hosting_for(self.config)
        Listener(self.config, RuntimeFiles.for_name(self.config.name), hosting)


def _hosting_for(config: DaemonConfig) -> Hosting:
    """Host the factory's target: a tonic service as it is, any other callable's object on an
    ``ObjectHost``."""
    target = resolve_factory(config.factory)
    service = service_class(target)
    if service is not None:
        return ServiceHosting(service, config)
    return ObjectHost(target, config, catalyst=ttCatalyst(name="object"))


def run(config: DaemonConfig) -> None:
    """Run the daemon in this process until it is idle or shut down."""
    _DaemonFormula(config)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tasktonic.local.daemon")
    parser.add_argument("--name", required=True)
    parser.add_argument("--factory", required=True)
    parser.add_argument("--serializer", choices=wire.SERIALIZERS, default="msgpack")
    parser.add_argument("--idle-ttl", type=float, default=2.0)
    parser.add_argument("--io-timeout", type=float, default=5.0)
    parser.add_argument("--max-frame", type=int, default=wire.DEFAULT_MAX_FRAME)
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s pid %(process)d %(levelname)s %(message)s")
    run(DaemonConfig(ns.name, ns.factory, ns.serializer, ns.idle_ttl, ns.io_timeout,
                     ns.max_frame))


if __name__ == "__main__":
    main()
