"""ttMqttBridge: one MQTT connection per broker, driven by paho-mqtt 2.x on a selector catalyst.

Why a service per broker address: a broker sees one client per connection, with one session and
one client id; two tonics that talk to the same broker should share it. ``ttMqttBridge(host,
port)`` is keyed by ``host:port`` (``_tt_is_service = True`` with the service name
``host:port``), so every later call with the same address returns the same bridge; the
settings of the first caller win.

Why paho's external loop on a ``ttSelectorCatalyst`` rather than paho's own thread: the bridge
is a selector catalyst, so paho's socket is registered with the catalyst's selector and every
paho call (``loop_read`` on readiness, ``loop_write`` when paho has bytes to send, ``loop_misc``
on a timer for keep-alive) runs on the bridge's own thread. No paho call ever races another, no
lock is needed, and incoming messages go to their subscribers as ordinary sparkles. Connecting
(``connect``) blocks the bridge's thread for the TCP handshake: give an IP address, not a name
that needs a slow DNS look-up.

Subscribers are tonics. ``bridge.ttsc__subscribe(tonic, 'site/+/reading', qos=1)`` makes every
matching message reach ``tonic.ttse__on_mqtt_message(topic, payload)`` on the tonic's own
catalyst (the codec decodes once per message; an empty payload, as when a retained message is
cleared, arrives as None; ``bytes`` payloads are published as they are whatever the codec).
Optional events: ``ttse__on_mqtt_subscribed(pattern)`` (the broker acknowledged the
subscription: from now on nothing published to it passes the tonic by),
``ttse__on_mqtt_connected()``, ``ttse__on_mqtt_disconnected(reason)`` and
``ttse__on_mqtt_flushed()`` (the answer to ``ttsc__flush(tonic)``: every QoS 1/2 message
published so far has been acknowledged by the broker).

Faults: a lost connection (or a failed connect) is retried on a doubling back-off from
``reconnect_delay`` to ``reconnect_max_delay``; after each connect the bridge subscribes again
to every pattern. With ``clean_session=False`` and a fixed ``client_id`` the broker keeps the
session (subscriptions and undelivered QoS 1 messages) across a reconnect or its own restart
(with persistence on), and paho re-sends our unacknowledged publishes. A payload that the codec
cannot decode is logged at WARNING on the ``tasktonic`` logger, naming the topic, and skipped.
"""
from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Callable
from typing import Any, Literal, cast

try:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
    from paho.mqtt.reasoncodes import ReasonCode
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("tasktonic.mqtt needs paho-mqtt 2.x: pip install 'tasktonic[mqtt]' "
                      f"({exc})") from exc

from .essence import Phase, _EssenceMeta
from .selector import EVENT_READ, EVENT_WRITE, ttSelectorCatalyst
from .timers import ttTimerRepeat, ttTimerSingleShot

__all__ = ["ttMqttBridge", "Codec", "PayloadError", "CODECS", "Will"]

_log = logging.getLogger("tasktonic")

#: The last will: ``(topic, payload[, qos[, retain]])``; the payload goes through the codec.
Will = tuple[str, Any] | tuple[str, Any, int] | tuple[str, Any, int, bool]
#: How many QoS 1/2 messages may wait for the broker's acknowledgement at once.
MAX_INFLIGHT = 1000
#: Most paho reads per readiness sparkle: enough to amortise it, few enough not to starve the
#: catalyst's other tonics.
_READ_BURST = 256
#: Keep-alive and time-outs: how often ``loop_misc`` runs.
_MISC_PERIOD_S = 1.0


class PayloadError(ValueError):
    """A payload that a codec cannot decode (or encode)."""


class Codec:
    """Turns payloads into bytes and back; ``name`` is what ``payload=`` selects."""

    def __init__(self, name: str, encode: Callable[[Any], bytes],
                 decode: Callable[[bytes | bytearray], Any],
                 errors: tuple[type[BaseException], ...]) -> None:
        self.name = name
        self._encode = encode
        self._decode = decode
        self._errors = errors

    def encode(self, payload: Any) -> bytes:
        """Bytes pass as they are, whatever the codec (``b''`` clears a retained message)."""
        if isinstance(payload, bytes):
            return payload
        try:
            return self._encode(payload)
        except self._errors as exc:
            raise PayloadError(f"cannot encode {type(payload).__name__} as {self.name}: {exc}"
                               ) from exc

    def decode(self, data: bytes | bytearray) -> Any:
        """An empty payload (a cleared retained message) is None, except for ``bytes``."""
        if not data and self.name != "bytes":
            return None
        try:
            return self._decode(data)
        except self._errors as exc:
            raise PayloadError(f"not valid {self.name}: {exc}") from exc


def _as_bytes(payload: Any) -> bytes:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError(f"the bytes codec takes bytes, got {type(payload).__name__}")
    return bytes(payload)


def _json_codec() -> Codec:
    return Codec("json", lambda p: json.dumps(p, separators=(",", ":")).encode(), json.loads,
                 (ValueError, TypeError))


def _msgpack_codec() -> Codec:
    try:
        import msgpack
    except ImportError as exc:
        raise ImportError("payload='msgpack' needs msgpack: pip install 'tasktonic[mqtt]' "
                          f"({exc})") from exc
    return Codec("msgpack", msgpack.packb, msgpack.unpackb,
                 (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError,
                  msgpack.StackError))


#: ``payload=`` names and how to build each codec (msgpack is imported only when chosen).
CODECS: dict[str, Callable[[], Codec]] = {
    "bytes": lambda: Codec("bytes", _as_bytes, bytes, (TypeError,)),
    "json": _json_codec,
    "msgpack": _msgpack_codec,
}


class _PerBrokerMeta(_EssenceMeta):  # the metaclass of every essence (ttSerialPort does this)
    """Names the service after the broker address, so each address gets one bridge."""

    def __call__(cls, host: str = "127.0.0.1", port: int = 1883, *args: Any,
                 **kwargs: Any) -> Any:
        if not isinstance(host, str) or not host:
            raise TypeError(f"tasktonic: the MQTT host must be a non-empty str, got {host!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"tasktonic: the MQTT port must be an int in 1..65535, got {port!r}")
        kwargs["name"] = f"{host}:{port}"
        return super().__call__(host, port, *args, **kwargs)


class ttMqttBridge(ttSelectorCatalyst, metaclass=_PerBrokerMeta):
    """The connection to one MQTT broker, shared by every tonic that asks for that address.

    ``ttMqttBridge(host='127.0.0.1', port=1883, client_id=None, username=None, password=None,
    tls=None, will=None, keepalive=60, payload='json')``; also ``clean_session`` (False keeps
    the broker session across reconnects: give a ``client_id``), ``reconnect_delay`` and
    ``reconnect_max_delay`` (seconds). ``tls`` is True (the default SSL context), an
    ``ssl.SSLContext``, or a dict of ``paho.Client.tls_set`` keywords. ``payload`` is
    ``'bytes'``, ``'json'`` or ``'msgpack'``.
    """

    # keyed by name=, which the metaclass sets to host:port (ttEssence declares str | None,
    # the lifecycle also takes True: one instance per name)
    _tt_is_service = True  # type: ignore[assignment]

    def __init__(self, host: str = "127.0.0.1", port: int = 1883, client_id: str | None = None,
                 username: str | None = None, password: str | None = None,
                 tls: bool | ssl.SSLContext | dict[str, Any] | None = None,
                 will: Will | None = None, keepalive: int = 60,
                 payload: Literal["bytes", "json", "msgpack"] = "json",
                 clean_session: bool = True, reconnect_delay: float = 0.1,
                 reconnect_max_delay: float = 5.0, **kwargs: Any) -> None:
        if payload not in CODECS:
            raise ValueError(f"tasktonic: payload must be one of {', '.join(CODECS)}, "
                             f"got {payload!r}")
        if not clean_session and not client_id:
            raise ValueError("tasktonic: clean_session=False needs a client_id (the broker "
                             "finds the session by it)")
        if keepalive <= 0 or reconnect_delay <= 0 or reconnect_max_delay < reconnect_delay:
            raise ValueError("tasktonic: keepalive and reconnect_delay must be > 0 and "
                             "reconnect_max_delay >= reconnect_delay")
        super().__init__(**kwargs)
        self.host = host
        self.port = port
        self.keepalive = keepalive
        self.codec = CODECS[payload]()
        self.reconnect_delay = reconnect_delay
        self.reconnect_max_delay = reconnect_max_delay
        self.connected = False
        self.messages_received = 0
        self.messages_published = 0
        self.malformed = 0
        self.connects = 0
        self._packets = 0  # packets that reached a callback: ends a read burst when dry
        self._delay = reconnect_delay
        #: pattern -> {subscriber: qos}
        self._subscriptions: dict[str, dict[Any, int]] = {}
        #: topic -> the subscribers' message sparkles (cleared when subscriptions change)
        self._routes: dict[str, list[Callable]] = {}
        self._acknowledged: set[str] = set()
        self._suback_mids: dict[int, str] = {}
        self._unacked: set[int] = set()
        self._flush_waiters: list[tuple[Any, set[int]]] = []  # (tonic, mids it waits for)
        self._write_pending = False
        self._sock: Any = None
        self._mask = 0
        self._client = self._make_client(client_id, username, password, tls, will,
                                         clean_session)

    def _make_client(self, client_id: str | None, username: str | None, password: str | None,
                     tls: bool | ssl.SSLContext | dict[str, Any] | None, will: Will | None,
                     clean_session: bool) -> paho.Client:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id or "",
                             clean_session=clean_session, protocol=paho.MQTTv311)
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.max_queued_messages_set(0)  # 0: unbounded; QoS 1/2 wait for a reconnect
        if username is not None:
            client.username_pw_set(username, password)
        if tls is True:
            client.tls_set_context(ssl.create_default_context())
        elif isinstance(tls, ssl.SSLContext):
            client.tls_set_context(tls)
        elif isinstance(tls, dict):
            client.tls_set(**tls)
        elif tls not in (None, False):
            raise TypeError(f"tasktonic: tls must be True, an ssl.SSLContext or a dict of "
                            f"tls_set() keywords, got {type(tls).__name__}")
        if will is not None:
            if not isinstance(will, tuple) or not 2 <= len(will) <= 4:
                raise TypeError("tasktonic: will must be (topic, payload[, qos[, retain]])")
            client.will_set(will[0], self.codec.encode(will[1]), *will[2:])
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_socket_register_write
        return client

    # -- connection --------------------------------------------------------------------------
    def ttse__on_start(self) -> None:
        ttTimerRepeat(_MISC_PERIOD_S, sparkle_back=self.tts__misc)
        self.tts__connect()

    def tts__connect(self, info: Any = None) -> None:
        if self._ending() or self._sock is not None:
            return
        try:
            self._client.connect(self.host, self.port, self.keepalive)
        except (OSError, ssl.SSLError) as exc:
            _log.info("tasktonic: MQTT broker %s:%d: cannot connect (%s); retrying in %.2f s",
                      self.host, self.port, exc, self._delay)
            self._retry_later()
            return
        self._flush()

    def _ending(self) -> bool:
        return self.phase >= Phase.FINISHING

    def _retry_later(self) -> None:
        if self._ending():
            return
        ttTimerSingleShot(self._delay, sparkle_back=self.tts__connect)
        self._delay = min(self._delay * 2, self.reconnect_max_delay)

    def tts__misc(self, info: Any = None) -> None:
        if self._sock is not None:
            self._client.loop_misc()
            self._flush()

    def _on_socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._sock = sock
        self._mask = 0
        self._update_watch()

    def _on_socket_close(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        if self._mask:
            self.unregister(sock)
        self._sock = None
        self._mask = 0

    def _update_watch(self) -> None:
        """Watch paho's socket for reading, and for writing while paho has bytes to send."""
        sock = self._sock
        if sock is None:
            return
        mask = EVENT_READ | (EVENT_WRITE if self._client.want_write() else 0)
        if mask == self._mask:
            return
        if self._mask:
            self.modify(sock, mask, self.tts__ready)
        else:
            self.register(sock, mask, self.tts__ready)
        self._mask = mask

    def tts__ready(self, sock: Any, events: int) -> None:
        if sock is not self._sock:
            return  # readiness of a socket paho has closed since
        client = self._client
        if events & EVENT_WRITE:
            client.loop_write()
        if events & EVENT_READ:
            for _ in range(_READ_BURST):
                before = self._packets
                if client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
                if self._packets == before or self._sock is None:
                    break  # dry (or a packet without a callback: the selector fires again)
        self._flush()

    def _flush(self) -> None:
        """Write what paho has queued, then watch for what it could not write yet."""
        self._write_pending = False
        if self._sock is not None and self._client.want_write():
            self._client.loop_write()
        self._update_watch()

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any,
                    reason: ReasonCode, properties: Any) -> None:
        self._packets += 1
        if reason.is_failure:
            _log.warning("tasktonic: MQTT broker %s:%d refused the connection: %s",
                         self.host, self.port, reason)
            return  # paho closes the socket: _on_disconnect retries
        self.connects += 1
        self.connected = True
        self._delay = self.reconnect_delay
        self._acknowledged.clear()
        for pattern, subscribers in self._subscriptions.items():
            self._send_subscribe(pattern, max(subscribers.values()))
        for subscriber in self._subscribers():
            _notify(subscriber, "ttse__on_mqtt_connected")

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any,
                       reason: ReasonCode, properties: Any) -> None:
        was_connected, self.connected = self.connected, False
        if was_connected:
            for subscriber in self._subscribers():
                _notify(subscriber, "ttse__on_mqtt_disconnected", str(reason))
        self._retry_later()

    def _subscribers(self) -> list[Any]:
        seen: dict[int, Any] = {}
        for subscribers in self._subscriptions.values():
            for subscriber in subscribers:
                seen.setdefault(id(subscriber), subscriber)
        return list(seen.values())

    # -- subscriptions -----------------------------------------------------------------------
    def ttsc__subscribe(self, tonic: Any, pattern: str, qos: int = 1) -> None:
        """Deliver messages matching ``pattern`` to ``tonic.ttse__on_mqtt_message``."""
        if not hasattr(tonic, "ttse__on_mqtt_message"):
            raise TypeError(f"tasktonic: {tonic!r} has no ttse__on_mqtt_message")
        if qos not in (0, 1, 2):
            raise ValueError(f"tasktonic: qos must be 0, 1 or 2, got {qos!r}")
        if self.connected and not any(tonic in subs for subs in self._subscriptions.values()):
            _notify(tonic, "ttse__on_mqtt_connected")  # a new subscriber hears the state too
        subscribers = self._subscriptions.setdefault(pattern, {})
        before = max(subscribers.values(), default=-1)
        subscribers[tonic] = qos
        self._routes.clear()
        if qos > before:
            self._acknowledged.discard(pattern)
            if self.connected:
                self._send_subscribe(pattern, qos)
        elif pattern in self._acknowledged:
            _notify(tonic, "ttse__on_mqtt_subscribed", pattern)

    def ttsc__unsubscribe(self, tonic: Any, pattern: str) -> None:
        """Stop delivering ``pattern`` to ``tonic`` (the broker hears it with the last one)."""
        subscribers = self._subscriptions.get(pattern)
        if subscribers is None or subscribers.pop(tonic, None) is None:
            return
        self._routes.clear()
        if not subscribers:
            del self._subscriptions[pattern]
            self._acknowledged.discard(pattern)
            if self.connected:
                self._client.unsubscribe(pattern)
                self._flush()

    def ttse__on_service_base_completed(self, base: Any) -> None:
        for pattern in [p for p, subs in self._subscriptions.items() if base in subs]:
            self.ttsc__unsubscribe(base, pattern)
        super().ttse__on_service_base_completed(base)

    def _send_subscribe(self, pattern: str, qos: int) -> None:
        result, mid = self._client.subscribe(pattern, qos)
        if result == MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None:
            self._suback_mids[mid] = pattern
        self._flush()

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int,
                      reason_codes: list[ReasonCode], properties: Any) -> None:
        self._packets += 1
        pattern = self._suback_mids.pop(mid, None)
        if pattern is None or pattern not in self._subscriptions:
            return
        if any(code.is_failure for code in reason_codes):
            _log.warning("tasktonic: MQTT broker %s:%d refused the subscription to %r: %s",
                         self.host, self.port, pattern, reason_codes)
            return
        self._acknowledged.add(pattern)
        for subscriber in self._subscriptions[pattern]:
            _notify(subscriber, "ttse__on_mqtt_subscribed", pattern)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage
                    ) -> None:
        self._packets += 1
        self.messages_received += 1
        topic = message.topic
        routes = self._routes.get(topic)
        if routes is None:
            routes = self._routes[topic] = [
                tonic.ttse__on_mqtt_message for pattern, subscribers
                in self._subscriptions.items() if paho.topic_matches_sub(pattern, topic)
                for tonic in subscribers]
        if not routes:
            return
        try:
            payload = self.codec.decode(message.payload)
        except PayloadError as exc:
            self.malformed += 1
            _log.warning("tasktonic: MQTT message on topic %r skipped: %s", topic, exc)
            return
        for deliver in routes:
            deliver(topic, payload)

    # -- publishing --------------------------------------------------------------------------
    def ttsc__publish(self, topic: str, payload: Any, qos: int = 0, retain: bool = False
                      ) -> None:
        """Publish ``payload`` (encoded by the codec); QoS 1/2 messages wait for a reconnect."""
        info = self._client.publish(topic, self.codec.encode(payload), qos, retain)
        if qos:
            self._unacked.add(info.mid)
        else:
            self.messages_published += 1

    def _on_socket_register_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        """paho has bytes to send: one write sparkle for everything queued before it runs
        (with this callback set, paho never writes inside ``publish`` itself)."""
        if not self._write_pending:
            self._write_pending = True
            self.tts__write()

    def tts__write(self) -> None:
        self._flush()

    def ttsc__flush(self, tonic: Any) -> None:
        """Tell ``tonic`` (``ttse__on_mqtt_flushed()``) once every QoS 1/2 message published
        so far has been acknowledged by the broker."""
        if self._unacked:
            self._flush_waiters.append((tonic, set(self._unacked)))
        else:
            _notify(tonic, "ttse__on_mqtt_flushed")

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, reason: ReasonCode,
                    properties: Any) -> None:
        self._packets += 1
        if mid not in self._unacked:
            return  # QoS 0: counted when published
        self._unacked.discard(mid)
        self.messages_published += 1
        if self._flush_waiters:
            waiting = []
            for tonic, mids in self._flush_waiters:
                mids.discard(mid)
                if mids:
                    waiting.append((tonic, mids))
                else:
                    _notify(tonic, "ttse__on_mqtt_flushed")
            self._flush_waiters = waiting

    # -- finishing ---------------------------------------------------------------------------
    def ttse__on_finished(self) -> None:
        """Disconnect cleanly (the broker does not publish the will) and close the socket."""
        if self._sock is not None:
            self._client.disconnect()
            self._client.loop_write()
        sock = self._sock
        if sock is not None:  # paho closes it on the disconnect's write, normally
            self._on_socket_close(self._client, None, sock)
            cast(Any, sock).close()


def _notify(tonic: Any, event: str, *args: Any) -> None:
    """Queue ``tonic.<event>(*args)`` when the tonic has that sparkle (every event is optional)."""
    sparkle = getattr(tonic, event, None)
    if sparkle is not None:
        sparkle(*args)
