"""The errors of ``tasktonic.local``, named as the loopback-singleton design document names them.

Why a tree: a caller that only wants "the daemon could not be reached" catches
``DaemonConnectionError``; one that wants every failure of this package catches the base.
"""
from __future__ import annotations

from ..errors import ttError

__all__ = ["LoopbackSingletonError", "DaemonConnectionError", "ConnectionFailedError",
           "HandshakeError", "ProtocolError", "RemoteError"]


class LoopbackSingletonError(ttError):
    """The base of every error of ``tasktonic.local``."""


class DaemonConnectionError(LoopbackSingletonError):
    """The daemon could not be reached or would not talk to us."""


class ConnectionFailedError(DaemonConnectionError):
    """No connection: the daemon is not running, did not start in time, or went away."""


class HandshakeError(DaemonConnectionError):
    """The daemon answered but the handshake failed: wrong token, protocol version or
    serializer, or a peer that is not a tasktonic daemon."""


class ProtocolError(LoopbackSingletonError):
    """A frame or message broke the protocol: oversized, malformed, or cut off."""


class RemoteError(LoopbackSingletonError):
    """The call raised inside the daemon: the remote exception's type name, message and
    traceback text (the exception itself never crosses the wire)."""

    def __init__(self, type_name: str, message: str, traceback_text: str = "") -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message
        self.traceback_text = traceback_text
