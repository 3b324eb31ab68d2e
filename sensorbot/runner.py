"""`sensorbot run`: the bot, the HTTP API and the alert job in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.config import ApiSettings, ConfigError, Settings
from sensorbot.lean import freeze_startup_heap
from storage.base import Store
from storage.rollup import Rollup

# `sensorbot api` serves without the bot: Telegram's library, the bot and the alert cycle (330
# modules, 0.18 s of CPU at each start) are imported by what only `sensorbot run` calls.
if TYPE_CHECKING:
    from bot.context import BotContext

log = logging.getLogger("sensorbot")

REFUSED_BY_TELEGRAM = (
    "Telegram refused the bot token. Check [telegram] token in the config file (or "
    "TELEGRAM_BOT_TOKEN) against the one @BotFather gave, and [telegram] base_url.")


@dataclass(frozen=True)
class ApiOrigin:
    """Where the API's host and port came from, for the sentence that asks to change one:
    the config file (or its environment override) unless a flag gave it."""

    host_flag: bool = False
    port_flag: bool = False

    def fix(self, setting: str, value: str) -> str:
        """`give --port a free one` / `set [api] port in the config file (or …) to a free
        one`."""
        if getattr(self, f"{setting}_flag"):
            return f"give --{setting} {value}"
        return (f"set [api] {setting} in the config file (or SENSORBOT_API__"
                f"{setting.upper()}) to {value}")

    def named(self, setting: str) -> str:
        """`--port` or `[api] port`: where the value came from."""
        return f"--{setting}" if getattr(self, f"{setting}_flag") else f"[api] {setting}"


NOT_HERE = (errno.EADDRNOTAVAIL,)  # and getaddrinfo's codes, all negative


def cannot_listen(api: ApiSettings, origin: ApiOrigin, error: OSError) -> str:
    """Why the API cannot listen, in one sentence naming the flag or setting to change."""
    if isinstance(error, socket.gaierror) or (error.errno or 0) < 0 or error.errno in NOT_HERE:
        return (f"{origin.named('host')} {api.host!r} is not an address of this machine; "
                f"{origin.fix('host', 'one')}, such as \"127.0.0.1\" or \"0.0.0.0\" (every "
                "interface).")
    if error.errno == errno.EADDRINUSE:
        return (f"Port {api.port} is in use (is sensorbot already running?); "
                f"{origin.fix('port', 'a free one')}.")
    reason = (error.strerror or str(error)).split(" (while attempting")[0]
    return (f"Cannot listen on {api.host} port {api.port} ({reason}); check "
            f"{origin.named('host')} and {origin.named('port')}.")


def api_server(settings: Settings, store: Store, clock_ms: Callable[[], int] | None) -> Any:
    from ingest.http.app import create_app
    from ingest.http.server import build_server

    app = create_app(settings, store=store) if clock_ms is None else \
        create_app(settings, store=store, clock_ms=clock_ms)
    # log_config=None: uvicorn's records go through our handler and format (sensorbot.logs).
    server = build_server(app, settings.api.host, settings.api.port,
                          request_timeout_s=settings.api.request_timeout_seconds,
                          access_log=False, log_level="warning", log_config=None)
    # This process owns the signals: uvicorn must not take them over.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    return server


def start_mqtt(settings: Settings, store: Store, stop: asyncio.Event,
               clock_ms: Callable[[], int] | None) -> asyncio.Task[None] | None:
    """The MQTT subscriber as a task, when `[mqtt] enabled`; it ends once `stop` is set."""
    if not settings.mqtt.enabled:
        return None
    from ingest.mqtt.subscriber import MqttIngest, check_state_file, check_subscriptions

    check_subscriptions(settings.mqtt, store)
    check_state_file(settings.mqtt)
    ingest = MqttIngest(settings.mqtt, store) if clock_ms is None else \
        MqttIngest(settings.mqtt, store, clock_ms=clock_ms)
    return asyncio.create_task(in_own_thread(
        lambda own_stop: supervise(ingest.run, own_stop, "the MQTT subscriber"), stop,
        "mqtt"))


async def in_own_thread(main: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event,
                        name: str) -> None:
    """Run `main` on an event loop of its own thread until `stop` (of this loop) is set, so
    that its work (the MQTT subscriber parses every message on its loop) never holds up this
    one."""
    own_loop = asyncio.new_event_loop()
    own_stop = asyncio.Event()
    thread = threading.Thread(target=own_loop.run_until_complete, args=(main(own_stop),),
                              name=name, daemon=True)
    thread.start()
    try:
        await stop.wait()
    finally:
        own_loop.call_soon_threadsafe(own_stop.set)
        await asyncio.to_thread(thread.join)
        own_loop.close()


async def supervise(run: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event,
                    name: str) -> None:
    """Run until `stop`; a failure is logged with its traceback and the run starts again after
    a growing pause, so a fault never silently ends a part the process still advertises."""
    delay = 1.0
    while not stop.is_set():
        try:
            await run(stop)
            return
        except Exception:
            log.exception("%s failed; it starts again in %.0f s", name, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, 60.0)


async def serve(settings: Settings, store: Store, stop: asyncio.Event, *,
                clock_ms: Callable[[], int] | None = None, freeze: bool = False) -> None:
    """Run until `stop` is set, then shut everything down in order. `freeze`: the process
    serves until it exits, so what start-up built is frozen (lean.freeze_startup_heap)."""
    from bot.app import PollingErrors, build_application, register_menu

    sockets = [listen(settings.api)] if settings.api.enabled else []
    mqtt_stop = asyncio.Event()
    mqtt_task = start_mqtt(settings, store, mqtt_stop, clock_ms)
    application = build_application(settings, store, clock_ms=clock_ms)
    server = api_server(settings, store, clock_ms) if sockets else None
    if freeze:
        freeze_startup_heap()
    api_task = asyncio.create_task(server.serve(sockets=sockets)) if server else None
    try:
        if not await connect(application, stop):
            return
        try:
            await register_menu(application)
            assert application.job_queue is not None and application.updater is not None
            application.job_queue.run_repeating(
                alert_job, interval=settings.alerts.check_interval_seconds, first=0,
                name="alerts", job_kwargs={"max_instances": 1, "coalesce": True})
            application.job_queue.run_repeating(
                statistics_job(Rollup(store)), interval=settings.alerts.check_interval_seconds,
                first=1, name="statistics", job_kwargs={"max_instances": 1, "coalesce": True})
            await application.start()
            await application.updater.start_polling(error_callback=PollingErrors())
            log.info("sensorbot is running as @%s", application.bot.username)
            await stop.wait()
            await application.updater.stop()
            await application.stop()
        finally:
            await application.shutdown()
    finally:
        if server is not None and api_task is not None:
            server.should_exit = True
            await api_task
        if mqtt_task is not None:
            mqtt_stop.set()
            await mqtt_task


async def connect(application: Any, stop: asyncio.Event) -> bool:
    """Reach Telegram (getMe), retrying while the network is down — a Pi may boot before its
    uplink; the HTTP API already runs meanwhile. False if stopped first. A refused token is a
    configuration error, not something to retry."""
    from telegram.error import InvalidToken, NetworkError

    delay = 1.0
    while not stop.is_set():
        try:
            await application.initialize()
        except InvalidToken:
            raise ConfigError(REFUSED_BY_TELEGRAM) from None
        except NetworkError as error:
            log.warning("cannot reach Telegram (%s); trying again in %.0f s", error, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 60.0)
        else:
            return True
    return False


async def alert_job(context: BotContext) -> None:
    """One alert cycle; a failure is logged and the next run tries again."""
    from alerts.cycle import run_cycle
    from bot.transport import TelegramNotifier

    services = context.services
    try:
        zone = services.settings.alerts.timezone
        notifier = TelegramNotifier(context.bot, default_zone=zone, clock_ms=services.clock_ms)
        summary = await run_cycle(services.store, notifier, services.clock_ms(),
                                  default_zone=zone, rulebook=services.rulebook,
                                  forecasts=services.forecasts)
    except Exception:
        log.exception("the alert cycle failed; it runs again in %s s",
                      services.settings.alerts.check_interval_seconds)
        return
    if summary.transitions or summary.failed:
        log.info("alert cycle: %s", summary)


def statistics_job(rollup: Rollup) -> Callable[[BotContext], Coroutine[Any, Any, None]]:
    """The hourly statistics, beside the alert cycle: work only at the first run of an hour."""

    async def job(context: BotContext) -> None:
        try:
            await asyncio.to_thread(rollup.run, context.services.clock_ms())
        except Exception:
            log.exception("compiling the hourly statistics failed; the next run tries again")

    return job


async def serve_api(settings: Settings, store: Store, stop: asyncio.Event,
                    origin: ApiOrigin = ApiOrigin()) -> None:
    """`sensorbot api`: the HTTP API (and the MQTT subscriber when enabled), until `stop`."""
    sockets = [listen(settings.api, origin)]
    mqtt_stop = asyncio.Event()
    mqtt_task = start_mqtt(settings, store, mqtt_stop, None)
    server = api_server(settings, store, None)
    freeze_startup_heap()
    api_task = asyncio.create_task(server.serve(sockets=sockets))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({api_task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopped.cancel()
    await api_task
    if mqtt_task is not None:
        mqtt_stop.set()
        await mqtt_task


def listen(api: ApiSettings, origin: ApiOrigin = ApiOrigin()) -> socket.socket:
    """The API's listening socket, bound before anything starts so that a taken port is one
    sentence rather than uvicorn's exit from inside the event loop; logs the API's URL. The
    sentence names the flag or the setting the bad value came from."""
    family = socket.AF_INET6 if ":" in api.host else socket.AF_INET
    try:
        sock = socket.create_server((api.host, api.port), family=family)
    except OSError as error:
        raise ConfigError(cannot_listen(api, origin, error)) from None
    # Accepted connections inherit it. asyncio sets it itself only on sockets it creates, and
    # without it Nagle's algorithm and delayed ACKs add ~40 ms to every answer.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    host, port = sock.getsockname()[:2]
    log.info("the HTTP API listens on %s", api_url(host, port))
    return sock


def api_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run_forever(settings: Settings, store: Store) -> None:
    """`sensorbot run` until SIGINT or SIGTERM: then a clean stop, exit 0, no traceback."""
    run_until_signalled(lambda stop: serve(settings, store, stop, freeze=True))


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `main(stop)` in a new event loop; SIGINT and SIGTERM set `stop`."""

    async def wrapper() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(wrapper())
