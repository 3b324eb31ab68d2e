"""The three Lambda handlers with recorded events, end to end, on dynalite and the Bot API
emulator: a chat links and sets /freeze through the webhook, a sensor posts through the API's
Function URL, the scheduled cycle delivers the alert once."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core.config import load_settings
from core.tokens import import_ranch_tokens
from sensorbot import lambdas
from sensorbot.demo.emulator import BotApiEmulator
from sensorbot.stores import open_store
from storage.base import Store
from storage.dynamodb.client import shared_client
from tests.deploy.test_template import sam_template
from tests.support.dynalite import Dynalite

EVENTS = Path(__file__).resolve().parents[1] / "events"
TOKENS = "R:recorded-read-token-0001:23#W:recorded-write-token-0001:23"
SECRET = "recorded-webhook-secret-0001"
CHAT = 101
ALERT_MARKS = ("❄️", "🔥", "✅", "📵")


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def telegram_update(text: str, update_id: int, *, secret: str | None = SECRET) -> dict[str, Any]:
    """The recorded webhook call, carrying `text` (and the given secret header, or none)."""
    recorded = event("telegram_webhook")
    update = json.loads(recorded["body"])
    update["update_id"] = update_id
    update["message"]["message_id"] = update_id
    update["message"]["text"] = text
    command = text.split()[0]
    update["message"]["entities"] = [{"type": "bot_command", "offset": 0,
                                      "length": len(command)}]
    recorded["body"] = json.dumps(update)
    recorded["headers"].pop("x-telegram-bot-api-secret-token")
    if secret is not None:
        recorded["headers"]["X-Telegram-Bot-Api-Secret-Token"] = secret
    return recorded


def button_press(message: dict[str, Any], data: str, update_id: int) -> dict[str, Any]:
    """The recorded webhook call, carrying a press of a button under `message`."""
    recorded = event("telegram_webhook")
    user = json.loads(recorded["body"])["message"]["from"]
    recorded["body"] = json.dumps({"update_id": update_id, "callback_query": {
        "id": str(update_id), "chat_instance": str(CHAT), "from": user, "message": message,
        "data": data}})
    return recorded


def readings_post(values: list[tuple[int, float]]) -> dict[str, Any]:
    recorded = event("function_url_readings")
    recorded["body"] = json.dumps({"readings": [{"sensor": "attic", "timestamp": t, "value": v}
                                                for t, v in values]})
    return recorded


@dataclass
class Deployment:
    emulator: BotApiEmulator
    store: Store
    tables: dict[str, str]
    operations: list[tuple[str, str]] = field(default_factory=list)  # (action, table or index)

    def webhook(self, text: str, update_id: int, **kwargs: Any) -> dict[str, Any]:
        return lambdas.bot_handler(telegram_update(text, update_id, **kwargs), None)

    def replies(self, after: int) -> list[str]:
        return [c.text for c in self.emulator.calls[after:]
                if c.method == "sendMessage" and c.chat_id == CHAT]


@pytest.fixture
def deployment(dynalite: Dynalite, emulator: BotApiEmulator,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    """What `sam deploy`, `sensorbot init` and `sensorbot tokens import` leave behind, with the
    functions' environment (secrets overridden by env, as docs/aws.md allows)."""
    suffix = uuid.uuid4().hex[:8]
    tables = {"measurement": f"measurement-{suffix}", "sensorbot-meta": f"meta-{suffix}"}
    environment = {
        "SENSORBOT_STORAGE__BACKEND": "dynamodb",
        "SENSORBOT_STORAGE__DYNAMODB__REGION": "eu-north-1",
        "SENSORBOT_STORAGE__DYNAMODB__ENDPOINT_URL": dynalite.endpoint,
        "SENSORBOT_STORAGE__DYNAMODB__MEASUREMENTS_TABLE": tables["measurement"],
        "SENSORBOT_STORAGE__DYNAMODB__META_TABLE": tables["sensorbot-meta"],
        "SENSORBOT_TELEGRAM__BASE_URL": emulator.base_url,
        "SENSORBOT_TELEGRAM__WEBHOOK_SECRET": SECRET,
        "TELEGRAM_BOT_TOKEN": emulator.token,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(lambdas, "_apps", {})
    store = open_store(load_settings().storage)
    store.init()
    import_ranch_tokens(store, TOKENS, now_ms=int(time.time() * 1000))
    deployment = Deployment(emulator, store, tables)
    names = {table: kind for kind, table in tables.items()}

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        for table in params.get("RequestItems") or [params.get("TableName")]:
            index = f"/index/{params['IndexName']}" if params.get("IndexName") else ""
            deployment.operations.append((model.name, names.get(table, table) + index))

    client = shared_client("eu-north-1", dynalite.endpoint)
    client.meta.events.register("provide-client-params.dynamodb.*", record)
    yield deployment
    client.meta.events.unregister("provide-client-params.dynamodb.*", record)
    for app in lambdas._apps.values():
        if hasattr(app, "close"):
            app.close()


def test_it_turns_a_reading_and_a_freeze_into_one_alert_end_to_end(
        deployment: Deployment) -> None:
    now = int(time.time() * 1000)
    linked = deployment.webhook("/link recorded-read-token-0001", 1)
    posted = lambdas.api_handler(readings_post([(now - m * 60_000, 1.0) for m in range(20, -1,
                                                                                          -1)]),
                                 None)
    mark = len(deployment.emulator.calls)
    froze = lambdas.bot_handler(event("telegram_webhook"), None)
    freeze_replies = deployment.replies(mark)

    mark = len(deployment.emulator.calls)
    first = lambdas.alerts_handler(event("eventbridge_scheduled"), None)
    alerts = [t for t in deployment.replies(mark) if t.startswith(ALERT_MARKS)]
    mark = len(deployment.emulator.calls)
    second = lambdas.alerts_handler(event("eventbridge_scheduled"), None)

    assert [r["statusCode"] for r in (linked, posted, froze)] == [200, 200, 200]
    assert json.loads(posted["body"]) == {"stored": 21}
    assert [r for r in freeze_replies if "Pipe-freeze protection on attic" in r]
    assert len(alerts) == 1 and alerts[0].startswith("❄️")
    assert "attic" in alerts[0] and "1" in alerts[0]
    assert (first["transitions"], first["delivered"]) == (1, 1)
    assert (second["transitions"], second["delivered"]) == (0, 0)
    assert deployment.replies(mark) == []


@pytest.mark.parametrize("secret", [None, "", "recorded-webhook-secret-0002",
                                    SECRET + "0", SECRET[:-1]])
def test_it_refuses_a_webhook_call_without_the_right_secret_and_processes_nothing(
        deployment: Deployment, secret: str | None) -> None:
    mark = len(deployment.emulator.calls)

    response = deployment.webhook("/link recorded-read-token-0001", 7, secret=secret)

    assert response["statusCode"] == 401
    assert "X-Telegram-Bot-Api-Secret-Token" in json.loads(response["body"])["detail"]
    assert [c.method for c in deployment.emulator.calls[mark:]] in ([], ["getMe"])
    assert deployment.store.get_chat_link(CHAT) is None


def test_it_processes_the_same_update_once_the_secret_is_right(deployment: Deployment) -> None:
    refused = deployment.webhook("/link recorded-read-token-0001", 8, secret="wrong")

    accepted = deployment.webhook("/link recorded-read-token-0001", 8)

    assert (refused["statusCode"], accepted["statusCode"]) == (401, 200)
    link = deployment.store.get_chat_link(CHAT)
    assert link is not None and link.user_id == "23"


def test_it_answers_200_and_logs_when_a_handler_fails(
        deployment: Deployment, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    deployment.webhook("/help", 1)  # the app is warm
    store = lambdas._apps["bot"].application.bot_data["services"].store

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected fault")

    monkeypatch.setattr(store, "get_chat_link", broken)
    mark = len(deployment.emulator.calls)

    response = deployment.webhook("/sensors", 2)

    assert response["statusCode"] == 200
    assert "injected fault" in caplog.text
    assert any("something went wrong" in t for t in deployment.replies(mark))


def test_it_answers_400_to_a_body_that_is_not_an_update(deployment: Deployment) -> None:
    call = telegram_update("/help", 3)
    call["body"] = "not json"

    response = lambdas.bot_handler(call, None)

    assert response["statusCode"] == 400


def test_a_redelivered_update_is_handled_once(deployment: Deployment) -> None:
    deployment.webhook("/link recorded-read-token-0001", 30)
    mark = len(deployment.emulator.calls)

    first = deployment.webhook("/latest", 31)
    again = deployment.webhook("/latest", 31)  # Telegram redelivers after a timeout or 5xx
    later = deployment.webhook("/latest", 32)

    assert [r["statusCode"] for r in (first, again, later)] == [200, 200, 200]
    assert len(deployment.replies(mark)) == 2


def test_two_lambdas_given_one_update_at_once_handle_it_once(deployment: Deployment) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from sensorbot.webhook import WebhookBot

    deployment.webhook("/link recorded-read-token-0001", 40)
    settings = load_settings()
    bots = [WebhookBot.build(settings, open_store(settings.storage)) for _ in range(2)]
    barrier = Barrier(2)
    mark = len(deployment.emulator.calls)

    def deliver(bot: WebhookBot) -> dict[str, Any]:
        barrier.wait()
        return bot.handle(telegram_update("/latest", 41))

    try:
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(deliver, bots))
    finally:
        for bot in bots:
            bot.close()

    assert [a["statusCode"] for a in answers] == [200, 200]
    assert len(deployment.replies(mark)) == 1


def test_four_lambdas_running_freeze_at_once_leave_the_presets_rules_once(
        deployment: Deployment) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from alerts.rules import freeze_preset
    from sensorbot.webhook import WebhookBot

    now = int(time.time() * 1000)
    deployment.webhook("/link recorded-read-token-0001", 50)
    lambdas.api_handler(readings_post([(now, 5.0)]), None)
    settings = load_settings()
    bots = [WebhookBot.build(settings, open_store(settings.storage)) for _ in range(4)]
    barrier = Barrier(4)

    def freeze(number: int) -> dict[str, Any]:
        barrier.wait()
        return bots[number].handle(telegram_update("/freeze attic", 51 + number))

    try:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(freeze, range(4)))
    finally:
        for bot in bots:
            bot.close()

    assert [a["statusCode"] for a in answers] == [200] * 4
    rules = deployment.store.list_alert_rules("23")
    assert sorted(r.spec.kind for r in rules) == sorted(s.kind for s in freeze_preset())


def test_an_update_is_not_claimed_without_the_right_secret(deployment: Deployment) -> None:
    deployment.webhook("/help", 33, secret="wrong")
    mark = len(deployment.emulator.calls)

    deployment.webhook("/help", 33)

    assert len(deployment.replies(mark)) == 1


@pytest.mark.parametrize("depth", [1025, 100_000])
def test_it_answers_400_to_a_body_nested_too_deep_even_with_the_right_secret(
        deployment: Deployment, depth: int) -> None:
    call = telegram_update("/help", 4)
    call["body"] = '{"update_id": 4, "message": ' + "[" * depth + "]" * depth + "}"
    mark = len(deployment.emulator.calls)

    response = lambdas.bot_handler(call, None)

    assert response["statusCode"] == 400
    assert "JSON Telegram update" in json.loads(response["body"])["detail"]
    assert deployment.replies(mark) == []


def test_it_builds_each_app_once_per_cold_start(deployment: Deployment) -> None:
    deployment.webhook("/help", 1)
    lambdas.alerts_handler(event("eventbridge_scheduled"), None)
    apps = dict(lambdas._apps)

    deployment.webhook("/help", 2)
    lambdas.alerts_handler(event("eventbridge_scheduled"), None)

    assert set(apps) == {"bot", "alerts"}
    assert all(lambdas._apps[name] is app for name, app in apps.items())
    assert [c.method for c in deployment.emulator.calls].count("getMe") == 2


def template_grants() -> dict[str, set[tuple[str, str]]]:
    """Function → (action, table kind) the template's role allows."""
    kinds = {"Readings": "measurement", "Meta": "sensorbot-meta",
             "MetaIndex": "sensorbot-meta/index/gsi1", "Statistics": "sensorbot-statistics"}
    resources = sam_template()["Resources"]
    grants = {}
    for function in ("ApiFunction", "AlertsFunction", "BotFunction"):
        role = resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
        statements = resources[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        grants[function] = {(action.split(":")[1], kinds[s["Sid"]]) for s in statements
                            if s["Sid"] in kinds
                            for action in ([s["Action"]] if isinstance(s["Action"], str)
                                           else s["Action"])}
    return grants


def test_it_calls_only_dynamodb_actions_its_function_role_allows(
        deployment: Deployment) -> None:
    now = int(time.time() * 1000)
    grants = template_grants()
    called: dict[str, set[tuple[str, str]]] = {}

    def run(function: str, call: Any) -> None:
        mark = len(deployment.operations)
        call()
        called.setdefault(function, set()).update(deployment.operations[mark:])

    run("BotFunction", lambda: deployment.webhook("/link recorded-read-token-0001", 1))
    health = {**readings_post([]), "rawPath": "/healthz"}
    health["requestContext"] = {**health["requestContext"],
                                "http": {**health["requestContext"]["http"],
                                         "method": "GET", "path": "/healthz"}}
    run("ApiFunction", lambda: lambdas.api_handler(health, None))
    run("ApiFunction", lambda: lambdas.api_handler(
        readings_post([(now - m * 60_000, 1.0) for m in range(15, -1, -1)]), None))
    for number, text in enumerate(["/freeze attic", "/sensors", "/latest", "/history attic",
                                   "/alerts", "/tz Europe/Helsinki"], start=2):
        run("BotFunction", lambda text=text, number=number: deployment.webhook(text, number))
    run("AlertsFunction", lambda: lambdas.alerts_handler(event("eventbridge_scheduled"), None))
    run("BotFunction", lambda: deployment.webhook("/forget attic", 18))
    question = next(c for c in reversed(deployment.emulator.calls) if c.method == "sendMessage")
    run("BotFunction", lambda: lambdas.bot_handler(
        button_press(question.result, question.buttons[0]["callback_data"], 19), None))
    run("BotFunction", lambda: deployment.webhook("/unlink", 20))

    assert {name: calls - grants[name] for name, calls in called.items()} == {
        "ApiFunction": set(), "AlertsFunction": set(), "BotFunction": set()}
    assert all(action != "Scan" for calls in called.values() for action, _ in calls)
    assert ("UpdateItem", "sensorbot-meta") in called["AlertsFunction"]
    assert ("BatchWriteItem", "measurement") in called["BotFunction"]  # /forget's deletes
    assert deployment.store.list_sensors("23") == []


def test_a_heating_warning_runs_in_the_alerts_function_with_its_forecast(
        deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    """The heating watch's judgement is a small fake here (tests/support/heating_fakes.py): this is
    about the scheduled function asking the forecast (outbound HTTPS from Lambda) and
    delivering the warning once, with only the DynamoDB actions its role allows."""
    from tests.support.heating_fakes import FakeForecastServer, use_fake_watch

    server = FakeForecastServer()
    monkeypatch.setenv("SENSORBOT_FORECAST__BASE_URL", server.base_url)
    use_fake_watch(monkeypatch)
    now = int(time.time() * 1000)
    try:
        deployment.webhook("/link recorded-read-token-0001", 1)
        lambdas.api_handler(readings_post([(now - m * 60_000, 8.0) for m in range(30, 0, -1)]),
                            None)
        mark = len(deployment.emulator.calls)
        deployment.webhook("/location 60.17 24.94", 2)
        deployment.webhook("/alert attic heating", 3)
        set_up = deployment.replies(mark)
        lambdas.alerts_handler(event("eventbridge_scheduled"), None)  # learns
        lambdas.api_handler(readings_post([(now, 4.2)]), None)

        mark, operations = len(deployment.emulator.calls), len(deployment.operations)
        first = lambdas.alerts_handler(event("eventbridge_scheduled"), None)
        second = lambdas.alerts_handler(event("eventbridge_scheduled"), None)
        warnings = [t for t in deployment.replies(mark) if t.startswith(ALERT_MARKS)]
        called = set(deployment.operations[operations:])
    finally:
        server.close()

    assert "the hourly forecast at 60.17, 24.94" in set_up[0]
    assert set_up[1].startswith("Alert r") and "heating watch" in set_up[1]
    assert len(warnings) == 1
    assert warnings[0].startswith("🔥 Heating may have stopped at attic: 4.2 °C (usually 8.0 °C)")
    assert "At the forecast" in warnings[0]
    assert (first["transitions"], first["failed"], second["transitions"]) == (1, 0, 0)
    assert len(server.requests) == 1
    assert called - template_grants()["AlertsFunction"] == set()
