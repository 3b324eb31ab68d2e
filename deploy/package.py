"""Build the Lambda artifacts dist/{api,alerts,bot}.zip (`make package`).

Each zip holds the project's code and Linux wheels for the runtime and architecture
deploy/template.yaml names (python3.12 on arm64), fetched with pip's --platform/--only-binary,
so it builds on any machine, at the versions installed in the environment that ran the tests.
Only the bot draws charts: the API and alert zips leave out matplotlib (and numpy, pillow...),
the API also PTB, and none carries boto3, which the Lambda runtime provides; deploy/prune.py
takes out what a running function never reads. A zip over its budget fails the build. Modules are
precompiled when a python3.12 is at hand, because /var/task is read-only and a cold start would
otherwise compile every imported module again. Entries are sorted and dated 1980-01-01, so an
unchanged build gives an identical zip and `sam deploy` uploads nothing.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from deploy.prune import prune

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "lambda"
DIST = ROOT / "dist"
PYTHON_VERSION = "3.12"
PLATFORM = "manylinux2014_aarch64"
PROVIDED_BY_RUNTIME = {"boto3"}
# The runtime's botocore is imported from /var/task's packages too: keep what it requires.
RUNTIME_PINS = ["python-dateutil>=2.8,<3"]
# Lambda's limits are 50 MiB zipped and 250 MiB unpacked; these budgets keep room below them
# (and cold starts quick: the bot's zip is the one that grows).
ZIPPED_BUDGET_MIB = 40
UNPACKED_BUDGET_MIB = 150
NOT_IN_LAMBDA = {"uvicorn"}  # `sensorbot run`/`api` and the emulator serve HTTP themselves

# function → (the project's packages, the distributions it does without)
FUNCTIONS: dict[str, tuple[list[str], set[str]]] = {
    "api": (["sensorbot", "core", "storage", "ingest"],
            {"matplotlib", "python-telegram-bot"}),
    "alerts": (["sensorbot", "core", "storage", "alerts", "bot"],
               {"matplotlib", "fastapi", "mangum", "python-multipart", "orjson"}),
    "bot": (["sensorbot", "core", "storage", "alerts", "bot"],
            {"fastapi", "mangum", "python-multipart", "orjson"}),
}


def requirements(without: set[str]) -> list[str]:
    """The project's dependencies (pyproject.toml's ranges), less those named."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    skipped = without | PROVIDED_BY_RUNTIME | NOT_IN_LAMBDA
    chosen = []
    for requirement in project["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        assert name is not None, requirement
        if name.group(0).lower() not in skipped:
            chosen.append(requirement)
    return chosen


def tested_versions() -> list[str]:
    """`name==version` of every distribution in this environment: the zips carry what
    `make test` ran against, not whatever is newest on the day of the build."""
    pins = {}
    for distribution in importlib.metadata.distributions():
        name = distribution.metadata["Name"]
        if name and name.lower() != "sensorbot":
            pins[name.lower()] = f"{name}=={distribution.version}"
    return sorted(pins.values())


def install(target: Path, wanted: list[str]) -> bool:
    """Install into `target`; True when at the tested versions, False when some of those have
    no wheel for the Lambda platform and pip chose within pyproject.toml's ranges instead."""
    constraints = BUILD / "constraints.txt"
    constraints.parent.mkdir(parents=True, exist_ok=True)
    constraints.write_text("\n".join(tested_versions()) + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--target", str(target), "--platform", PLATFORM, "--implementation", "cp",
               "--python-version", PYTHON_VERSION, "--only-binary=:all:",
               "--no-warn-conflicts", *wanted, *RUNTIME_PINS]
    pinned = subprocess.run([*command, "--constraint", str(constraints)], check=False,
                            capture_output=True)
    if pinned.returncode == 0:
        return True
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(command, check=True)
    return False


def copy_code(target: Path, packages: list[str]) -> None:
    for package in packages:
        shutil.copytree(ROOT / package, target / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def lambda_python() -> str | None:
    """An interpreter of the runtime's version: $LAMBDA_PYTHON, python3.12 on PATH, pyenv's."""
    candidates = [os.environ.get("LAMBDA_PYTHON"), shutil.which(f"python{PYTHON_VERSION}"),
                  *sorted(map(str, Path.home().glob(
                      f".pyenv/versions/{PYTHON_VERSION}.*/bin/python{PYTHON_VERSION}")))]
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                               check=False, capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == str((3, 12)):
            return candidate
    return None


def precompile(target: Path) -> bool:
    python = lambda_python()
    if python is None:
        return False
    result = subprocess.run([python, "-m", "compileall", "-q", "-j", "0",
                             "--invalidation-mode", "unchecked-hash", str(target)],
                            check=False, capture_output=True)
    return result.returncode == 0


def write_zip(source: Path, archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), (1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, path.read_bytes(), compresslevel=9)


def unpacked_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def build(name: str) -> tuple[int, int, bool, bool]:
    packages, without = FUNCTIONS[name]
    target = BUILD / name
    shutil.rmtree(target, ignore_errors=True)
    tested = install(target, requirements(without))
    copy_code(target, packages)
    prune(target)
    compiled = precompile(target)
    archive = DIST / f"{name}.zip"
    write_zip(target, archive)
    return archive.stat().st_size, unpacked_size(target), compiled, tested


def over_budget(name: str, zipped: int, unpacked: int) -> str | None:
    """A sentence when a function is larger than the budgets, else None."""
    if zipped <= ZIPPED_BUDGET_MIB * 2**20 and unpacked <= UNPACKED_BUDGET_MIB * 2**20:
        return None
    return (f"dist/{name}.zip is over its budget of {ZIPPED_BUDGET_MIB} MiB zipped and "
            f"{UNPACKED_BUDGET_MIB} MiB unpacked: see what deploy/prune.py could leave out")


def main(names: list[str]) -> int:
    failures = []
    for name in names or list(FUNCTIONS):
        zipped, unpacked, compiled, tested = build(name)
        note = "" if compiled else f"  (not precompiled: no python{PYTHON_VERSION} found)"
        if not tested:
            note += ("  (some tested versions have no Linux arm64 wheel: newest within "
                     "pyproject.toml's ranges instead)")
        print(f"dist/{name}.zip: {zipped / 2**20:.1f} MiB zipped, {unpacked / 2**20:.1f} MiB "
              f"unpacked (budget {ZIPPED_BUDGET_MIB} / {UNPACKED_BUDGET_MIB}){note}")
        failures += filter(None, [over_budget(name, zipped, unpacked)])
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
