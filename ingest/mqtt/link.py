"""The subscriber's connection to the broker: a paho-mqtt client on a network thread of ours.

The thread connects (and, after a loss, connects again with backoff), runs paho's loop, and
hands each message to `deliver`. Our own loop rather than paho's `loop_start`: a failed
connect then raises its real exception (an untrusted certificate, a name mismatch), which
the one log line per outage names, and acknowledgements of an earlier connection can be told
from the current one's.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from core.config import MqttSettings
from ingest.mqtt.inbox import Delivery

log = logging.getLogger("sensorbot.mqtt")

MAX_PAYLOAD = 1 << 20  # a larger message is acknowledged and skipped, its bytes dropped at once
FLAPS_TOLD = 3  # dropped this many times in a row right after connecting: say why it may be


@dataclass(frozen=True)
class Timings:
    """The subscriber's waits, in seconds (tests pass shorter ones)."""

    keepalive: float = 30  # a PINGREQ after this long quiet; no answer as long again: lost
    connect: float = 10  # to open the connection (TCP, TLS, WebSocket)
    reconnect_min: float = 1
    reconnect_max: float = 60
    stable: float = 60  # a connection that lasted this long starts the backoff from its minimum
    flapping: float = 5  # one lost this soon after connecting was perhaps taken over
    storage_retry_min: float = 1  # while storage fails, a batch is written again after this
    storage_retry_max: float = 60  # doubling up to this


REFUSALS = {  # paho's names of the MQTT 3.1.1 CONNACK codes
    "Unsupported protocol version": "it does not speak MQTT 3.1.1",
    "Client identifier not valid": "it refused the client id; check [mqtt] client_id",
    "Server unavailable": "the MQTT service is unavailable",
    "Bad user name or password": "bad user name or password; check [mqtt] username and "
                                 "password",
    "Not authorized": "not authorised; check [mqtt] username, password and the broker's ACL",
}
CLOSED = "Unspecified error"  # paho's name for a connection the other side closed
LOSSES = {  # paho's names of why a connection ended
    "Keep alive timeout": "no answer in time",
    "Protocol error": "it sent something MQTT does not allow",
    CLOSED: "lost the connection",
}
# What OpenSSL says when strict verification (Python 3.13 and later) refuses a CA that
# plain verification accepts.
STRICT_REFUSALS = ("Authority Key Identifier", "Subject Key Identifier", "key usage",
                   "Basic Constraints", "not marked critical")


@dataclass
class Ending:
    """How one connection ended: why, and whether it got as far as a CONNACK."""

    reason: str
    connected_for: float | None = None  # seconds, when it was connected
    closed_by_broker: bool = False


class BrokerLink:
    """One connection at a time, on a thread of its own; `ack` from any thread."""

    def __init__(self, settings: MqttSettings, deliver: Callable[[Delivery], None],
                 clock_ms: Callable[[], int], subscribed: threading.Event,
                 on_session: Callable[[int, bool], None], timings: Timings) -> None:
        self._settings = settings
        self._deliver = deliver
        self._clock_ms = clock_ms
        self.subscribed = subscribed  # set while connected with every subscription granted
        self._on_session = on_session  # (generation, session present)
        self._timings = timings
        self.where = f"{settings.host}:{settings.port}"
        self.topics = sorted({s.topic for s in settings.subscriptions})
        self._lock = threading.Lock()
        self.generation = 0  # counts connections: an ack is valid on its own only
        self._live = False
        self._stopping = threading.Event()
        self._connected_at: float | None = None
        self._refusal: str | None = None
        self._loss = CLOSED
        self._down_since: int | None = None  # an outage said, not yet over
        self._back_said = False
        self._flaps = 0
        self.attempts = 0  # connections tried, and messages handed over: for tests and health
        self.received = 0
        self.client = self._build()
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)

    def _build(self) -> paho.Client:
        settings = self._settings
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=settings.client_id,
                             clean_session=False, protocol=paho.MQTTv311,
                             transport="websockets" if settings.websockets else "tcp",
                             manual_ack=True, reconnect_on_failure=False)
        if settings.websockets:
            client.ws_set_options(path=settings.path)
        if settings.username:
            client.username_pw_set(settings.username, settings.password or None)
        if settings.tls:
            client.tls_set_context(tls_context(settings))
        client.connect_timeout = self._timings.connect
        # Every write then happens on the network thread, woken by paho: `ack` only queues.
        client.on_socket_register_write = lambda *_: None
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Say goodbye after the acks already queued (the broker keeps the session), and end
        the network thread."""
        self._stopping.set()
        self._thread.join(self._timings.connect + 10)

    def ack(self, deliveries: Sequence[Delivery]) -> int:
        """Acknowledge stored messages that came on the current connection; the broker sends
        the others again, and they are recognised as stored. Returns how many were."""
        sent = 0
        with self._lock:
            if not self._live:
                return 0
            for delivery in deliveries:
                if delivery.generation == self.generation and delivery.qos:
                    self.client.ack(delivery.packet_id, delivery.qos)
                    sent += 1
        return sent

    # -- the network thread ------------------------------------------------------------------

    def _run(self) -> None:
        timings = self._timings
        delay = timings.reconnect_min
        while not self._stopping.is_set():
            ending = self._connection()
            if self._stopping.is_set():
                return
            self._ended(ending)
            if ending.connected_for is not None and ending.connected_for >= timings.stable:
                delay = timings.reconnect_min
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, timings.reconnect_max)

    def _connection(self) -> Ending:
        """One connection, from connect until it is lost."""
        self._forget_last_connection()
        self.attempts += 1
        settings = self._settings
        try:
            self.client.connect(settings.host, settings.port, round(self._timings.keepalive))
        except ssl.SSLCertVerificationError as exc:
            return Ending(untrusted(exc, settings))
        except (OSError, ssl.SSLError) as exc:
            return Ending(f"cannot connect ({describe(exc)})" + self._scheme_hint(exc))
        try:
            rc = MQTTErrorCode.MQTT_ERR_SUCCESS
            goodbye = False
            while rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                rc = self.client.loop(0.5)
                self._settle()
                if self._stopping.is_set() and not goodbye:
                    goodbye = True  # after the acks already queued; the broker keeps the session
                    self.client.disconnect()
        except Exception:  # a fault of ours must not end the subscription for good
            log.exception("the MQTT connection failed")
            rc = MQTTErrorCode.MQTT_ERR_UNKNOWN
            self.client.disconnect()
        finally:
            with self._lock:  # before paho's next connect clears what it had queued
                self._live = False
            self.subscribed.clear()
        connected = self._connected_at
        lasted = None if connected is None else time.monotonic() - connected
        if self._refusal is not None:
            return Ending(self._refusal)
        if rc == MQTTErrorCode.MQTT_ERR_UNKNOWN:
            return Ending("an error (logged above)", lasted)
        closed = self._loss == CLOSED
        reason = LOSSES.get(self._loss, f"lost the connection ({self._loss})")
        if connected is None and closed:
            reason = "the connection was closed before the broker answered" + \
                self._scheme_hint(None)
        return Ending(reason, lasted, closed)

    def _forget_last_connection(self) -> None:
        """Before connecting: what paho's callbacks tell of this connection starts afresh."""
        self._connected_at, self._refusal, self._loss = None, None, CLOSED

    def _ended(self, ending: Ending) -> None:
        """One line per outage: a connection dropped right after it was made continues the
        outage it ended, and one taken over again and again is said once."""
        flapped = ending.connected_for is not None and \
            ending.connected_for < self._timings.flapping
        self._flaps = self._flaps + 1 if flapped and ending.closed_by_broker else 0
        if self._flaps == FLAPS_TOLD:
            log.warning("the MQTT broker at %s dropped sensorbot %d times right after it "
                        "connected: does another client use client_id %r?", self.where,
                        self._flaps, self._settings.client_id)
        if self._down_since is not None and (flapped or ending.connected_for is None):
            return
        self._down_since = self._clock_ms()
        self._back_said = False
        timings = self._timings
        log.warning("MQTT broker at %s: %s; reconnecting with backoff (%g s up to %g s)",
                    self.where, ending.reason, timings.reconnect_min, timings.reconnect_max)

    def _settle(self) -> None:
        """An outage is over once a connection has held for a while."""
        connected = self._connected_at
        if self._down_since is not None and connected is not None and \
                time.monotonic() - connected >= self._timings.flapping:
            self._down_since = None

    def _scheme_hint(self, exc: BaseException | None) -> str:
        """A connection reset or closed while connecting is most often TLS on one side only."""
        if exc is not None and not isinstance(exc, ConnectionResetError | ssl.SSLError |
                                              EOFError | paho.WebsocketConnectionError):
            return ""
        port, scheme = self._settings.port, self._settings.scheme
        if not self._settings.tls:
            return f"; if port {port} is a TLS listener, the url must be {scheme}s://"
        certificate = "" if self._settings.cert_file else \
            ", and whether the broker wants a client certificate ([mqtt] cert_file, key_file)"
        return f"; check that port {port} is a TLS listener ({scheme}:// needs one){certificate}"

    # -- paho's callbacks (network thread) -----------------------------------------------------

    def _on_connect(self, client: paho.Client, _userdata: Any, flags: Any, reason: Any,
                    _properties: Any) -> None:
        if reason.is_failure:
            why = REFUSALS.get(str(reason), str(reason))
            self._refusal = f"the broker refused the connection: {why}"
            return
        with self._lock:
            self.generation += 1
            self._live = True
        self._connected_at = time.monotonic()
        self._on_session(self.generation, bool(flags.session_present))
        client.subscribe([(topic, 1) for topic in self.topics])
        if self.generation > 1 and not flags.session_present:
            log.warning("the MQTT broker at %s had forgotten sensorbot's session (does it run "
                        "with `persistence true`?): what it held for sensorbot is lost; "
                        "subscribed again", self.where)

    def _on_disconnect(self, _client: paho.Client, _userdata: Any, _flags: Any, reason: Any,
                       _properties: Any) -> None:
        self._loss = str(reason)

    def _on_subscribe(self, _client: paho.Client, _userdata: Any, _mid: int,
                      reasons: list[Any], _properties: Any) -> None:
        granted = dict(zip(self.topics, reasons, strict=False))
        refused = [t for t, code in granted.items() if code.is_failure]
        at_most_once = [t for t, code in granted.items() if code.value == 0]
        if refused:
            log.error("the MQTT broker at %s refused the subscription to %s; check its ACL "
                      "for user %r", self.where, ", ".join(map(repr, refused)),
                      self._settings.username)
            return
        if at_most_once:
            log.warning("the MQTT broker at %s grants %s at QoS 0 only: what is published "
                        "while sensorbot is away is lost (mosquitto: raise max_qos)",
                        self.where, ", ".join(map(repr, at_most_once)))
        if self.generation == 1:
            log.info("connected to the MQTT broker at %s as %r; subscribed to %s", self.where,
                     self._settings.client_id, ", ".join(map(repr, self.topics)))
        elif self._down_since is not None and not self._back_said:
            self._back_said = True
            log.info("the MQTT broker at %s is back after %.0f s", self.where,
                     (self._clock_ms() - self._down_since) / 1000)
        self.subscribed.set()

    def _on_message(self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage
                    ) -> None:
        raw = message._topic  # bytes: paho's `topic` raises on a topic that is not UTF-8
        try:
            topic: str | None = raw.decode("utf-8")
        except UnicodeDecodeError:
            topic = None
        payload = bytes(message.payload)  # no copy: paho's payload is bytes already
        self.received += 1
        self._deliver(Delivery(
            topic, bytes(raw), payload if len(payload) <= MAX_PAYLOAD else None, len(payload),
            message.mid, message.qos, bool(message.dup), bool(message.retain),
            self._clock_ms(), self.generation))



def tls_context(settings: MqttSettings) -> ssl.SSLContext:
    """The system's CAs or the broker's own (`ca_file`), and a client certificate if given."""
    context = ssl.create_default_context(cafile=settings.ca_file or None)
    if settings.cert_file:
        context.load_cert_chain(settings.cert_file, settings.key_file or None)
    return context


def untrusted(exc: ssl.SSLCertVerificationError, settings: MqttSettings) -> str:
    """What a refused broker certificate means, and what to change."""
    said = exc.verify_message or str(exc)
    if exc.verify_code in (62, 64):  # X509_V_ERR_HOSTNAME_MISMATCH, _IP_ADDRESS_MISMATCH
        return (f"its certificate is not issued for {settings.host!r} ({said}); connect to the "
                "name (or address) the certificate names in [mqtt] url, or reissue it with "
                f"{settings.host!r} as a subject alternative name")
    if any(text.lower() in said.lower() for text in STRICT_REFUSALS):
        return (f"its certificate chain fails strict verification ({said}), which Python "
                "3.13 and later apply: reissue the home CA and the broker's certificate with "
                "the extensions they lack (Authority and Subject Key Identifiers, key usage; "
                "see the MQTT page of the documentation)")
    return (f"its certificate is not trusted ({said}); set [mqtt] ca_file to the CA that "
            "signed it")


def describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    return str(exc) or type(exc).__name__
