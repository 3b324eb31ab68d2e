"""A local Bot API server: the methods sensorbot uses, for the tests and `sensorbot demo`.

It speaks HTTP like api.telegram.org (`/bot<token>/<method>`, form, JSON or multipart), keeps
chats in memory, long-polls `getUpdates`, and lets a driver inject user messages and button
presses, read what the bot sent, and queue error replies (429 with retry_after, 403, 409).
It runs its own event loop in a thread, so a driver may be synchronous.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

T = TypeVar("T")

BOT_ID = 7_000_000_001
TEXT_FIELDS = frozenset({"text", "caption", "parse_mode", "callback_query_id", "url", "filename",
                         "description", "short_description", "name", "title"})


IDLE_CONNECTION_S = 300


@dataclass
class Call:
    """One request the bot made, with its parameters and uploaded files."""

    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    result: Any = None
    at: float = field(default_factory=time.monotonic)

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def buttons(self) -> list[dict[str, Any]]:
        markup = self.params.get("reply_markup") or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]


@dataclass
class QueuedError:
    method: str
    status: int
    description: str
    retry_after: int | None
    chat_id: int | None
    migrate_to_chat_id: int | None = None


class BotApiEmulator:
    def __init__(self, token: str = "123456:EMULATOR",  # noqa: S107 - a fake
                 username: str = "sensorbot_test_bot",
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token
        self.username = username
        self.host, self.port = host, port
        self.calls: list[Call] = []
        self.commands: list[dict[str, Any]] = []
        self._updates: list[dict[str, Any]] = []
        self._direct: list[dict[str, Any]] = []
        self._errors: list[QueuedError] = []
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Condition | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._listeners: list[Callable[[Call], None]] = []
        self._closing = False
        self.first_poll_at: float | None = None  # time.monotonic() of the first getUpdates
        self.served_at: dict[int, float] = {}  # update_id → when getUpdates first returned it
        # Set, the users' updates go to it (a bot fed by Application.process_update) instead
        # of waiting for getUpdates; it is called on the driver's thread.
        self.deliver: Callable[[dict[str, Any]], None] | None = None

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What `telegram.base_url` should be set to."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> BotApiEmulator:
        started = threading.Event()
        app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint,
                                      methods=["GET", "POST"])])
        # uvicorn drops a connection idle for 5 s; a bot drawing a chart on a busy machine
        # can take that long, and its next call then meets a connection closed under it.
        # api.telegram.org keeps idle connections far longer.
        config = uvicorn.Config(app, host=self.host, port=self.port, log_level="warning",
                                access_log=False, lifespan="off", timeout_graceful_shutdown=1,
                                timeout_keep_alive=IDLE_CONNECTION_S)
        self._server = uvicorn.Server(config)
        # The emulator runs on a thread of its own: the process keeps its signals.
        self._server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]

        def run() -> None:
            asyncio.run(self._serve(started))

        self._thread = threading.Thread(target=run, name="bot-api-emulator", daemon=True)
        self._thread.start()
        if not started.wait(timeout=20):
            raise RuntimeError("the Bot API emulator did not start")
        return self

    async def _serve(self, started: threading.Event) -> None:
        assert self._server is not None
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Condition()
        serving = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        started.set()
        await serving

    def stop(self) -> None:
        if self._server is not None:
            self._closing = True
            if self._loop is not None and self._loop.is_running():
                asyncio.run_coroutine_threadsafe(self._notify(), self._loop)
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> BotApiEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _in_loop(self, work: Callable[[], T]) -> T:
        """Run `work` on the emulator's loop (state is touched there only) and notify pollers."""
        assert self._loop is not None

        async def apply() -> T:
            result = work()
            await self._notify()
            return result

        return asyncio.run_coroutine_threadsafe(apply(), self._loop).result(timeout=10)

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    # -- what a driver does ----------------------------------------------------------------

    def send_text(self, chat_id: int, text: str, *, user_id: int | None = None,
                  first_name: str = "Tester", chat_type: str = "private") -> dict[str, Any]:
        """A user writes in a chat; returns the message (with its `update_id`)."""
        user_id = chat_id if user_id is None else user_id

        def add() -> dict[str, Any]:
            message: dict[str, Any] = {
                "message_id": next(self._message_ids), "date": int(time.time()),
                "chat": {"id": chat_id, "type": chat_type,
                         **({"first_name": first_name} if chat_type == "private"
                            else {"title": "Group"})},
                "from": {"id": user_id, "is_bot": False, "first_name": first_name},
                "text": text,
            }
            command = text.split(maxsplit=1)[0] if text.startswith("/") else ""
            if command:
                message["entities"] = [{"type": "bot_command", "offset": 0,
                                        "length": len(command)}]
            self._messages[(chat_id, message["message_id"])] = message
            update_id = next(self._update_ids)
            self._queue({"update_id": update_id, "message": message})
            return {**message, "update_id": update_id}

        sent = self._in_loop(add)
        self._hand_over()
        return sent

    def send_location(self, chat_id: int, latitude: float, longitude: float, *,
                      user_id: int | None = None, chat_type: str = "private") -> None:
        """A user shares a location in a chat (📎 → Location)."""
        user_id = chat_id if user_id is None else user_id

        def add() -> None:
            message: dict[str, Any] = {
                "message_id": next(self._message_ids), "date": int(time.time()),
                "chat": {"id": chat_id, "type": chat_type, "first_name": "Tester"}
                if chat_type == "private" else {"id": chat_id, "type": chat_type,
                                                "title": "Group"},
                "from": {"id": user_id, "is_bot": False, "first_name": "Tester"},
                "location": {"latitude": latitude, "longitude": longitude},
            }
            self._messages[(chat_id, message["message_id"])] = message
            self._updates.append({"update_id": next(self._update_ids), "message": message})

        self._in_loop(add)

    def press(self, call: Call, data: str, *, user_id: int | None = None,
              first_name: str = "Tester") -> None:
        """A user presses an inline button under a message the bot sent."""
        message = call.result
        chat_id = message["chat"]["id"]

        def add() -> None:
            self._queue({"update_id": next(self._update_ids), "callback_query": {
                "id": str(next(self._message_ids)), "chat_instance": str(chat_id),
                "from": {"id": user_id or chat_id, "is_bot": False, "first_name": first_name},
                "message": self._messages.get((chat_id, message["message_id"]), message),
                "data": data,
            }})

        self._in_loop(add)
        self._hand_over()

    def _queue(self, update: dict[str, Any]) -> None:
        (self._direct if self.deliver else self._updates).append(update)

    def _hand_over(self) -> None:
        """Updates for a directly fed bot, delivered outside the emulator's loop (the bot
        calls back into it while it handles them)."""
        while self.deliver and self._direct:
            self.deliver(self._direct.pop(0))

    def fail_next(self, method: str, status: int, description: str, *,
                  retry_after: int | None = None, chat_id: int | None = None,
                  migrate_to_chat_id: int | None = None) -> None:
        """The next `method` call (to `chat_id`, if given) gets this error instead;
        `migrate_to_chat_id` answers as Telegram does for a group that became a supergroup."""
        error = QueuedError(method, status, description, retry_after, chat_id,
                            migrate_to_chat_id)
        self._in_loop(lambda: self._errors.append(error))

    def wait_for(self, predicate: Callable[[Call], bool], *, timeout: float = 10.0,
                 after: int = 0) -> Call:
        """The first call from index `after` on that satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        while True:
            for call in self.calls[after:]:
                if predicate(call):
                    return call
            if time.monotonic() > deadline:
                seen = [(c.method, c.chat_id, c.text[:60]) for c in self.calls[after:]]
                raise TimeoutError(f"no such call within {timeout} s; seen: {seen}")
            time.sleep(0.01)

    def on_call(self, listener: Callable[[Call], None]) -> None:
        """Called (on the emulator's thread) after every call; the demo prints with it."""
        self._listeners.append(listener)

    # -- the Bot API ------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.path_params["method"]
        params, files = await _read_params(request)
        error = self._take_error(method, params)
        if error is not None:
            return _error(error.status, error.description, error.retry_after,
                          error.migrate_to_chat_id)
        call = Call(method, params, files)
        if method == "getUpdates":
            if self.first_poll_at is None:
                self.first_poll_at = time.monotonic()
            call.result = await self._get_updates(params)
        else:
            call.result = self._answer(method, params, files)
            self.calls.append(call)
            for listener in self._listeners:
                listener(call)
        return JSONResponse({"ok": True, "result": call.result})

    def _take_error(self, method: str, params: dict[str, Any]) -> QueuedError | None:
        for error in self._errors:
            chat = str(params.get("chat_id"))
            if error.method == method and error.chat_id in (None, int(chat) if chat.lstrip("-")
                                                            .isdigit() else None):
                self._errors.remove(error)
                return error
        return None

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        assert self._changed is not None
        offset = int(params.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        timeout = float(params.get("timeout") or 0)
        if not self._updates and timeout > 0 and not self._closing:
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout)
        limit = int(params.get("limit") or 100)
        served = list(self._updates[:limit])
        now = time.monotonic()
        for update in served:
            self.served_at.setdefault(update["update_id"], now)
        return served

    def _answer(self, method: str, params: dict[str, Any],
                files: dict[str, tuple[str, bytes]]) -> Any:
        if method == "getMe":
            return {"id": BOT_ID, "is_bot": True, "first_name": "Sensorbot",
                    "username": self.username, "can_join_groups": True,
                    "can_read_all_group_messages": False, "supports_inline_queries": False}
        if method == "setMyCommands":
            self.commands = list(params.get("commands") or [])
            return True
        if method == "getMyCommands":
            return self.commands
        if method in {"sendMessage", "sendPhoto", "sendDocument"}:
            return self._new_message(method, params, files)
        if method in {"editMessageText", "editMessageReplyMarkup", "editMessageCaption"}:
            return self._edit(params)
        if method == "deleteMessage":
            return self._messages.pop((int(params["chat_id"]), int(params["message_id"])),
                                      None) is not None
        return True  # answerCallbackQuery, deleteWebhook, sendChatAction...: accepted

    def _new_message(self, method: str, params: dict[str, Any],
                     files: dict[str, tuple[str, bytes]]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(self._message_ids), "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Sensorbot",
                     "username": self.username},
        }
        if method == "sendMessage":
            message["text"] = params.get("text", "")
        else:
            kind = "photo" if method == "sendPhoto" else "document"
            name, content = files.get(kind, ("file", b""))
            file = {"file_id": f"file{message['message_id']}",
                    "file_unique_id": f"u{message['message_id']}", "file_size": len(content)}
            if kind == "photo":
                message["photo"] = [{**file, "width": 1200, "height": 700}]
            else:
                message["document"] = {**file, "file_name": name}
            if params.get("caption"):
                message["caption"] = params["caption"]
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self._messages[(chat_id, message["message_id"])] = message
        return message

    def _edit(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = self._messages.get(key)
        if message is None:
            return {"message_id": key[1], "date": int(time.time()),
                    "chat": {"id": key[0], "type": "private"}}
        if "text" in params:
            message["text"] = params["text"]
        message.pop("reply_markup", None)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message


async def _read_params(request: Request) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """Parameters as PTB sends them: form fields (JSON-encoded unless text), files, or JSON."""
    params: dict[str, Any] = dict(request.query_params)
    files: dict[str, tuple[str, bytes]] = {}
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await request.body()
        params.update(json.loads(body) if body else {})
        return params, files
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        for key, value in form.multi_items():
            if isinstance(value, str):
                params[key] = _decode(key, value)
            else:
                files[key] = (value.filename or key, await value.read())
    return params, files


def _decode(key: str, value: str) -> Any:
    if key in TEXT_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _error(status: int, description: str, retry_after: int | None = None,
           migrate_to_chat_id: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    if migrate_to_chat_id is not None:
        body["parameters"] = {"migrate_to_chat_id": migrate_to_chat_id}
    return JSONResponse(body, status_code=status)
