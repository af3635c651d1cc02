"""Machine-wide tonic services: one instance in a daemon, the same calling code everywhere.

Why a proxy class: the core's ``access_service`` builds a service in the calling process, and
this package may not change it. ``@machine_service`` therefore replaces the class (in its
module) by a proxy with the same service name and the same public sparkles: a consumer still
writes ``Counter()`` and ``counter.ttsc__add(self, 1)``. The proxy is a process-local service
(a ``ttSelectorCatalyst``) holding one authenticated connection to the daemon, started on first
use, that hosts the real class on its own catalyst. Each sparkle called on the proxy is sent
there, in call order; a tonic passed as an argument travels as a reference, and what the
service sends to it (``caller.ttse__on_x(...)``) comes back as a sparkle on that tonic's own
catalyst. Only msgpack is spoken here: a reference cannot be pickled safely.

Daemon side, ``ServiceHosting`` turns each reference into a ``RemoteTonic`` stand-in whose
``ttse__``/``ttsc__`` attributes send events back over the connection it came from.
"""
from __future__ import annotations

import logging
import socket
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .. import ttCatalyst, ttTonic
from ..selector import EVENT_READ, ttSelectorCatalyst
from . import wire
from .errors import ProtocolError
from .singleton import LocalSingletonService

if TYPE_CHECKING:
    from .daemon import Channel, HostCatalyst

__all__ = ["machine_service", "MachineServiceProxy", "RemoteTonic", "ServiceHosting",
           "service_class"]

_log = logging.getLogger("tasktonic.local")

T = TypeVar("T", bound=type)

_SPARKLE_PREFIXES = ("ttsc__", "ttse__")
_RECV = 256 * 1024
#: The lifecycle's own sparkles: never forwarded, never accepted from a client.
_FRAMEWORK = frozenset(n for n in dir(ttSelectorCatalyst) if n.startswith(_SPARKLE_PREFIXES))


def forwarded_sparkles(cls: type) -> list[str]:
    """The public sparkles of service class ``cls`` that clients may call."""
    return sorted(n for n in dir(cls) if n.startswith(_SPARKLE_PREFIXES) and n not in _FRAMEWORK)


def _forwarder(name: str) -> Callable[..., None]:
    def forward(self: MachineServiceProxy, *args: Any, **kwargs: Any) -> None:
        self.forward(name, args, kwargs)
    forward.__name__ = forward.__qualname__ = name
    return forward


class MachineServiceProxy(ttSelectorCatalyst):
    """The process-local face of a machine-wide service (built by ``machine_service``)."""

    __wrapped__: type[ttTonic]
    machine_idle_ttl = 2.0
    machine_start_timeout = 3.0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        impl = type(self).__wrapped__
        # the srv_ keywords of the access that starts the daemon build the one instance there
        srv = {key: value for key, value in kwargs.items() if key.startswith("srv_")}
        self.handle = LocalSingletonService(
            str(self._tt_is_service), f"{impl.__module__}:{impl.__qualname__}",
            idle_ttl=self.machine_idle_ttl, start_timeout=self.machine_start_timeout,
            factory_kwargs=srv)
        self.refs: weakref.WeakValueDictionary[int, ttTonic] = weakref.WeakValueDictionary()
        self.codec = wire.Codec("msgpack", to_ref=self._to_ref, from_ref=self._from_ref)
        self.reader = wire.FrameReader(self.handle.max_frame)
        # connected here, so a failure reaches the consumer; sends block at most io_timeout
        self.sock: socket.socket | None = self.handle.connect().detach()
        self.sock.settimeout(self.handle.io_timeout)

    def ttse__on_start(self) -> None:
        if self.sock is not None:
            self.register(self.sock, EVENT_READ, self.tts__readable)

    def _to_ref(self, obj: Any) -> list:
        if not isinstance(obj, ttTonic):
            raise TypeError(f"tasktonic.local: cannot send {type(obj).__name__} to a "
                            "machine-wide service (msgpack types and tonics only)")
        self.refs[obj.id] = obj
        return [obj.id, obj.name]

    def _from_ref(self, ref: Any) -> ttTonic | None:
        return self.refs.get(ref[0]) if isinstance(ref, list) and ref else None

    # -- to the daemon -----------------------------------------------------------------
    def _send(self, message: list) -> None:
        if self.sock is None:
            _log.debug("tasktonic.local: %s dropped: the daemon connection is closed",
                       message[0])
            return
        try:
            self.sock.sendall(wire.frame(self.codec.dumps(message), self.handle.max_frame))
        except OSError as exc:
            self._lost(exc)

    def forward(self, name: str, args: tuple, kwargs: dict) -> None:
        """Send one sparkle call to the service in the daemon (on this proxy's thread)."""
        self._send(["send", name, list(args), kwargs])

    def _tt_init_service_base(self, base: Any, **kwargs: Any) -> None:
        self.tts__access(base, kwargs)  # the per-access hook runs in the daemon, in order

    def tts__access(self, base: Any, ctxt: dict) -> None:
        self._send(["access", base, ctxt])

    # -- from the daemon ---------------------------------------------------------------
    def tts__readable(self, sock: socket.socket, events: int) -> None:
        if sock is not self.sock:
            return  # readiness queued before we closed it
        try:
            data = sock.recv(_RECV)
        except OSError as exc:
            self._lost(exc)
            return
        if not data:
            self._lost(None)
            return
        for payload in self.reader.feed(data):
            self._received(self.codec.loads(payload))

    def _received(self, message: Any) -> None:
        kind = message[0] if isinstance(message, list) and message else None
        if kind == "event" and len(message) == 5:
            _, ref, name, args, kwargs = message
            tonic = self.refs.get(ref)
            if tonic is None or not str(name).startswith(_SPARKLE_PREFIXES):
                _log.debug("tasktonic.local: event %s for tonic %s dropped", name, ref)
                return
            getattr(tonic, name)(*args, **kwargs)  # a sparkle on that tonic's own catalyst
        elif kind in ("error", "fatal"):
            _log.error("tasktonic.local: machine-wide service %r: %s", self._tt_is_service,
                       " ".join(str(part) for part in message[1:3]))
        else:
            raise ProtocolError(f"tasktonic.local: unexpected message {message!r:.80}")

    def _lost(self, reason: OSError | None) -> None:
        _log.warning("tasktonic.local: lost the daemon of %r (%s): this proxy finishes, the "
                     "next access starts a new one", self._tt_is_service, reason or "closed")
        self._close()
        self.finish()

    def _close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            self.unregister(sock)
            sock.close()

    def ttse__on_finished(self) -> None:
        self._close()


@overload
def machine_service(cls: T) -> T: ...


@overload
def machine_service(*, idle_ttl: float = 2.0, start_timeout: float = 3.0) -> Callable[[T], T]: ...


def machine_service(cls: Any = None, *, idle_ttl: float = 2.0,
                    start_timeout: float = 3.0) -> Any:
    """Make a tonic service machine-wide: ``@machine_service`` (or ``@machine_service(
    idle_ttl=...)``) above a class with ``_tt_is_service = "name"``.

    The class in its module becomes a proxy with the same name and sparkles; the real class is
    its ``__wrapped__`` and runs in the daemon. It must be importable by its module and name.
    """
    def wrap(service: type) -> type:
        if not (isinstance(service, type) and issubclass(service, ttTonic)
                and isinstance(service._tt_is_service, str) and service._tt_is_service):
            raise TypeError(f"tasktonic.local: machine_service takes a tonic class with "
                            f"_tt_is_service = 'name', got {service!r}")
        namespace: dict[str, Any] = {name: _forwarder(name)
                                     for name in forwarded_sparkles(service)}
        namespace.update(__module__=service.__module__, __qualname__=service.__qualname__,
                         __doc__=service.__doc__, __wrapped__=service,
                         _tt_is_service=service._tt_is_service, machine_idle_ttl=idle_ttl,
                         machine_start_timeout=start_timeout)
        return type(service.__name__, (MachineServiceProxy,), namespace)
    return wrap if cls is None else wrap(cls)


def service_class(target: Any) -> type[ttTonic] | None:
    """The tonic service class a factory names (a proxy's ``__wrapped__``), or None."""
    if isinstance(target, type) and issubclass(target, MachineServiceProxy):
        return target.__wrapped__
    if isinstance(target, type) and issubclass(target, ttTonic) and target._tt_is_service:
        return target
    return None


class RemoteTonic:
    """A tonic of a client process, as the service in the daemon sees it: its sparkles send
    events back; it passes between threads by reference, like a tonic."""

    _tt_by_reference = True

    def __init__(self, channel: Channel, ref: int, name: str) -> None:
        self._channel = channel
        self.id = f"{channel.name}/{ref}"
        self.name = str(name)
        self.ref = ref

    def __getattr__(self, attr: str) -> Callable[..., None]:
        if not attr.startswith(_SPARKLE_PREFIXES):
            raise AttributeError(f"{self!r} is a tonic in another process: only its sparkles "
                                 f"can be called, not {attr!r}")
        channel, ref = self._channel, self.ref

        def sparkle(*args: Any, **kwargs: Any) -> None:
            channel.ttsc__send(["event", ref, attr, list(args), kwargs])
        return sparkle

    def __repr__(self) -> str:
        return f"<RemoteTonic {self.name!r} via {self._channel.name}>"


class ServiceHosting:
    """The daemon's side of a machine-wide service: the one instance, on its own catalyst."""

    def __init__(self, service: type[ttTonic], catalyst: HostCatalyst,
                 srv_kwargs: dict[str, Any]) -> None:
        self.catalyst = catalyst
        if not issubclass(service, ttCatalyst):
            srv_kwargs = {**srv_kwargs, "catalyst": catalyst}
        self.service: ttTonic = service(**srv_kwargs)
        self.sparkles = frozenset(forwarded_sparkles(service))

    def codec_for(self, channel: Channel) -> wire.Codec:
        standins: dict[int, RemoteTonic] = {}

        def from_ref(ref: Any) -> RemoteTonic:
            if (not isinstance(ref, list) or len(ref) != 2 or not isinstance(ref[0], int)
                    or isinstance(ref[0], bool)):
                raise ProtocolError(f"malformed tonic reference {ref!r:.80}")
            if ref[0] not in standins:
                standins[ref[0]] = RemoteTonic(channel, ref[0], ref[1])
            return standins[ref[0]]

        def to_ref(obj: Any) -> list:
            if isinstance(obj, RemoteTonic) and obj._channel is channel:
                return [obj.ref, obj.name]
            raise TypeError(f"tasktonic.local: cannot send {type(obj).__name__} to a client")
        return wire.Codec("msgpack", to_ref=to_ref, from_ref=from_ref)

    def handle(self, channel: Channel, op: str, message: list) -> None:
        if op == "access" and len(message) == 3 and isinstance(message[2], dict):
            self.service._tt_init_service_base(message[1], **message[2])
        elif op == "send" and len(message) == 4 and isinstance(message[2], list) \
                and isinstance(message[3], dict):
            name = message[1]
            if name not in self.sparkles:
                channel.send(wire.error_message(
                    AttributeError(f"{type(self.service).__name__} has no public sparkle "
                                   f"{name!r}"), ""))
                return
            getattr(self.service, name)(*message[2], **message[3])
        else:
            raise ProtocolError(f"this daemon hosts a tonic service: expected 'send' or "
                                f"'access', got operation {op!r}")

    def finish(self) -> None:
        self.service.finish()
