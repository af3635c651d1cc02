"""tasktonic.local: one object, or one tonic service, for every process of this user.

The API of the loopback-singleton design document (``local_singleton`` and its errors), built
safely: the daemon authenticates every connection before it decodes anything, frames are
capped, msgpack is the wire format and pickle an explicit opt-in. ``machine_service`` makes a
tonic service machine-wide with the consumer's code unchanged. Needs msgpack
(``pip install 'tasktonic[local]'``).
"""
from .errors import (
    ConnectionFailedError,
    DaemonConnectionError,
    HandshakeError,
    LoopbackSingletonError,
    ProtocolError,
    RemoteError,
)
from .service import MachineServiceProxy, machine_service
from .singleton import LocalSingletonService, Proxy, local_singleton
from .wire import DEFAULT_MAX_FRAME, PROTOCOL_VERSION

__all__ = ["local_singleton", "LocalSingletonService", "Proxy", "machine_service",
           "MachineServiceProxy", "LoopbackSingletonError", "DaemonConnectionError",
           "ConnectionFailedError", "HandshakeError", "ProtocolError", "RemoteError",
           "DEFAULT_MAX_FRAME", "PROTOCOL_VERSION"]
