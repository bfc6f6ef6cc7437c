"""Imports go one way (bots → adapters → core); core never sees a platform or web library."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_CORE = ("aiogram", "slack_bolt", "slack_sdk", "aiohttp", "bots", "adapters")
SHARED_ADAPTER_MODULES = ("http",)  # helpers every adapter uses (outbound HTTP rules), not a platform


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
