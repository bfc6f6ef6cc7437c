"""Imports go one way (bots → adapters → core); core never sees a platform or web library; no two modules of a
layer import each other, even behind TYPE_CHECKING or inside a function."""

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_CORE = ("aiogram", "slack_bolt", "slack_sdk", "aiohttp", "bots", "adapters")
SHARED_ADAPTER_MODULES = ("http", "spec", "metagraph")  # outbound HTTP rules, the channel seam, Meta's Graph


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", python_files("core"), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_has_no_platform_imports(path: Path) -> None:
    bad = {m for m in imported_modules(path) if m.split(".")[0] in FORBIDDEN_IN_CORE}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", python_files("adapters"), ids=lambda p: str(p.relative_to(ROOT)))
def test_adapters_do_not_import_bots_or_each_other(path: Path) -> None:
    own = path.relative_to(ROOT / "adapters").parts[0].removesuffix(".py")
    for module in imported_modules(path):
        parts = module.split(".")
        assert parts[0] != "bots", f"{path.name} imports {module}"
        if parts[0] == "adapters" and len(parts) > 1 and parts[1] not in SHARED_ADAPTER_MODULES:
            assert parts[1] == own, f"{path.name} imports another adapter: {module}"


def test_the_check_sees_every_core_module() -> None:
    files = {p.name for p in python_files("core")}
    assert {"survey.py", "scoring.py", "replies.py", "service.py"} <= files


def test_importing_all_of_core_loads_no_platform_library() -> None:
    """The static check misses imports made indirectly; importing every core module in a clean interpreter
    must leave the platform and web libraries unloaded."""
    code = (
        "import importlib, pkgutil, sys, core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'core.'):\n"
        "    if not m.name.startswith('core.migrations'):\n"  # Alembic's env.py runs only inside Alembic
        "        importlib.import_module(m.name)\n"
        f"print(sorted(k for k in sys.modules if k.split('.')[0] in {FORBIDDEN_IN_CORE!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: str, root: Path = ROOT) -> dict[str, set[str]]:
    """Each module of `package` → the modules of `package` it imports anywhere in its body (at the top, inside a
    function or under TYPE_CHECKING): a loop that only works because one side imports late is still a loop."""
    paths = {module_name(p, root): p for p in sorted((root / package).rglob("*.py")) if "migrations" not in p.parts}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
                found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base for a in node.names)
        graph[name] = {m for m in found if m in paths and m != name}
    return graph


def import_loop(graph: dict[str, set[str]]) -> list[str] | None:
    """One loop as [a, b, …, a], or None."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(reversed(exc.args[1]))
    return None


@pytest.mark.parametrize("package", ["bots", "adapters", "core"])
def test_no_import_loop_among_a_layers_modules(package: str) -> None:
    loop = import_loop(import_graph(package))
    assert loop is None, "import loop: " + " → ".join(loop or [])


def test_the_loop_check_sees_imports_made_late(tmp_path: Path) -> None:
    """A loop closed only under TYPE_CHECKING, or by an import inside a function, is found (as demo ↔ demo_report
    and channels ↔ runtime were)."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import thing\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import other\n")
    (pkg / "c.py").write_text("def late():\n    from . import d\n")
    (pkg / "d.py").write_text("from pkg import c\n")
    graph = import_graph("pkg", tmp_path)
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.a"}
    assert graph["pkg.c"] == {"pkg.d"} and graph["pkg.d"] == {"pkg.c"}
    assert import_loop(graph) is not None
    assert import_loop({"pkg.a": {"pkg.b"}, "pkg.b": set()}) is None
