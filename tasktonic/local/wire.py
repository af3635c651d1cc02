"""The wire: the handshake that authenticates raw bytes, length-prefixed frames, the codecs.

Why this order: nothing a peer sends is decoded before it has proved it holds the token. The
handshake is fixed-size raw bytes (as in ``multiprocessing.connection``): the daemon sends
``MAGIC, version, challenge``; the client answers ``MAGIC, version, HMAC(token, challenge),
its own challenge``; the daemon compares the HMAC with ``hmac.compare_digest`` and answers a
status byte, its own HMAC over the client's challenge (so a client never talks to an impostor
holding the port) and its serializer. Only then are frames read: a 4-byte big-endian length,
capped, and the payload, decoded by msgpack (pickle only when the daemon was started with it).
"""
from __future__ import annotations

import hashlib
import hmac
import pickle
import secrets
import struct
import traceback
from collections.abc import Callable
from typing import Any

from .errors import ProtocolError

__all__ = ["PROTOCOL_VERSION", "DEFAULT_MAX_FRAME", "HELLO_SIZE", "RESPONSE_SIZE",
           "VERDICT_SIZE", "OK", "BAD_TOKEN", "BAD_VERSION", "SERIALIZERS", "REF_EXT", "Codec",
           "FrameReader", "frame", "hello", "parse_hello", "response", "check_response",
           "verdict", "parse_verdict", "require_msgpack", "error_message"]

PROTOCOL_VERSION = 1
DEFAULT_MAX_FRAME = 16 * 1024 * 1024
MAGIC = b"TTLOCAL\x00"
_NONCE = 32
_MAC = hashlib.sha256().digest_size
_VERSION = struct.Struct(">H")
_HEADER = struct.Struct(">I")
HELLO_SIZE = len(MAGIC) + _VERSION.size + _NONCE
RESPONSE_SIZE = len(MAGIC) + _VERSION.size + _MAC + _NONCE
VERDICT_SIZE = 1 + _MAC + 1
OK, BAD_TOKEN, BAD_VERSION = 0, 1, 2
#: The serializers by wire id (the verdict's last byte).
SERIALIZERS = ("msgpack", "pickle")
#: The msgpack extension type of a reference to a tonic in the client's process.
REF_EXT = 1


def require_msgpack() -> Any:
    """The msgpack module, or an ImportError that names the extra to install."""
    try:
        import msgpack
    except ImportError as exc:
        raise ImportError("tasktonic.local needs msgpack: pip install 'tasktonic[local]'") from exc
    return msgpack


def _mac(token: bytes, role: bytes, nonce: bytes) -> bytes:
    return hmac.new(token, role + nonce, hashlib.sha256).digest()


def error_message(exc: BaseException, traceback_text: str | None = None) -> list:
    """The ``error`` message for ``exc``: its type name, message and traceback text."""
    if traceback_text is None:
        traceback_text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return ["error", type(exc).__name__, str(exc), traceback_text]


# -- the handshake (raw bytes, never decoded) -----------------------------------------------
def hello(challenge: bytes) -> bytes:
    return MAGIC + _VERSION.pack(PROTOCOL_VERSION) + challenge


def parse_hello(data: bytes) -> tuple[int, bytes] | None:
    """The daemon's (version, challenge), or None when it is not a tasktonic daemon."""
    if len(data) != HELLO_SIZE or not data.startswith(MAGIC):
        return None
    (version,) = _VERSION.unpack_from(data, len(MAGIC))
    return version, data[len(MAGIC) + _VERSION.size:]


def response(token: bytes, challenge: bytes) -> tuple[bytes, bytes]:
    """The client's answer to ``challenge`` and the challenge it sets the daemon."""
    mine = secrets.token_bytes(_NONCE)
    return (MAGIC + _VERSION.pack(PROTOCOL_VERSION) + _mac(token, b"client", challenge)
            + mine), mine


def check_response(token: bytes, challenge: bytes, data: bytes) -> tuple[int, str, bytes]:
    """Check a client's answer: (status, reason, the client's challenge)."""
    if not data.startswith(MAGIC):
        return BAD_TOKEN, "not a tasktonic client (bad magic)", b""
    (version,) = _VERSION.unpack_from(data, len(MAGIC))
    if version != PROTOCOL_VERSION:
        return (BAD_VERSION, f"protocol version mismatch: client {version}, daemon "
                f"{PROTOCOL_VERSION}", b"")
    start = len(MAGIC) + _VERSION.size
    if not hmac.compare_digest(data[start:start + _MAC], _mac(token, b"client", challenge)):
        return BAD_TOKEN, "authentication failed (wrong token)", b""
    return OK, "", data[start + _MAC:]


def verdict(token: bytes, status: int, client_challenge: bytes, serializer: str) -> bytes:
    proof = _mac(token, b"daemon", client_challenge) if status == OK else bytes(_MAC)
    return bytes((status,)) + proof + bytes((SERIALIZERS.index(serializer),))


def parse_verdict(token: bytes, mine: bytes, data: bytes) -> tuple[int, bool, str]:
    """(status, the daemon proved it holds the token, its serializer)."""
    proved = hmac.compare_digest(data[1:1 + _MAC], _mac(token, b"daemon", mine))
    index = data[-1]
    return data[0], proved, SERIALIZERS[index] if index < len(SERIALIZERS) else f"#{index}"


# -- frames -----------------------------------------------------------------------------
def frame(payload: bytes, max_frame: int) -> bytes:
    if len(payload) > max_frame:
        raise ProtocolError(f"a frame of {len(payload)} bytes exceeds the limit of "
                            f"{max_frame} bytes")
    return _HEADER.pack(len(payload)) + payload


class FrameReader:
    """Cuts a byte stream into frames; an announced length over the cap is a ProtocolError
    before a single byte of that frame is buffered."""

    def __init__(self, max_frame: int) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()

    @property
    def partial(self) -> int:
        """Bytes of an incomplete frame waiting for the rest (0 between frames)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer
        buffer += data
        frames = []
        while len(buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer)
            if size > self.max_frame:
                raise ProtocolError(f"a frame of {size} bytes exceeds the limit of "
                                    f"{self.max_frame} bytes")
            end = _HEADER.size + size
            if len(buffer) < end:
                break
            frames.append(bytes(buffer[_HEADER.size:end]))
            del buffer[:end]
        return frames


# -- codecs -----------------------------------------------------------------------------
class Codec:
    """Encodes and decodes messages with one serializer. ``to_ref`` turns an object msgpack
    cannot pack into a reference (or raises TypeError); ``from_ref`` rebuilds it on the other
    side. Anything undecodable is a ProtocolError."""

    def __init__(self, serializer: str, to_ref: Callable[[Any], Any] | None = None,
                 from_ref: Callable[[Any], Any] | None = None) -> None:
        if serializer not in SERIALIZERS:
            raise ValueError(f"tasktonic.local: serializer must be one of {SERIALIZERS}, "
                             f"got {serializer!r}")
        self.serializer = serializer
        if serializer == "pickle":
            if to_ref is not None or from_ref is not None:
                raise ValueError("tasktonic.local: tonic references need the msgpack serializer")
            return
        self._msgpack = msgpack = require_msgpack()
        self._to_ref = to_ref
        self._from_ref = from_ref
        self._packer = msgpack.Packer(use_bin_type=True,
                                      default=self._default if to_ref is not None else None)

    def _default(self, obj: Any) -> Any:
        assert self._to_ref is not None
        return self._msgpack.ExtType(REF_EXT, self._msgpack.packb(self._to_ref(obj)))

    def _ext_hook(self, code: int, data: bytes) -> Any:
        if code != REF_EXT or self._from_ref is None:
            raise ProtocolError(f"unexpected msgpack extension type {code}")
        return self._from_ref(self._msgpack.unpackb(data, raw=False))

    def dumps(self, message: Any) -> bytes:
        if self.serializer == "pickle":
            return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        return self._packer.pack(message)  # type: ignore[no-any-return]  # msgpack is untyped

    def loads(self, data: bytes) -> Any:
        try:
            if self.serializer == "pickle":
                return pickle.loads(data)  # only ever after authentication, by opt-in
            return self._msgpack.unpackb(data, raw=False, strict_map_key=False,
                                         ext_hook=self._ext_hook)
        except ProtocolError:
            raise
        except Exception as exc:
            raise ProtocolError(f"malformed {self.serializer} frame ({len(data)} bytes): "
                                f"{type(exc).__name__}: {exc}") from exc
