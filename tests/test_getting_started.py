"""A newcomer's path: the README's set-up commands, the example config and the demo agree."""

from __future__ import annotations

import re
import subprocess

from core.config import load_settings
from ingest.mqtt.subscriber import check_subscriptions
from sensorbot.demo import DEMO_USER
from sensorbot.stores import open_store
from tests.support.docs import ROOT, code_blocks, make_project, page


def setup_block() -> str:
    [block] = [block for name, block in code_blocks("sh")
               if name == "README.md" and "sensorbot init" in block]
    return block


def test_the_readmes_setup_makes_the_user_the_example_configs_mqtt_subscription_names(tmp_path):
    project = make_project(tmp_path, with_user=False)
    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    enabled = re.sub(r"(\[mqtt\][^\[]*?)enabled = false", r"\1enabled = true", example, count=1)
    assert enabled != example
    (project / "config.toml").write_text(enabled, encoding="utf-8")

    done = subprocess.run(["bash", "-euc", setup_block()], cwd=project, capture_output=True,
                          text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    settings = load_settings(str(project / "config.toml"), environ={})
    assert settings.mqtt.enabled and settings.mqtt.subscriptions
    store = open_store(settings.storage)
    try:
        check_subscriptions(settings.mqtt, store)  # raises ConfigError for a missing user
    finally:
        store.close()


def test_the_readmes_invite_names_the_user_its_setup_makes_and_the_demo_has():
    made = re.search(r'users add "Summer cottage" +# → (\S+)', setup_block())
    assert made is not None
    readme = page("README.md")
    assert f"/invite {made[1]}" in readme
    assert made[1] == DEMO_USER
