"""The repository stands on its own: no file points outside it, and the docs' links resolve."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support.docs import ROOT, code_blocks, pages

# What a file would say if it leaned on something a clone does not have. Spelt in two parts
# so that this file does not match itself.
OUTSIDE = ["../" + "shared", "CONTRACT" + ".md", "CONTRACT" + " §", "/work" + "/"]
# Pages other engineers are writing; a link to them is allowed before they land.
BEING_WRITTEN = {"docs/heating.md", "docs/history.md"}
LINK = re.compile(r"\]\(([^)\s]+)\)")


def repository_files() -> list[Path]:
    """The files a clone has: tracked ones, and new ones git does not ignore."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT, capture_output=True, check=True).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def anchors(text: str) -> set[str]:
    """GitHub's anchors for a page's headings."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", text, flags=re.DOTALL),
                              re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_no_file_points_outside_the_repository():
    found = []
    for path in repository_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a binary file
        for number, line in enumerate(text.splitlines(), 1):
            found += [f"{path.relative_to(ROOT)}:{number}: {word}"
                      for word in OUTSIDE if word in line]
    assert not found


def test_every_link_in_the_docs_leads_to_a_page_and_heading_of_this_repository():
    texts = pages()
    broken = []
    for name, text in texts.items():
        folder = (ROOT / name).parent
        for target in LINK.findall(re.sub(r"```.*?```", "", text, flags=re.DOTALL)):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            file, _, anchor = target.partition("#")
            resolved = (folder / file).resolve() if file else ROOT / name
            if not resolved.is_relative_to(ROOT):
                broken.append(f"{name}: {target} is outside the repository")
                continue
            inside = resolved.relative_to(ROOT).as_posix()
            if inside in BEING_WRITTEN and not resolved.exists():
                continue
            if not resolved.exists():
                broken.append(f"{name}: {target} does not exist")
            elif anchor and anchor not in anchors(resolved.read_text(encoding="utf-8")):
                broken.append(f"{name}: {target} has no such heading")
    assert not broken


def test_it_would_notice_a_link_outside_and_a_missing_heading(tmp_path):
    assert "mqtt" in anchors("# Devices\n\n## MQTT\n")
    assert "a-sensor-in-micropython" in anchors("## A sensor in MicroPython\n")
    assert not (ROOT / "docs" / ("../../" + "shared")).resolve().is_relative_to(ROOT)


def test_every_shell_block_runs_sensorbot_from_the_projects_virtualenv():
    """Pasted in the project folder, as the README installs it: a bare `sensorbot` is found only
    in a shell that activated the virtualenv."""
    bare = [f"{name}: {line.strip()}" for name, block in code_blocks("sh")
            for line in block.splitlines()
            if re.match(r"\s*(?:[A-Z_]+=\S+\s+)*sensorbot\s", line)]
    assert not bare
