"""The `sensorbot` command: init, users, tokens (docs/configuration.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.tokens import hash_token
from sensorbot.cli import main
from storage.sqlite import SQLiteStore


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[storage]\nsqlite_path = "cli.db"\n', encoding="utf-8")
    return path


def run(config: Path, *args: str) -> int:
    return main([*args, "--config", str(config)])


def open_db(config: Path) -> SQLiteStore:
    return SQLiteStore(config.parent / "cli.db")


def test_it_initialises_storage_idempotently(config, capsys):
    assert run(config, "init") == 0
    assert run(config, "init") == 0

    assert (config.parent / "cli.db").is_file()
    assert "storage ready" in capsys.readouterr().err


def test_it_adds_users_and_prints_their_ids(config, capsys):
    assert run(config, "users", "add", "Summer Cottage") == 0
    assert run(config, "users", "add", "Summer Cottage") == 0
    assert run(config, "users", "add", "Ranch", "--id", "23") == 0
    assert capsys.readouterr().out.split() == ["summer-cottage", "summer-cottage-2", "23"]

    assert run(config, "users", "list") == 0
    assert capsys.readouterr().out.splitlines() == [
        "23\tRanch", "summer-cottage\tSummer Cottage", "summer-cottage-2\tSummer Cottage"]


def test_it_refuses_a_duplicate_user_id(config, capsys):
    run(config, "users", "add", "Ranch", "--id", "23")

    assert run(config, "users", "add", "Other", "--id", "23") == 1

    assert "already exists" in capsys.readouterr().err
    assert [u.name for u in open_db(config).list_users()] == ["Ranch"]


def test_it_refuses_a_user_id_with_a_hash(config, capsys):
    assert run(config, "users", "add", "Ranch", "--id", "a#b") == 2  # a bad argument
    assert "no '#'" in capsys.readouterr().err


def test_it_issues_a_token_printed_alone_and_stored_only_as_a_hash(config, capsys):
    run(config, "users", "add", "Ranch", "--id", "23")
    capsys.readouterr()

    assert run(config, "tokens", "issue", "23", "--scope", "write", "--label", "gateway") == 0
    out = capsys.readouterr().out

    secret = out.strip()
    assert out == secret + "\n"
    assert len(secret) >= 32  # 256 random bits, url-safe base64
    token = open_db(config).token_by_hash(hash_token(secret))
    assert (token.user_id, token.scope, token.label) == ("23", "write", "gateway")
    assert secret not in (config.parent / "cli.db").read_bytes().decode("latin-1")


def test_it_refuses_a_token_for_an_unknown_user(config, capsys):
    assert run(config, "tokens", "issue", "ghost", "--scope", "read") == 1

    assert "no user with id 'ghost'" in capsys.readouterr().err
    assert open_db(config).list_tokens() == []


def test_it_lists_tokens_with_the_id_first_and_never_the_secret(config, capsys):
    run(config, "users", "add", "Ranch", "--id", "23")
    run(config, "users", "add", "Home", "--id", "home")
    capsys.readouterr()
    run(config, "tokens", "issue", "23", "--scope", "read", "--label", "phone")
    run(config, "tokens", "issue", "home", "--scope", "write")
    secrets = capsys.readouterr().out.split()

    assert run(config, "tokens", "list", "23") == 0
    out = capsys.readouterr().out
    ids = [t.token_id for t in open_db(config).list_tokens("23")]

    lines = out.splitlines()
    assert lines[0].split()[0] == "ID"
    assert [line.split()[0] for line in lines[1:]] == ids
    assert "phone" in out and "never" in out and "active" in out
    assert all(secret not in out for secret in secrets)


def test_it_revokes_a_token(config, capsys):
    run(config, "users", "add", "Ranch", "--id", "23")
    capsys.readouterr()
    run(config, "tokens", "issue", "23", "--scope", "read")
    secret = capsys.readouterr().out.strip()
    token_id = open_db(config).token_by_hash(hash_token(secret)).token_id

    assert run(config, "tokens", "revoke", token_id) == 0
    assert run(config, "tokens", "revoke", "t_nothere") == 1

    assert open_db(config).token_by_hash(hash_token(secret)).revoked is True
    assert "no token with id 't_nothere'" in capsys.readouterr().err


def test_it_imports_ranchdata_tokens_so_existing_sensors_keep_working(config, capsys):
    assert run(config, "tokens", "import",
               "R:readsecret1:23#W:writesecret1:23#w:other:7#R:ok:my ranch#") == 0
    assert run(config, "tokens", "import", "R:readsecret1:23") == 0  # again: nothing new

    db = open_db(config)
    assert db.token_by_hash(hash_token("readsecret1")).scope == "read"
    assert db.token_by_hash(hash_token("writesecret1")).scope == "write"
    assert db.token_by_hash(hash_token("other")) is None  # ranchdata ignored lower-case w:
    assert db.token_by_hash(hash_token("ok")).user_id == "my ranch"
    assert [u.user_id for u in db.list_users()] == ["23", "my ranch"]
    assert len(db.list_tokens()) == 3
    err = capsys.readouterr().err
    assert "imported 0 token(s)" in err
    assert "warning: entry 3 (w:****:7) starts with 'w'" in err


def test_it_warns_naming_each_weak_token_it_imports(config, capsys):
    assert run(config, "tokens", "import", "R:ab:23#W:a-long-enough-token-1234:23") == 0

    err = capsys.readouterr().err
    assert "warning: entry 1 (R:****:23) is a weak token (2 characters, under 16)" in err
    assert "entry 2" not in err


def test_it_imports_from_the_environment(config, monkeypatch):
    monkeypatch.setenv("RANCH_API_TOKENS", "R:envsecret:42")

    assert run(config, "tokens", "import") == 0

    assert open_db(config).token_by_hash(hash_token("envsecret")).user_id == "42"


@pytest.mark.parametrize("bad", ["X:bad:23#W:nouser", "Rok23", "R::23", "r:lower:23#"])
def test_it_imports_nothing_from_a_string_ranchdata_let_no_one_in_with(config, capsys, bad):
    assert run(config, "tokens", "import", bad) == 1

    err = capsys.readouterr().err
    assert "Expected e.g. R:readtoken:23#W:writetoken:23" in err
    assert not {"bad", "nouser", "lower"} & set(err.replace(":", " ").split())  # masked
    db = open_db(config)
    assert db.list_tokens() == []
    assert db.list_users() == []


def sensorbot(*args: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run([sys.executable, "-m", "sensorbot", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_a_bad_config_exits_2_with_a_sentence_and_no_traceback(tmp_path):
    (tmp_path / "config.toml").write_text('[storage]\nbackend = "mongo"\n', encoding="utf-8")

    result = sensorbot("users", "list", cwd=tmp_path)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "storage.backend" in result.stderr and "'sqlite' or 'dynamodb'" in result.stderr


def test_an_unreadable_config_exits_2(tmp_path):
    result = sensorbot("init", "--config", str(tmp_path / "missing.toml"), cwd=tmp_path)

    assert result.returncode == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_it_sets_up_dynamodb_on_a_server_without_ttl_support(tmp_path, dynalite, capsys):
    config = tmp_path / "dyn.toml"
    config.write_text(
        '[storage]\nbackend = "dynamodb"\n[storage.dynamodb]\n'
        f'endpoint_url = "{dynalite.endpoint}"\nmeasurements_table = "cli-measurements"\n'
        'meta_table = "cli-meta"\n', encoding="utf-8")

    def sensorbot_says(*args: str) -> tuple[int, str, str]:
        """In process: the commands' own work is the point here, not their start-up."""
        status = main([*args, "--config", str(config)])
        said = capsys.readouterr()
        return status, said.out, said.err

    first = sensorbot_says("init", "--create-tables")
    again = sensorbot_says("init")
    added = sensorbot_says("users", "add", "Ranch")
    issued = sensorbot_says("tokens", "issue", "ranch", "--scope", "read")

    assert (first[0], again[0]) == (0, 0), again
    assert "could not enable TTL" in first[2]
    assert "table 'cli-meta' in eu-north-1: created" in first[2]
    assert "table 'cli-meta' in eu-north-1: there, adopted as it is" in again[2]
    assert added[:2] == (0, "ranch\n")
    assert issued[0] == 0 and len(issued[1].strip()) >= 32


@pytest.mark.parametrize("where", ["before", "between", "after"])
def test_it_uses_the_config_named_before_or_after_the_command(config, tmp_path, monkeypatch,
                                                              where):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    args = {"before": ["--config", str(config), "users", "add", "Ranch"],
            "between": ["users", "--config", str(config), "add", "Ranch"],
            "after": ["users", "add", "Ranch", "--config", str(config)]}[where]

    assert main(args) == 0

    assert [u.name for u in open_db(config).list_users()] == ["Ranch"]
    assert list(elsewhere.iterdir()) == []  # no stray ./sensorbot.db


def test_a_missing_config_named_before_the_command_exits_2_with_one_sentence(tmp_path,
                                                                             monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    assert main(["--config", str(tmp_path / "prod.toml"), "users", "list"]) == 2

    err = capsys.readouterr().err
    assert "prod.toml does not exist" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_demo_help_describes_the_demo(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])

    assert "no Telegram account needed" in capsys.readouterr().out.split("options:")[0]


@pytest.mark.parametrize("blank", ["", "   "])
def test_it_refuses_a_user_with_a_blank_name(config, capsys, blank):
    with pytest.raises(SystemExit) as exited:
        run(config, "users", "add", blank)

    assert exited.value.code == 2
    assert "a user needs a name" in capsys.readouterr().err
    assert not (config.parent / "cli.db").exists() or open_db(config).list_users() == []


@pytest.mark.parametrize("command", [("users", "list"), ("tokens", "list"),
                                     ("tokens", "list", "summer-cottage"),
                                     ("migrate", "--dry-run", "--tokens", "R:abc:23")])
def test_a_command_that_only_reads_creates_no_database_where_there_is_none(
        tmp_path, monkeypatch, capsys, command):
    monkeypatch.chdir(tmp_path)  # the wrong folder: no config.toml, no sensorbot.db

    assert main(list(command)) == 1

    err = capsys.readouterr().err
    assert f"no database at {tmp_path / 'sensorbot.db'}; run `sensorbot init`" in err
    assert list(tmp_path.iterdir()) == []


def test_a_command_that_only_reads_works_once_the_database_is_there(config, capsys):
    assert run(config, "init") == 0

    assert run(config, "users", "list") == 0
    assert run(config, "migrate", "--dry-run", "--tokens", "R:abcdefghijklmnopq:23") == 0
    assert open_db(config).list_users() == []  # the dry run wrote nothing


@pytest.fixture
def dynamodb_without_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DynamoDB configuration on a machine with no AWS credentials anywhere (and none asked
    of the instance metadata service: no request leaves the machine)."""
    import storage.dynamodb.client

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(storage.dynamodb.client, "_clients", {})
    path = tmp_path / "config.toml"
    path.write_text('[storage]\nbackend = "dynamodb"\n[storage.dynamodb]\nregion = "eu-north-1"\n',
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("command", [["init"], ["users", "list"]])
def test_without_aws_credentials_it_says_how_to_set_them_up(dynamodb_without_credentials,
                                                            capsys, command):
    assert run(dynamodb_without_credentials, *command) == 1

    err = capsys.readouterr().err
    assert err.startswith("error: no AWS credentials") and err.count("\n") == 1
    assert "aws configure" in err and "endpoint_url" in err


@pytest.mark.parametrize(("variable", "value", "named"), [
    ("AWS_PROFILE", "nowhere", "nowhere"),  # a profile the configuration does not have
    ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY"),  # half a key pair
])
def test_an_unusable_aws_configuration_is_one_line_naming_what_is_wrong(
        dynamodb_without_credentials, capsys, monkeypatch, variable, value, named):
    monkeypatch.setenv(variable, value)

    assert run(dynamodb_without_credentials, "users", "list") == 1

    err = capsys.readouterr().err
    assert err.startswith("error: the AWS configuration cannot be used") and named in err
    assert err.count("\n") == 1


def test_a_command_outside_the_configurations_folder_says_it_made_a_new_database(
        tmp_path, monkeypatch, capsys):
    """The README's set-up run from another folder: without a config.toml there, the
    built-in ./sensorbot.db is made anew, and the "no user" that follows must not puzzle."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    assert main(["tokens", "issue", "summer-cottage", "--scope", "read"]) == 1

    err = capsys.readouterr().err
    assert err.startswith(f"note: there was no database at {elsewhere / 'sensorbot.db'}")
    assert "no config.toml in this folder" in err and "--config" in err
    assert "error: no user with id 'summer-cottage'" in err


def test_a_database_made_where_the_configuration_says_gets_a_note_naming_it(config, capsys):
    assert run(config, "users", "add", "Summer cottage") == 0
    assert f"note: there was no database at {config.parent / 'cli.db'}" in capsys.readouterr().err

    assert run(config, "users", "add", "Town flat") == 0
    assert "note:" not in capsys.readouterr().err  # once made, nothing to say
    assert run(config, "init") == 0
    assert "note:" not in capsys.readouterr().err


def test_the_region_in_aws_region_is_the_one_used(dynamodb_without_credentials, monkeypatch,
                                                  capsys):
    """AWS_REGION, as the docs and the AWS CLI name it (botocore itself reads only
    AWS_DEFAULT_REGION): with it set, the next thing missing is the credentials."""
    from storage.dynamodb.client import build_client

    dynamodb_without_credentials.write_text('[storage]\nbackend = "dynamodb"\n',
                                            encoding="utf-8")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-3")

    assert build_client("").meta.region_name == "eu-west-3"
    assert run(dynamodb_without_credentials, "users", "list") == 1
    assert capsys.readouterr().err.startswith("error: no AWS credentials")
