"""Words mean one thing. "Follow-up" is the detractor claim / resolve loop; the question after the score is the
comment question. "Dispatch" is aiogram's Dispatcher and nothing of ours. `Outcome` is what the survey service
answers, defined once."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from adapters.slack import blocks
from core.messages import KEYS, RENAMED_KEYS

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "adapters", "bots")


def sources() -> Iterator[tuple[str, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield str(path.relative_to(ROOT)), ast.parse(path.read_text(encoding="utf-8"))


def defined_names(tree: ast.Module) -> Iterator[str]:
    """Classes, functions, methods, module-level names and attributes set on self: the names we choose."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    yield target.id
                elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                    yield target.attr


def test_outcome_is_defined_once() -> None:
    where = [path for path, tree in sources() for name in defined_names(tree) if name == "Outcome"]
    assert where == ["core/service.py"]


def test_dispatch_names_nothing_of_ours() -> None:
    """The event routing in the service, the Slack channel's trip through bolt and the outbox's send records each
    have their own name; aiogram's Dispatcher (and bolt's async_dispatch) are theirs."""
    ours = [
        f"{path}: {name}"
        for path, tree in sources()
        for name in defined_names(tree)
        if "dispatch" in name.lower() and name != "dispatcher"  # the Telegram channel holds aiogram's Dispatcher
    ]
    files = [str(p.relative_to(ROOT)) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*dispatch*")]
    assert ours == [] and files == []


def test_the_comment_question_is_not_called_a_follow_up() -> None:
    assert [k for k in KEYS if "follow" in k] == []
    assert {"comment_question_promoter", "comment_question_passive", "comment_question_detractor"} <= set(KEYS)
    assert hasattr(blocks, "comment_question") and not hasattr(blocks, "follow_up")
    # The old text keys are spelled out only where they are still read, as deprecated aliases.
    old = [
        path
        for path, tree in sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in RENAMED_KEYS
    ]
    assert old == ["core/messages.py"] * len(RENAMED_KEYS)
