"""`sensorbot run`: the bot, the HTTP API and the alert job in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import Any

from telegram.error import InvalidToken, NetworkError

from alerts.cycle import run_cycle
from bot.alerting import TelegramNotifier
from bot.app import PollingErrors, build_application, register_menu
from bot.context import BotContext
from core.config import ConfigError, Settings
from storage.base import Store

log = logging.getLogger("sensorbot")


def api_server(settings: Settings, store: Store, clock_ms: Callable[[], int] | None) -> Any:
    import uvicorn

    from ingest.app import create_app

    app = create_app(settings, store=store) if clock_ms is None else \
        create_app(settings, store=store, clock_ms=clock_ms)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.api.host, port=settings.api.port,
                                           access_log=False, log_level="warning"))
    # This process owns the signals: uvicorn must not take them over.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    return server


def start_mqtt(settings: Settings, store: Store, stop: asyncio.Event,
               clock_ms: Callable[[], int] | None) -> asyncio.Task[None] | None:
    """The MQTT subscriber as a task, when `[mqtt] enabled`; it ends once `stop` is set."""
    if not settings.mqtt.enabled:
        return None
    from ingest.mqtt import MqttIngest, check_subscriptions

    check_subscriptions(settings.mqtt, store)
    ingest = MqttIngest(settings.mqtt, store) if clock_ms is None else \
        MqttIngest(settings.mqtt, store, clock_ms=clock_ms)
    return asyncio.create_task(ingest.run(stop))


async def serve(settings: Settings, store: Store, stop: asyncio.Event, *,
                clock_ms: Callable[[], int] | None = None) -> None:
    """Run until `stop` is set, then shut everything down in order."""
    mqtt_stop = asyncio.Event()
    mqtt_task = start_mqtt(settings, store, mqtt_stop, clock_ms)
    application = build_application(settings, store, clock_ms=clock_ms)
    server = api_server(settings, store, clock_ms) if settings.api.enabled else None
    api_task = asyncio.create_task(server.serve()) if server else None
    try:
        if not await connect(application, stop):
            return
        try:
            await register_menu(application)
            application.job_queue.run_repeating(
                alert_job, interval=settings.alerts.check_interval_seconds, first=0,
                name="alerts", job_kwargs={"max_instances": 1, "coalesce": True})
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
    delay = 1.0
    while not stop.is_set():
        try:
            await application.initialize()
        except InvalidToken:
            raise ConfigError(
                "Telegram refused the bot token. Check [telegram] token in the config file (or "
                "TELEGRAM_BOT_TOKEN) against the one @BotFather gave, and [telegram] base_url."
            ) from None
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
    services = context.services
    try:
        summary = await run_cycle(services.store, TelegramNotifier(context.bot),
                                  services.clock_ms(),
                                  default_zone=services.settings.alerts.timezone,
                                  rulebook=services.rulebook)
    except Exception:
        log.exception("the alert cycle failed; it runs again in %s s",
                      services.settings.alerts.check_interval_seconds)
        return
    if summary.transitions or summary.failed:
        log.info("alert cycle: %s", summary)


def run_api(settings: Settings, store: Store) -> None:
    """`sensorbot api` with `[mqtt] enabled`: the API and the subscriber in one event loop,
    until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        mqtt_task = start_mqtt(settings, store, stop, None)
        server = api_server(settings, store, None)
        api_task = asyncio.create_task(server.serve())
        await asyncio.wait({api_task, asyncio.ensure_future(stop.wait())},
                           return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        server.should_exit = True
        await asyncio.gather(api_task, *(t for t in [mqtt_task] if t is not None))

    asyncio.run(main())


def run_forever(settings: Settings, store: Store) -> None:
    """Until SIGINT or SIGTERM: then a clean stop, exit status 0, no traceback."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, store, stop)

    asyncio.run(main())
