"""The two commands of the quickstart: `make demo` needs no dev toolchain and no node."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def planned(target: str, venv: Path) -> str:
    """What `make TARGET` would run on a machine without the virtualenv (make -n runs nothing)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    return subprocess.run(["make", "-n", target, f"VENV={venv}", "DYNALITE=absent/dynalite"],
                          cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_make_demo_installs_the_demo_extra_only(tmp_path):
    commands = planned("demo", tmp_path / ".venv")

    assert "-e '.[demo]'" in commands
    assert ".[dev]" not in commands
    assert "npm" not in commands


def test_make_test_installs_the_dev_extra_and_dynalite(tmp_path):
    commands = planned("test", tmp_path / ".venv")

    assert "-e '.[dev]'" in commands
    assert "npm install" in commands


def test_the_demo_extra_is_amqtt_and_the_dev_extra_holds_it_too():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]

    assert [requirement.split(">")[0] for requirement in extras["demo"]] == ["amqtt"]
    assert set(extras["demo"]) <= set(extras["dev"])


def test_an_interpreter_that_does_not_run_is_named_as_such_not_as_too_old(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    missing = tmp_path / "python3.99"
    result = subprocess.run(["make", "demo", f"PYTHON={missing}", f"VENV={tmp_path / 'venv'}"],
                            cwd=ROOT, capture_output=True, text=True)

    assert result.returncode == 2
    assert f"make cannot run {missing}" in result.stderr
    assert "needs Python 3.11" not in result.stderr
    assert not (tmp_path / "venv").exists()


def test_the_advice_for_an_interpreter_that_does_not_run_names_the_goal_and_ones_that_do(
        tmp_path):
    """A pyenv shim for an inactive version does not run: "make PYTHON=python3.12" is no cure
    for `make demo PYTHON=python3.12`, and without `demo` it would run the whole suite."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    found = tmp_path / "bin"
    found.mkdir()
    (found / "python3.13").symlink_to(sys.executable)
    result = subprocess.run(["make", "demo", "PYTHON=python3.99", f"VENV={tmp_path / 'venv'}"],
                            cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PATH": f"{found}:{os.environ['PATH']}"})

    assert result.returncode == 2
    assert "make demo PYTHON=" in result.stderr
    assert str(found / "python3.13") in result.stderr


def test_with_no_newer_python_anywhere_the_advice_says_none_was_found(tmp_path):
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    empty = tmp_path / "bin"
    empty.mkdir()
    result = subprocess.run([make, "demo", "PYTHON=python3.99", f"VENV={tmp_path / 'venv'}"],
                            cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PATH": str(empty)})

    assert result.returncode == 2
    assert "(3.11 or newer here: none found, install one first)" in result.stderr


def test_make_test_type_checks_every_package_strictly(tmp_path):
    """mypy --strict over every package the project installs, each dependency typed (the
    DynamoDB client by boto3-stubs) but amqtt, which ships no types."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mypy = project["tool"]["mypy"]
    packages = [name.rstrip("*") for name in
                project["tool"]["setuptools"]["packages"]["find"]["include"]]
    untyped = [o["module"] for o in mypy["overrides"] if o.get("ignore_missing_imports")]

    assert "/mypy" in planned("test", tmp_path / ".venv")
    assert mypy["strict"] is True
    assert sorted(mypy["files"]) == sorted(packages)
    assert untyped == [["amqtt", "amqtt.*"]]
    assert any(requirement.startswith("boto3-stubs[dynamodb]")
               for requirement in project["project"]["optional-dependencies"]["dev"])
