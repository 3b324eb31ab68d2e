"""The `sensorbot` command: parses arguments, loads configuration, wires things up."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from core.clock import wall_clock_ms
from core.config import ConfigError, Settings, find_config_file, load_settings
from core.temperature import is_celsius, is_fahrenheit
from core.tokens import TokenImportError, import_ranch_tokens, issue_token
from core.users import NoFreeId, add_user_named
from sensorbot.lean import (
    LONG_RUNNING,
    return_large_blocks,
    share_heap_arenas,
    unused_extras_hidden,
)
from sensorbot.logs import configure_logging
from sensorbot.progress import ProgressLine
from sensorbot.stores import open_store
from storage.base import ScanProgress, Store
from storage.errors import InvalidRecord, NotFound, StorageError
from storage.models import User, check_user_id

if TYPE_CHECKING:
    from alerts.cycle import CycleSummary

T = TypeVar("T")
EXIT_USAGE = 2
EXIT_FAILURE = 1


class CommandError(Exception):
    """A user-facing failure of a command: printed as is, exit status 1."""


class UsageError(Exception):
    """A command given something it cannot take: printed as is, exit status 2."""


now_ms = wall_clock_ms


def iso(ms: int | None) -> str:
    if ms is None:
        return "never"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def user_name(text: str) -> str:
    """A user's display name, as argparse checks it: a blank one would show as nothing."""
    name = text.strip()
    if not name:
        raise argparse.ArgumentTypeError(
            'a user needs a name that is not blank, e.g. sensorbot users add "Summer cottage"')
    return name


# -- commands --------------------------------------------------------------------------------

def cmd_init(store: Store, args: argparse.Namespace, settings: Settings) -> None:
    if settings.storage.backend == "dynamodb":
        from sensorbot.tables import init_tables

        init_tables(store, create=args.create_tables,
                    endpoint_url=settings.storage.dynamodb.endpoint_url)
        return
    for warning in store.init():
        print(warning, file=sys.stderr)
    print(f"storage ready: {settings.storage.sqlite_path}", file=sys.stderr)


def cmd_users_add(store: Store, args: argparse.Namespace, settings: Settings) -> None:
    if args.id is not None:
        user_id = args.id
        check_user_id(user_id)
        store.add_user(User(user_id, args.name, now_ms()))
    else:
        try:
            user_id = add_user_named(store, args.name, now_ms=now_ms())
        except NoFreeId as exc:
            raise CommandError(f"{exc}; pass one with --id") from None
    print(user_id)


def cmd_users_list(store: Store, args: argparse.Namespace, settings: Settings) -> None:
    for user in store.list_users():
        print(f"{user.user_id}\t{user.name}")


def cmd_tokens_issue(store: Store, args: argparse.Namespace, settings: Settings) -> None:
    secret, _ = issue_token(store, args.user_id, args.scope, label=args.label, now_ms=now_ms())
    print(secret)


def cmd_tokens_list(store: Store, args: argparse.Namespace, settings: Settings) -> None:
    rows = [("ID", "USER", "SCOPE", "LABEL", "CREATED", "LAST USED", "STATUS")]
    rows += [
        (t.token_id, t.user_id, t.scope, t.label or "-", iso(t.created), iso(t.last_used),
         "revoked" if t.revoked else "active")
        for t in store.list_tokens(args.user_id)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())


def cmd_tokens_revoke(store: Store, args: argparse.Namespace, settings: Settings) -> None:
    if not store.revoke_token(args.token_id):
        raise NotFound(f"no token with id {args.token_id!r} (see `sensorbot tokens list`)")
    print(f"revoked {args.token_id}", file=sys.stderr)


def cmd_tokens_import(store: Store, args: argparse.Namespace, settings: Settings) -> None:
    text = args.string if args.string is not None else os.environ.get("RANCH_API_TOKENS")
    if not text:
        raise CommandError("give the token string as an argument or in RANCH_API_TOKENS, "
                           "e.g. sensorbot tokens import 'R:readtoken:23#W:writetoken:23'")
    result = import_ranch_tokens(store, text, now_ms=now_ms())
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for token in result.imported:
        print(f"{token.token_id}\t{token.user_id}\t{token.scope}")
    print(f"imported {len(result.imported)} token(s)", file=sys.stderr)


def cmd_sensors_delete(store: Store, args: argparse.Namespace, settings: Settings) -> None:
    from sensorbot.forget import Tally, chosen_sensors, forget_all

    try:
        sensors = chosen_sensors(store, args.user_id, args.sensor, args.prefix)
    except LookupError as exc:
        raise NotFound(str(exc)) from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None

    progress = ProgressLine(sys.stderr)

    def show(tally: Tally) -> None:
        progress.show(tally.progress_line(len(sensors)))

    tally = forget_all(store, args.user_id, sensors, progress=show)
    progress.finish(tally.progress_line(len(sensors)))
    for done in tally.deleted:
        print(f"{done.sensor}\t{done.readings}\t{done.rules}")
    print(tally.summary(), file=sys.stderr)


REUSE_THE_OLD_BOT = (
    "note: these chats pressed Start with the old bot only, and Telegram lets a bot write only "
    "to chats that started it. Run sensorbot with the OLD bot's token ([telegram] token, or the "
    "SSM parameter on AWS) and stop the old bot: with a new bot, every alert to them is "
    "refused (403) and the chats are marked inactive (docs/migrating.md).")


def cmd_migrate(store: Store, args: argparse.Namespace, settings: Settings) -> None:
    from sensorbot.migrate import migrate, parse_old_bot_users, progress_line, summary

    text = args.tokens if args.tokens is not None else os.environ.get("RANCH_API_TOKENS")
    if not text:
        print("note: no token string (--tokens or RANCH_API_TOKENS): no tokens imported",
              file=sys.stderr)
    old_chats = None
    if args.telegram_users:
        try:
            content = Path(args.telegram_users).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {args.telegram_users}: {exc.strerror}") from None
        old_chats = parse_old_bot_users(content)

    lines = ProgressLine(sys.stderr)

    def show(progress: ScanProgress) -> None:
        lines.show(progress_line(progress))

    started = time.monotonic()
    done = migrate(store, tokens=text or None, old_chats=old_chats, now_ms=now_ms(),
                   dry_run=args.dry_run, segments=args.segments, progress=show)
    elapsed = time.monotonic() - started
    lines.finish()
    for warning in done.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print("\n".join(summary(done, elapsed_s=elapsed)))
    if old_chats:
        print(REUSE_THE_OLD_BOT, file=sys.stderr)


def cmd_rollup(store: Store, args: argparse.Namespace, settings: Settings) -> None:
    from storage.rollup import Rollup, rebuild

    started, now = time.monotonic(), now_ms()
    if args.rebuild or args.since is not None:
        since = 0 if args.since is None else int(
            datetime.combine(args.since, datetime.min.time(), UTC).timestamp() * 1000)
        done = rebuild(store, since_ms=since, now_ms=now)
    else:
        done = Rollup(store).run(now)
    capacity = getattr(store, "capacity", None)
    units = f"; {capacity.read_units:,.1f} read and {capacity.write_units:,.1f} write units" \
        if capacity is not None else ""
    print(f"statistics: {done.sensors} sensor(s), {done.hours_written:,} hour(s) written from "
          f"{done.readings_read:,} reading(s) in {time.monotonic() - started:.1f} s{units}")
    if done.failed:
        raise CommandError(f"{done.failed} sensor(s) failed (see the warnings); run it again")


def cmd_api(store: Store, args: argparse.Namespace, settings: Settings) -> None:
    from sensorbot.runner import ApiOrigin, run_until_signalled, serve_api

    given = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    try:
        api = type(settings.api).model_validate({**settings.api.model_dump(), **given})
    except ValidationError as exc:
        problem = exc.errors()[0]
        flag = f"--{problem['loc'][0]}" if problem["loc"] else "--host/--port"
        raise ConfigError(f"{flag}: {problem['msg']} (e.g. sensorbot api --port 8080)") from None
    settings = settings.model_copy(update={"api": api})
    origin = ApiOrigin(host_flag="host" in given, port_flag="port" in given)
    run_until_signalled(lambda stop: serve_api(settings, store, stop, origin))


def cmd_run(store: Store, args: argparse.Namespace, settings: Settings) -> None:
    from sensorbot.runner import run_forever

    run_forever(settings, store)


def demo() -> int:
    """Needs no configuration and touches none: everything lives in a fresh folder."""
    from sensorbot.demo import run_demo

    run_demo()
    return 0


def emulator(args: argparse.Namespace) -> int:
    """Reads no configuration: it prints what to set in yours."""
    from sensorbot.demo.by_hand import port_in_use, run_emulator

    if port_in_use(args.host, args.port):
        print(f"Port {args.port} on {args.host} is in use; pick another with "
              f"`sensorbot emulator --port {args.port + 1}`.", file=sys.stderr)
        return EXIT_USAGE
    run_emulator(sys.stdin, sys.stdout, host=args.host, port=args.port)
    return 0


def cmd_alerts_check(store: Store, args: argparse.Namespace, settings: Settings) -> None:
    """One alert cycle. Telegram out of reach fails the check only when something was to be
    sent; what was not delivered stays in the rules' outboxes for the next check."""
    from sensorbot.scheduled import alert_bot, configured_forecasts, connect, cycle_once

    bot = alert_bot(settings)

    async def once() -> tuple[CycleSummary, str | None]:
        unreachable = await connect(bot)
        try:
            summary = await cycle_once(settings, store, bot, now_ms(),
                                       configured_forecasts(settings))
        finally:
            await bot.shutdown()
        return summary, unreachable

    summary, unreachable = run_against_telegram(once(), settings)
    print(summary)
    from storage.rollup import Rollup  # the process that runs the cycle compiles the hours

    Rollup(store).run(now_ms())
    if summary.failed:
        raise CommandError(undelivered(summary.failed, unreachable, settings))


def undelivered(failed: int, unreachable: str | None, settings: Settings) -> str:
    """The one line of a check that failed: why Telegram could not be reached when that is
    why, and that what failed waits for the next check."""
    kept = f"{failed} failed, kept for the next check"
    if unreachable is None:
        return f"{kept} (see the log)"
    return (f"cannot reach Telegram ({_without(unreachable, _bot_token(settings))}); {kept}; "
            "check the network and [telegram] base_url")


def run_against_telegram(call: Coroutine[Any, Any, T], settings: Settings) -> T:
    """Telegram's answer. A refused token is a configuration error (exit 2); no network or
    another refusal is one line (exit 1). Never a traceback, never the token itself."""
    import asyncio

    from telegram.error import InvalidToken, NetworkError, TelegramError

    from sensorbot.runner import REFUSED_BY_TELEGRAM

    token = _bot_token(settings)
    try:
        return asyncio.run(call)
    except InvalidToken:
        raise ConfigError(REFUSED_BY_TELEGRAM) from None
    except NetworkError as error:
        raise CommandError(f"cannot reach Telegram ({_without(str(error), token)}); check the "
                           "network and [telegram] base_url") from None
    except TelegramError as error:
        raise CommandError(f"Telegram refused: {_without(str(error), token)}") from None


def _bot_token(settings: Settings) -> str:
    """The token Telegram's errors may quote, to take out of what is shown."""
    return settings.telegram.token or os.environ.get("TELEGRAM_BOT_TOKEN") or ""


def _without(text: str, secret: str) -> str:
    return text.replace(secret, "<bot token>") if secret else text


def cmd_webhook_set(store: Store | None, args: argparse.Namespace, settings: Settings) -> None:
    from sensorbot.secrets import fill_secrets
    from sensorbot.webhook import set_webhook

    if not args.url.startswith("https://"):
        raise UsageError(f"error: Telegram delivers webhooks over HTTPS only; got {args.url!r}. "
                         "Use the WebhookUrl output of the deployed stack, e.g. sensorbot webhook "
                         "set https://abc123.lambda-url.eu-north-1.on.aws/")
    settings = fill_secrets(settings)
    run_against_telegram(set_webhook(settings, args.url), settings)
    print(f"webhook set: Telegram now posts updates to {args.url} with the secret token",
          file=sys.stderr)


def cmd_webhook_delete(store: Store | None, args: argparse.Namespace,
                       settings: Settings) -> None:
    from sensorbot.secrets import fill_secrets
    from sensorbot.webhook import delete_webhook

    settings = fill_secrets(settings)
    run_against_telegram(delete_webhook(settings), settings)
    print("webhook deleted: `sensorbot run` can long-poll this bot again", file=sys.stderr)


# -- wiring ----------------------------------------------------------------------------------

Handler = Callable[[Store, argparse.Namespace, Settings], None]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sensorbot", description="Home-sensor monitoring over Telegram. See README.md.")
    parser.add_argument("--config", metavar="PATH", help="configuration file (TOML)")
    # Subcommands take --config too, without a default of their own: a default would overwrite
    # the one given before the command name.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="configuration file (TOML)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(group: argparse._SubParsersAction[argparse.ArgumentParser], name: str, handler: Handler,
            help_text: str) -> argparse.ArgumentParser:
        sub = group.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    add(commands, "run", cmd_run, "the bot, the alert scheduler and the HTTP API, one process"
        ).set_defaults(needs_bot=True)
    commands.add_parser(
        "demo", parents=[common],
        help="everything embedded, chatting in this terminal, no Telegram account needed",
        description="The whole product on this machine, no Telegram account needed: a local Bot "
        "API emulator, the HTTP API on a free localhost port, a fresh SQLite file in a new "
        "temporary folder, simulated sensors and, with amqtt installed (the demo extra), an MQTT "
        "broker on a free localhost port with a Zigbee2MQTT-style sensor publishing to it. You "
        "chat with the bot in this terminal. "
        "Reads no configuration and touches nothing else.")
    backtest = commands.add_parser(
        "backtest", parents=[common],
        help="replay a sensor's readings through the heating watch: when it would have warned",
        description="Replay readings through the heating watch, reading by reading, as the alert "
        "cycle would have seen them; one JSON line per transition on stdout, a summary on "
        "stderr. A FILE is CSV of timestamp_ms,value rows or an /export of 48 h or less "
        "(timestamp_ms,local_time,value), header optional, .gz read as gzip; longer ranges: "
        "see docs/heating.md. Reads no configuration and no storage.")
    backtest.add_argument("--indoor", required=True, metavar="FILE",
                          help="the watched sensor's readings")
    backtest.add_argument("--outdoor", metavar="FILE", help="outdoor readings: the measurement "
                          "up to each moment, and the forecast after it")
    backtest.add_argument("--unit", default="°C", metavar="UNIT", type=temperature_unit,
                          help="the files' unit: °C (the default) or °F, converted for the watch "
                          "and printed back in °F")
    local = commands.add_parser(
        "emulator", parents=[common],
        help="a stand-in for Telegram on this machine, chatting in this terminal: try "
        "`sensorbot run` before you have a bot token",
        description="Starts the local Bot API emulator, prints the base_url and token to give "
        "`sensorbot run`, and makes this terminal a private chat with that bot. Reads no "
        "configuration.")
    local.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    local.add_argument("--port", type=int, default=8081, help="port (default 8081)")
    init = add(commands, "init", cmd_init, "create storage (idempotent)")
    init.add_argument("--create-tables", action="store_true",
                      help="DynamoDB: create the tables that are missing (without a stack that "
                      "owns them); without it, init only checks and adopts the ones there are")
    api = add(commands, "api", cmd_api, "serve the HTTP API alone")
    api.add_argument("--host", help="listen address (default: api.host)")
    api.add_argument("--port", type=int, help="port (default: api.port)")

    def group(name: str, help_text: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        return commands.add_parser(name, parents=[common], help=help_text).add_subparsers(
            dest="action", required=True, metavar="ACTION")

    users = group("users", "manage users")
    users_add = add(users, "add", cmd_users_add, "create a user; prints its id")
    users_add.add_argument("name", type=user_name)
    users_add.add_argument("--id", help="the user id (default: made from the name)")
    add(users, "list", cmd_users_list, "list users").set_defaults(reads_only=True)

    sensors = group("sensors", "manage sensors")
    forget = add(sensors, "delete", cmd_sensors_delete,
                 "delete a sensor (or every sensor whose id starts with --prefix) with its alert "
                 "rules and readings; prints one line per sensor: id, readings, rules")
    forget.add_argument("user_id", metavar="USER")
    forget.add_argument("sensor", metavar="SENSOR", nargs="?")
    forget.add_argument("--prefix", metavar="P", help="every sensor whose id starts with P")

    alerts = group("alerts", "alert cycle")
    add(alerts, "check", cmd_alerts_check, "run one alert cycle (evaluate, deliver) and exit"
        ).set_defaults(needs_bot=True, needs_database=True)

    webhook = group("webhook", "the bot's Telegram webhook (AWS)")
    webhook_set = add(webhook, "set", cmd_webhook_set, "have Telegram post updates to URL, "
                      "with telegram.webhook_secret as the secret token")
    webhook_set.add_argument("url")
    webhook_set.set_defaults(needs_store=False)
    add(webhook, "delete", cmd_webhook_delete, "remove the webhook"
        ).set_defaults(needs_store=False)

    tokens = group("tokens", "manage API tokens")
    issue = add(tokens, "issue", cmd_tokens_issue, "issue a token; prints it (shown only once)")
    issue.add_argument("user_id")
    issue.add_argument("--scope", required=True, choices=["read", "write"])
    issue.add_argument("--label", default="")
    listing = add(tokens, "list", cmd_tokens_list, "list tokens (never their secrets)")
    listing.add_argument("user_id", nargs="?")
    listing.set_defaults(reads_only=True)
    revoke = add(tokens, "revoke", cmd_tokens_revoke, "revoke a token")
    revoke.add_argument("token_id")
    imports = add(tokens, "import", cmd_tokens_import,
                  "import ranchdata's R:TOKEN:USER#W:TOKEN:USER (else env RANCH_API_TOKENS)")
    imports.add_argument("string", nargs="?")
    rollup = add(commands, "rollup", cmd_rollup,
                 "compile the hourly statistics now (the alert cycle does it every hour)")
    rollup.add_argument("--rebuild", action="store_true",
                        help="recompile every hour the readings still hold")
    rollup.add_argument("--since", type=day, metavar="DATE",
                        help="recompile from this UTC day on, e.g. 2026-01-01")
    migration = add(commands, "migrate", cmd_migrate,
                    "adopt a running ranchdata deployment: its tokens, sensors and chats")
    migration.add_argument("--tokens", metavar="STRING",
                           help="ranchdata's R:TOKEN:USER#W:TOKEN:USER (else RANCH_API_TOKENS)")
    migration.add_argument("--telegram-users", metavar="PATH",
                           help="the old bot's users.json: [[telegram_user_id, apikey], ...]")
    migration.add_argument("--dry-run", action="store_true", help="say what it would do; "
                           "write nothing")
    migration.add_argument("--segments", type=int, default=4, choices=range(1, 65),
                           metavar="N", help="parallel scan segments (default 4)")
    return parser


def temperature_unit(text: str) -> str:
    """`backtest --unit`: °C or °F, as /unit would spell them ("F", "degF"); any other unit
    would replay its readings as if they were °C."""
    if not (is_celsius(text) or is_fahrenheit(text)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a temperature unit; e.g. --unit °F "
                                         "or --unit °C")
    return text


def day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; e.g. 2026-01-01") from None


def warn_if_others_can_read(path: Path | None) -> None:
    """A bot token in a file others can read is the bot in their hands: say so, carry on."""
    if path is not None and path.stat().st_mode & 0o077:
        logging.getLogger("sensorbot").warning(
            "%s can be read by other users of this machine and may hold the bot token; "
            "chmod 600 %s", path, path)


def missing_database(settings: Settings, args: argparse.Namespace) -> Path | None:
    """The SQLite file a command that only reads would need, when it is not there: opening it
    would create an empty one (in the wrong folder, say) and answer as if all were well. So
    would `alerts check` (a cron job started elsewhere), checking no rules every minute."""
    needs_one = getattr(args, "reads_only", False) or getattr(args, "dry_run", False) or \
        getattr(args, "needs_database", False)
    path = settings.storage.sqlite_path
    if settings.storage.backend == "sqlite" and needs_one and not path.exists():
        return path
    return None


# The set-up's commands, typed by hand, which make the SQLite file when it is not there.
SETUP_COMMANDS = frozenset({"users", "tokens", "sensors", "rollup", "migrate"})


def new_database_note(settings: Settings, args: argparse.Namespace) -> str | None:
    """A line for a set-up command about to make the SQLite file (`init` makes it on purpose):
    run outside the configuration's folder, it makes a new, empty ./sensorbot.db, and its
    "no user" would otherwise puzzle."""
    path = settings.storage.sqlite_path
    if settings.storage.backend != "sqlite" or path.exists() or \
            args.command not in SETUP_COMMANDS:
        return None
    found = find_config_file(args.config, os.environ, Path.cwd())
    where = f"as {found} names it" if found else \
        "no config.toml in this folder: run where yours is, or pass --config"
    return f"note: there was no database at {path}, so this made a new, empty one ({where})"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The demo's terminal is a chat: only warnings may interrupt it.
    configure_logging(logging.WARNING if args.command in {"demo", "emulator"} else logging.INFO)
    if args.command == "demo":
        return demo()
    if args.command == "backtest":
        from sensorbot.backtest import run

        return run(args.indoor, args.outdoor, unit=args.unit)
    if args.command == "emulator":
        return emulator(args)
    if args.command in LONG_RUNNING:
        share_heap_arenas()
        return_large_blocks()
        with unused_extras_hidden():
            return run_command(args)
    return run_command(args)


def run_command(args: argparse.Namespace) -> int:
    """A command that reads the configuration (and opens the store, if it needs one)."""
    try:
        settings = load_settings(args.config)
        if getattr(args, "needs_bot", False):
            from bot.app import require_token

            require_token(settings)
            warn_if_others_can_read(find_config_file(args.config, os.environ, Path.cwd()))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    missing = missing_database(settings, args)
    if missing is not None:
        print(f"error: no database at {missing}; run `sensorbot init` (or point --config at "
              "the configuration that names yours)", file=sys.stderr)
        return EXIT_FAILURE
    note = new_database_note(settings, args)
    try:
        store = open_store(settings.storage) if getattr(args, "needs_store", True) else None
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if note:
        print(note, file=sys.stderr)
    try:
        args.handler(store, args, settings)
    except (ConfigError, UsageError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except InvalidRecord as exc:  # an argument no store can keep, such as an id with '#'
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (CommandError, StorageError, TokenImportError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        if store is not None:
            store.close()
    return 0
