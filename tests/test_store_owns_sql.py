"""Stores own their SQL: outside core/store no module imports the tables or SQLAlchemy's statement builders, or
touches an engine; a channel reaches the database only through core's APIs (the survey service, the inbound
journal), never a query module. core/reports is the read-only query layer over the same tables, and stays one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QUERY_LAYERS = ("core/store", "core/reports", "core/migrations")
# Not statements: parsing a database URL, and the exception types a caller tells apart.
SQLALCHEMY_ALLOWED = ("sqlalchemy.engine", "sqlalchemy.exc")


def outside_the_store() -> list[Path]:
    files = [p for package in ("core", "adapters", "bots") for p in sorted((ROOT / package).rglob("*.py"))]
    return [p for p in files if not str(p.relative_to(ROOT)).startswith(QUERY_LAYERS)]


def imports(tree: ast.AST) -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def problems(source: str, relative: str) -> list[str]:
    tree = ast.parse(source)
    adapter = relative.startswith("adapters/")
    out: list[str] = []
    for module, names in imports(tree):
        top = module.split(".")
        if top[0] == "sqlalchemy" and module not in SQLALCHEMY_ALLOWED:
            out.append(f"imports {module}")
        if module == "core.store.tables" or (module == "core.store" and "tables" in names):
            out.append("imports the tables")
        # An adapter may name the store's types (capitalised); a query module or function is not for it.
        queries = [n for n in names if not n[:1].isupper()] if module.startswith("core.store.") else names
        if adapter and module.startswith("core.store") and (not names or [n for n in queries if n != "Store"]):
            out.append(f"an adapter imports {module} {queries}: use the survey service or the inbound journal")
    out += [
        f"line {n.lineno}: touches an engine"
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and n.attr == "engine"
    ]
    return out


@pytest.mark.parametrize("path", outside_the_store(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_sql_outside_the_store(path: Path) -> None:
    assert problems(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))) == []


def test_the_check_sees_what_it_must() -> None:
    names = {str(p.relative_to(ROOT)) for p in outside_the_store()}
    assert {"core/followup.py", "bots/demo.py", "bots/report_cli.py", "adapters/slack/listeners.py"} <= names
    assert not any(n.startswith(QUERY_LAYERS) for n in names)
    source = "from sqlalchemy import select\nfrom core.store.tables import SurveyRow\nstore.engine.connect()\n"
    assert problems(source, "bots/example.py") == [
        "imports sqlalchemy",
        "imports the tables",
        "line 3: touches an engine",
    ]
    assert problems("from core.store.surveys import get_survey\n", "adapters/x/y.py") == [
        "an adapter imports core.store.surveys ['get_survey']: use the survey service or the inbound journal"
    ]
    assert problems("from core.store import journal, Store\n", "adapters/x/y.py") == [
        "an adapter imports core.store ['journal', 'Store']: use the survey service or the inbound journal"
    ]
    assert problems("from core.store import Store\nfrom core.store.outbox import OutboxItem\n", "adapters/x/y.py") == []
