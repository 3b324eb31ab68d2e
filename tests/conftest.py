"""Shared fixtures: every storage backend behind one `store` fixture, and dynalite; every test
isolated from the user's world (their ./config.toml and SENSORBOT_* / TELEGRAM_BOT_TOKEN)."""

from __future__ import annotations

import gc
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.common import BACKENDS, StoreFactory
from tests.support.dynalite import Dynalite, find_dynalite, start_dynalite
from tests.support.migrate import OLD_WRITES, READ, WRITE, ranch_put
from tests.support.stores import stores_on

# No test touches the internet, and none may pick up a developer's real AWS account or their
# sensorbot settings. Done at import, so session fixtures and every subprocess (which inherit
# this environment) are covered too.
USERS_VARIABLES = ("AWS_PROFILE", "TELEGRAM_BOT_TOKEN", "RANCH_API_TOKENS")
os.environ["NO_PROXY"] = "127.0.0.1,localhost"
os.environ["no_proxy"] = "127.0.0.1,localhost"
for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "eu-north-1"}.items():
    os.environ[name] = value
for name in [n for n in os.environ if n in USERS_VARIABLES or n.upper().startswith("SENSORBOT_")]:
    os.environ.pop(name)



def share_tls_contexts() -> None:
    """httpx loads certifi's CA bundle (20 ms of CPU) into a new TLS context for every client it
    makes, and each bot under test makes two. One context per setting serves them all (a
    context is safe to share); no test speaks TLS through httpx."""
    from httpx._transports import default

    make = default.create_ssl_context
    made: dict[tuple[bool, str | None, str | None], Any] = {}

    def shared(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        if verify is not True or cert is not None:
            return make(verify=verify, cert=cert, trust_env=trust_env)
        key = (trust_env, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        if key not in made:
            made[key] = make(verify=verify, cert=cert, trust_env=trust_env)
        return made[key]

    default.create_ssl_context = shared


share_tls_contexts()

# Linux keeps a tmpfs at /dev/shm. The suite's SQLite stores sync every commit to disk: on a
# busy shared disk that waiting took a third of the API and bot tests' time. In memory nothing
# a test can observe changes (a killed process's writes survive in the page cache either way).
MEMORY_FOLDER = Path("/dev/shm")
MEMORY_FOLDER_FREE = 1 << 30  # bytes; a container's 64 MiB /dev/shm is left alone


def pytest_configure(config: pytest.Config) -> None:
    """Temporary folders (the tests', and those of every process they start) in memory, unless
    the runner chose a folder (TMPDIR or --basetemp) or the machine has no tmpfs to spare."""
    if os.environ.get("TMPDIR") or config.option.basetemp or not in_memory_folder_fits():
        return
    os.environ["TMPDIR"] = tempfile.tempdir = str(MEMORY_FOLDER)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection built (every module, test and parameter) lives to the end: frozen out
    of the cycle collector, whose full passes would otherwise walk it again and again. The
    product freezes its start-up the same way; here it halves the collector's CPU."""
    gc.collect()
    gc.freeze()


def in_memory_folder_fits() -> bool:
    try:
        stats = os.statvfs(MEMORY_FOLDER)
    except OSError:
        return False
    return os.access(MEMORY_FOLDER, os.W_OK) and stats.f_bavail * stats.f_frsize >= \
        MEMORY_FOLDER_FREE


@pytest.fixture(autouse=True)
def isolated_from_the_users_world(tmp_path_factory: pytest.TempPathFactory,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test (and each subprocess it starts) runs in an empty folder of its own, so a
    ./config.toml in the project folder is never read, with none of the user's variables."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    for name in [n for n in os.environ
                 if n in USERS_VARIABLES or n.upper().startswith("SENSORBOT_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def emulator() -> Iterator[Any]:
    """A local Bot API server for one test."""
    from sensorbot.demo.emulator import BotApiEmulator

    with BotApiEmulator() as running:
        yield running


@pytest.fixture(scope="session")
def dynalite() -> Iterator[Dynalite]:
    binary = find_dynalite()
    if binary is None:
        message = "dynalite is not installed (make test installs it into .tools/)"
        if os.environ.get("REQUIRE_DYNALITE") == "1":
            pytest.fail(message + "; REQUIRE_DYNALITE=1 makes that a failure")
        pytest.skip(message)
    server = start_dynalite(binary)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dynalite_client(dynalite: Dynalite) -> Any:
    from storage.dynamodb.client import build_client

    return build_client("eu-north-1", dynalite.endpoint)


@pytest.fixture(scope="session")
def botocore_session() -> Any:
    """One botocore session for the moto tests: a client made from it skips re-reading
    botocore's JSON models (50 ms of CPU a test, where moto's start would otherwise leave a
    fresh default session). Made after moto is imported, so it carries moto's hook."""
    import botocore.session
    import moto  # noqa: F401

    return botocore.session.get_session()


@pytest.fixture
def moto_client(botocore_session: Any) -> Iterator[Any]:
    from moto import mock_aws

    with mock_aws():
        yield botocore_session.create_client("dynamodb", region_name="eu-north-1")


@pytest.fixture(params=BACKENDS)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """A factory of fresh, initialised stores on the parametrised backend."""
    yield from stores_on(request.param, request, tmp_path)


@pytest.fixture
def store(make_store: StoreFactory) -> Any:
    return make_store()


@pytest.fixture
def racing_store(request: pytest.FixtureRequest, store: Any) -> Any:
    """`store`, for threads racing one conditional write. moto's backend does not serialise
    concurrent requests, so two conditional puts can both see the item absent (a loaded
    machine shows it); DynamoDB, dynalite and SQLite are atomic, and CI runs dynalite."""
    if request.node.callspec.params.get("make_store") == "moto":
        pytest.skip("moto does not serialise conditional writes between threads")
    return store


@pytest.fixture
def ranch(dynalite: Any, dynalite_client: Any, tmp_path: Path) -> dict[str, Any]:
    """A ranchdata table with its old bot's users.json, and sensorbot's config beside it."""
    from storage.dynamodb import DynamoDBStore

    suffix = uuid.uuid4().hex[:10]
    store = DynamoDBStore(client=dynalite_client, measurements_table=f"measurement-{suffix}",
                          meta_table=f"meta-{suffix}")
    store.init()
    for user, sensor, bodies in OLD_WRITES:
        for body in bodies:
            ranch_put(dynalite_client, store.measurements_table, user, sensor, body)
    users_json = tmp_path / "users.json"
    users_json.write_text(json.dumps([[1001, READ], [1002, "forgotten"], [1003, "shortkey"],
                                      ["1004", WRITE]]), encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\nbackend = "dynamodb"\n[storage.dynamodb]\n'
                      f'endpoint_url = "{dynalite.endpoint}"\n'
                      f'measurements_table = "{store.measurements_table}"\n'
                      f'meta_table = "{store.meta_table}"\n', encoding="utf-8")
    return {"store": store, "config": config, "users_json": users_json}
