"""The packages import downward only (docs/architecture.md), lazy imports included."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sensorbot", "bot", "ingest", "alerts", "core", "storage")
# What each package may import besides itself.
ALLOWED = {
    "storage": set(),
    "core": {"storage"},
    "alerts": {"core", "storage"},
    "bot": {"alerts", "core", "storage"},
    "ingest": {"core", "storage"},
    "sensorbot": {"bot", "ingest", "alerts", "core", "storage"},
}


def imported_packages(path: Path) -> set[str]:
    """Every project package a module imports, at any depth of the module (lazy ones too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names} & set(PACKAGES)
    return found


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in PACKAGES}
    for name in PACKAGES:
        for path in (ROOT / name).rglob("*.py"):
            graph[name] |= imported_packages(path) - {name}
    return graph


def test_it_imports_only_downward() -> None:
    graph = package_graph()
    wrong = {name: sorted(targets - ALLOWED[name]) for name, targets in graph.items()
             if targets - ALLOWED[name]}
    assert wrong == {}


def test_it_finds_a_lazy_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from bot.app import x\n    import storage.base\n")
    assert imported_packages(module) == {"bot", "storage"}


def test_conftest_files_do_not_import_each_other() -> None:
    """Shared helpers live in tests/support/; a conftest holds fixtures only."""
    conftests = sorted((ROOT / "tests").rglob("conftest.py"))
    reaching = {str(path.relative_to(ROOT)): name
                for path in conftests
                for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                if isinstance(node, ast.ImportFrom) and (name := node.module or "")
                and name.endswith("conftest")}
    assert len(conftests) >= 5
    assert reaching == {}


def test_the_unit_limit_is_defined_once() -> None:
    """/unit and the HTTP API keep the same unit length because both import one constant."""
    defining = []
    for name in PACKAGES:
        for path in (ROOT / name).rglob("*.py"):
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                targets = node.targets if isinstance(node, ast.Assign) else []
                if any(isinstance(t, ast.Name) and t.id == "MAX_UNIT" for t in targets):
                    defining.append(str(path.relative_to(ROOT)))
    assert defining == ["storage/models.py"]
