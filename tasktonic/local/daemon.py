"""The daemon: a tasktonic application that hosts one object (or tonic service) for the user.

Why two catalysts: the ``Listener`` and each new connection's ``Handshake`` run on the main
``ttSelectorCatalyst``; a handshake reads a fixed number of raw bytes and decodes nothing. Only
an authenticated socket is handed to a ``Channel`` on the hosting catalyst (``HostCatalyst``),
where the hosted object lives: there frames are cut (capped) and decoded, and calls run inline,
one at a time, in arrival order, with no thread hop. A long call therefore delays other calls
(they are sequential anyway) but never a handshake, an accept or the idle timer. Every socket
is non-blocking, so a client that stalls or stops reading blocks nobody: no handshake, or a
frame left incomplete, for ``io_timeout`` seconds closes that connection, and so does a reply
backlog over the send buffer. The listener counts authenticated clients; with none for
``idle_ttl`` seconds (from start-up too) it removes the runtime files and ends the
application, and so the process.

Run as ``python -m tasktonic.local.daemon --name N --factory module:attr ...`` (the handle does).
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any, Protocol

from .. import ttFormula, ttTimerSingleShot, ttTonic
from ..net import ttTcpConnection
from ..selector import EVENT_READ, ttSelectorCatalyst
from . import wire
from .errors import ProtocolError
from .runtime_dir import RuntimeFiles
from .service import ServiceHosting, service_class

__all__ = ["DaemonConfig", "Hosting", "HostCatalyst", "ObjectHost", "Handshake", "Channel",
           "Listener", "main", "resolve_factory", "run"]

_log = logging.getLogger("tasktonic.local")

#: The longest Unix socket path we bind (sun_path is 104-108 bytes); longer goes to TCP.
_MAX_UNIX_PATH = 100
_ACCEPT_BURST = 16
_RECV = 64 * 1024


@dataclass(frozen=True)
class DaemonConfig:
    name: str
    factory: str
    serializer: str
    idle_ttl: float
    io_timeout: float
    max_frame: int
    factory_kwargs: dict[str, Any]


def resolve_factory(path: str) -> Any:
    """Import ``module:attribute`` (the attribute may be dotted)."""
    module_name, _, attr = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    return target


class HostCatalyst(ttSelectorCatalyst):
    """Where the hosted object and the authenticated connections run. A service, so that it
    outlives its connections (a plain worker catalyst finishes with its last tonic)."""

    _tt_is_service = "tasktonic.local/host"


class Hosting(Protocol):
    """What the daemon hosts: a plain object (``ObjectHost``) or a tonic service
    (``tasktonic.local.service.ServiceHosting``)."""

    catalyst: HostCatalyst

    def codec_for(self, channel: Channel) -> wire.Codec: ...

    def handle(self, channel: Channel, op: str, message: list) -> None: ...

    def finish(self) -> None: ...


class ObjectHost:
    """The factory's object; its calls run on the host catalyst, one at a time, in order."""

    def __init__(self, factory: Any, config: DaemonConfig) -> None:
        self.catalyst = HostCatalyst(name="object")
        self.obj = factory(**config.factory_kwargs)
        self.codec = wire.Codec(config.serializer)

    def codec_for(self, channel: Channel) -> wire.Codec:
        return self.codec

    def handle(self, channel: Channel, op: str, message: list) -> None:
        if op != "call" or len(message) != 4 or not isinstance(message[1], str) \
                or not isinstance(message[2], list) or not isinstance(message[3], dict):
            raise ProtocolError(f"this daemon hosts an object: expected ['call', method, args, "
                                f"kwargs], got operation {op!r}")
        channel.send_payload(self._outcome(message[1], message[2], message[3]))

    def _outcome(self, method: str, args: list, kwargs: dict) -> bytes:
        if method.startswith("_"):
            refused = PermissionError(f"method {method!r} is private: the daemon refuses names "
                                      "starting with '_'")
            return self.codec.dumps(wire.error_message(refused, ""))
        try:
            result = getattr(self.obj, method)(*args, **kwargs)
        except Exception as exc:
            return self.codec.dumps(wire.error_message(exc))
        try:
            return self.codec.dumps(["ok", result])
        except Exception as exc:  # msgpack: TypeError and kin; pickle: PicklingError and kin
            return self.codec.dumps(wire.error_message(
                exc, f"the result of {method}() cannot be sent"))

    def finish(self) -> None:
        self.catalyst.finish()


class Handshake(ttTonic):
    """A new connection until it has authenticated: raw bytes only, nothing decoded."""

    catalyst: ttSelectorCatalyst

    def __init__(self, sock: socket.socket, listener: Listener, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        sock.setblocking(False)
        self.sock: socket.socket | None = sock
        self.listener = listener
        self.challenge = secrets.token_bytes(32)
        self.inbox = bytearray()
        self.deadline = ttTimerSingleShot(listener.config.io_timeout,
                                          sparkle_back=self.ttse__on_stall)

    def ttse__on_start(self) -> None:
        if self._write(wire.hello(self.challenge)) and self.sock is not None:
            self.catalyst.register(self.sock, EVENT_READ, self.tts__readable)

    def tts__readable(self, sock: socket.socket, events: int) -> None:
        if sock is not self.sock:
            return  # readiness queued before we let the socket go
        try:
            data = sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._refuse(f"read failed during the handshake: {exc}")
            return
        if not data:
            self._refuse("closed during the handshake")
            return
        self.inbox += data
        if len(self.inbox) < wire.RESPONSE_SIZE:
            return
        token, config = self.listener.token, self.listener.config
        status, reason, theirs = wire.check_response(token, self.challenge,
                                                     bytes(self.inbox[:wire.RESPONSE_SIZE]))
        if not self._write(wire.verdict(token, status, theirs, config.serializer)):
            return
        if status != wire.OK:
            self._refuse(reason)
            return
        self.catalyst.unregister(sock)
        self.sock = None
        self.listener.ttse__on_authenticated(sock, bytes(self.inbox[wire.RESPONSE_SIZE:]))
        self.finish()

    def _write(self, data: bytes) -> bool:
        """Send a handshake message whole (a few dozen bytes: a socket that cannot take them
        at once is not worth waiting for)."""
        try:
            sent = self.sock.send(data) if self.sock is not None else 0
        except OSError as exc:
            self._refuse(f"write failed during the handshake: {exc}")
            return False
        if sent != len(data):
            self._refuse("the client does not read the handshake")
            return False
        return True

    def ttse__on_stall(self, info: dict) -> None:
        self._refuse(f"no handshake within {self.listener.config.io_timeout} s")

    def _refuse(self, reason: str) -> None:
        _log.warning("tasktonic.local: refused %s: %s", self.name, reason)
        self._close()
        self.finish()

    def _close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is None:
            return
        self.catalyst.unregister(sock)
        try:  # unread bytes would turn our close into a reset that loses the verdict
            while sock.recv(_RECV):
                pass
        except OSError:
            pass
        sock.close()

    def ttse__on_finished(self) -> None:
        self._close()


class Channel(ttTonic):
    """An authenticated connection, on the host catalyst: framed messages in, replies out.

    Built on the listener's thread, so its socket tonic and timer are made in ``on_start``, on
    its own: made in ``__init__`` they would start working (and sending it sparkles, and
    being stopped) concurrently with the hand-over of what ``__init__`` queued."""

    conn: ttTcpConnection
    stall: ttTimerSingleShot

    def __init__(self, sock: socket.socket, listener: Listener, early: bytes,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sock: socket.socket | None = sock
        self.listener = listener
        self.config = listener.config
        self.hosting = listener.hosting
        self.early = early  # frames that arrived with the handshake
        self.open = True
        self.reader = wire.FrameReader(self.config.max_frame)
        self.codec = self.hosting.codec_for(self)

    def ttse__on_start(self) -> None:
        sock, self.sock = self.sock, None
        assert sock is not None  # on_start runs once
        self.conn = ttTcpConnection(sock, owner=self, catalyst=self.catalyst,
                                    max_buffer=2 * self.config.max_frame + 4096)
        self.stall = ttTimerSingleShot(self.config.io_timeout, sparkle_back=self.ttse__on_stall)
        self.stall.stop()  # runs only while a frame is incomplete
        self._frames(self.early)

    def ttse__on_tcp_data(self, conn: ttTcpConnection, data: bytes) -> None:
        self._frames(data)

    def _frames(self, data: bytes) -> None:
        if not self.open:
            return
        try:
            for payload in self.reader.feed(data):
                self._handle(self.codec.loads(payload))
        except ProtocolError as exc:
            self.close(str(exc))
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
            self.send(["ok", self.listener.info()])
        elif op == "shutdown":
            self.send(["ok", None])
            self.listener.ttsc__shutdown(f"asked by {self.name}")
        else:
            self.hosting.handle(self, op, message)

    # -- sending (on this channel's thread, or queued from another) -------------------
    def ttsc__send(self, message: list) -> None:
        """Send ``message`` from another thread (an event of the hosted service)."""
        self.send(message)

    def send(self, message: list) -> None:
        self.send_payload(self.codec.dumps(message))

    def send_payload(self, payload: bytes) -> None:
        """Frame and send; a message over the frame cap becomes an error reply."""
        try:
            data = wire.frame(payload, self.config.max_frame)
        except ProtocolError as exc:
            data = wire.frame(self.codec.dumps(wire.error_message(exc, "")),
                              self.config.max_frame)
        self.conn.ttsc__send(data)

    def close(self, reason: str) -> None:
        """Drop this connection with a clear error: logged, told to the client, then closed
        once what is queued has been sent; nothing more is read."""
        _log.warning("tasktonic.local: closing %s: %s", self.name, reason)
        self.send(["fatal", reason])
        self.stall.stop()
        self.open = False
        self.conn.ttsc__close()

    # -- the connection's end and stalls ---------------------------------------------
    def ttse__on_stall(self, info: dict) -> None:
        if self.open:
            self.close(f"a frame was left incomplete ({self.reader.partial} bytes) for "
                       f"{self.config.io_timeout} s")

    def ttse__on_tcp_buffer_full(self, conn: ttTcpConnection, pending: int) -> None:
        _log.warning("tasktonic.local: closing %s: the client does not read its replies "
                     "(%d bytes waiting)", self.name, pending)
        conn.finish()

    def ttse__on_tcp_closed(self, conn: ttTcpConnection, reason: Any) -> None:
        if self.open and self.reader.partial:
            _log.warning("tasktonic.local: %s closed in the middle of a frame (%d bytes "
                         "received)", self.name, self.reader.partial)
        self.finish()

    def ttse__on_finished(self) -> None:
        if self.sock is not None:  # finished before it started
            self.sock.close()
        self.listener.ttse__on_channel_ended(self)


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
        self.hosting = hosting
        self.started = time.monotonic()
        self.clients = 0
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
            Handshake(client, self)

    def info(self) -> dict[str, Any]:
        """What ``ping()`` reports (read from a channel's thread: plain values only)."""
        return {"pid": os.getpid(), "uptime": time.monotonic() - self.started,
                "active": self.clients, "protocol": wire.PROTOCOL_VERSION,
                "name": self.config.name, "serializer": self.config.serializer,
                "transport": "unix" if isinstance(self.address, str) else "tcp"}

    def ttse__on_authenticated(self, sock: socket.socket, early: bytes) -> None:
        if self.closing:
            sock.close()
            return
        self.clients += 1
        self.idle.stop()
        Channel(sock, self, early, catalyst=self.hosting.catalyst)

    def ttse__on_channel_ended(self, channel: Channel) -> None:
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
        files = RuntimeFiles.for_name(self.config.name)
        files.prepare()
        Listener(self.config, files, _hosting_for(self.config))


def _hosting_for(config: DaemonConfig) -> Hosting:
    """Host the factory's target: a tonic service as it is, any other callable's object on an
    ``ObjectHost``."""
    target = resolve_factory(config.factory)
    service = service_class(target)
    if service is not None:
        return ServiceHosting(service, HostCatalyst(name=f"{config.name}-service"),
                              config.factory_kwargs)
    return ObjectHost(target, config)


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
    parser.add_argument("--factory-kwargs", type=json.loads, default={})
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s pid %(process)d %(levelname)s %(message)s")
    run(DaemonConfig(ns.name, ns.factory, ns.serializer, ns.idle_ttl, ns.io_timeout,
                     ns.max_frame, ns.factory_kwargs))


if __name__ == "__main__":
    main()
