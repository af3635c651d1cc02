"""One authenticated connection to a daemon, used blocking by the handle and its proxies.

Why blocking: ``proxy().method()`` returns the method's result, so the caller waits anyway;
a connection belongs to one caller at a time. The handshake is bounded by the connect timeout
(a daemon that accepts and says nothing cannot hang the caller); calls wait as long as the
method runs.
"""
from __future__ import annotations

import socket
from typing import Any

from . import wire
from .errors import ConnectionFailedError, HandshakeError, ProtocolError, RemoteError

__all__ = ["Connection", "open_socket"]

_RECV = 256 * 1024


def open_socket(address: str | list, timeout: float) -> socket.socket:
    """A socket connected to ``address`` (a Unix socket path, or ``[host, port]``)."""
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        where = address
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        where = f"{address[0]}:{address[1]}"
    sock.settimeout(timeout)
    try:
        sock.connect(address if isinstance(address, str) else (address[0], address[1]))
    except OSError as exc:
        sock.close()
        raise ConnectionFailedError(f"tasktonic.local: cannot connect to the daemon at "
                                    f"{where}: {exc}") from exc
    return sock


class Connection:
    """Connect, authenticate both ways, then exchange framed messages."""

    def __init__(self, address: str | list, token: bytes, *, serializer: str, max_frame: int,
                 timeout: float) -> None:
        self.codec = wire.Codec(serializer)
        self.max_frame = max_frame
        self.sock = open_socket(address, timeout)
        self._reader = wire.FrameReader(max_frame)
        self._frames: list[bytes] = []
        try:
            self._handshake(token, serializer)
        except BaseException:
            self.sock.close()
            raise
        self.sock.settimeout(None)

    def _handshake(self, token: bytes, serializer: str) -> None:
        try:
            hello = wire.parse_hello(self._exactly(wire.HELLO_SIZE))
            if hello is None:
                raise HandshakeError("tasktonic.local: the peer is not a tasktonic daemon")
            version, challenge = hello
            if version != wire.PROTOCOL_VERSION:
                raise HandshakeError(f"tasktonic.local: protocol version mismatch: this client "
                                     f"speaks {wire.PROTOCOL_VERSION}, the daemon {version}")
            answer, mine = wire.response(token, challenge)
            self.sock.sendall(answer)
            status, proved, theirs = wire.parse_verdict(token, mine,
                                                        self._exactly(wire.VERDICT_SIZE))
        except TimeoutError as exc:
            raise HandshakeError("tasktonic.local: the daemon did not complete the handshake "
                                 "in time") from exc
        except OSError as exc:
            raise HandshakeError(f"tasktonic.local: handshake failed: {exc}") from exc
        if status == wire.BAD_VERSION:
            raise HandshakeError(f"tasktonic.local: protocol version mismatch: this client "
                                 f"speaks {wire.PROTOCOL_VERSION}, the daemon {version}")
        if status != wire.OK:
            raise HandshakeError("tasktonic.local: the daemon refused our token")
        if not proved:
            raise HandshakeError("tasktonic.local: the daemon could not prove it holds the token")
        if theirs != serializer:
            raise HandshakeError(f"tasktonic.local: serializer mismatch: this client uses "
                                 f"{serializer!r}, the daemon {theirs!r}")

    def _exactly(self, size: int) -> bytes:
        data = bytearray()
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionFailedError("tasktonic.local: the daemon closed the connection "
                                            "during the handshake")
            data += chunk
        return bytes(data)

    def detach(self) -> socket.socket:
        """Hand the authenticated socket over (to a tonic that reads it itself)."""
        return self.sock

    def send(self, message: Any) -> None:
        payload = self.codec.dumps(message)
        self.sock.sendall(wire.frame(payload, self.max_frame))

    def receive(self) -> Any:
        while not self._frames:
            try:
                data = self.sock.recv(_RECV)
            except OSError as exc:
                raise ConnectionFailedError(f"tasktonic.local: connection to the daemon "
                                            f"lost: {exc}") from exc
            if not data:
                raise ConnectionFailedError("tasktonic.local: the daemon closed the connection")
            self._frames += self._reader.feed(data)
        return self.codec.loads(self._frames.pop(0))

    def request(self, message: list) -> Any:
        """Send ``message``; return the daemon's result or raise what it reported."""
        self.send(message)
        reply = self.receive()
        if not isinstance(reply, list) or not reply:
            raise ProtocolError(f"tasktonic.local: malformed reply {reply!r}")
        kind = reply[0]
        if kind == "ok" and len(reply) == 2:
            return reply[1]
        if kind == "error" and len(reply) == 4:
            raise RemoteError(str(reply[1]), str(reply[2]), str(reply[3]))
        if kind == "fatal" and len(reply) == 2:
            self.close()
            raise ProtocolError(f"tasktonic.local: the daemon closed the connection: {reply[1]}")
        raise ProtocolError(f"tasktonic.local: malformed reply {reply!r}")

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.request(["call", method, list(args), kwargs])

    def close(self) -> None:
        self.sock.close()
