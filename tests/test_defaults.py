"""Defaults are written once, where they take effect: a profile's `policy` keys default to core.survey.Policy's,
the `worker` keys to bots.worker.WorkerSettings', `report.min_responses` to core.reports' MIN_RESPONSES. The
config file's models derive theirs, so a value changed in one place cannot leave the other behind."""

from __future__ import annotations

import ast
import inspect
from dataclasses import fields
from pathlib import Path

import pytest

from bots.config import ReportConfig, WorkerConfig, parse_config
from bots.policy_config import PolicyConfig
from bots.runtime import Runtime
from bots.worker import WorkerSettings
from core.reports.summary import MIN_RESPONSES
from core.survey import Policy


def minimal(url: str, **extra: object) -> dict[str, object]:
    return {"database_url": url, "profiles": {"desk": {"brand": "Desk", "channels": {"memory": {}}}}, **extra}


def test_policy_keys_default_to_the_survey_policy() -> None:
    keys = set(PolicyConfig.model_fields)
    assert keys <= {f.name for f in fields(Policy)}
    config, policy = PolicyConfig(), Policy()
    assert {k: getattr(config, k) for k in keys} == {k: getattr(policy, k) for k in keys}
    # A profile with no `policy` key runs with exactly the survey policy's defaults.
    ran = parse_config(minimal("sqlite:///unused.db"), env={}).profile_settings()["desk"].policy
    assert {k: getattr(ran, k) for k in keys} == {k: getattr(policy, k) for k in keys}


async def test_worker_keys_default_to_the_worker_settings(tmp_path: Path) -> None:
    assert WorkerConfig().settings() == WorkerSettings()
    runtime = Runtime(parse_config(minimal(f"sqlite:///{tmp_path / 'a.db'}"), env={}))
    try:
        assert runtime.worker.settings == WorkerSettings()
    finally:
        await runtime.store.dispose()
    # What the file sets is what the worker runs with, in the worker's units.
    worker = {"batch": 7, "poll_interval": "1s", "send_timeout": "5s", "lease": "20s"}
    runtime = Runtime(parse_config(minimal(f"sqlite:///{tmp_path / 'b.db'}", worker=worker), env={}))
    try:
        s = runtime.worker.settings
        assert (s.batch, s.poll_interval, s.send_timeout, s.lease.total_seconds()) == (7, 1.0, 5.0, 20.0)
        assert (s.max_attempts, s.concurrency) == (WorkerSettings().max_attempts, WorkerSettings().concurrency)
    finally:
        await runtime.store.dispose()


def test_report_minimum_defaults_to_the_reports_one() -> None:
    assert ReportConfig().min_responses == MIN_RESPONSES


def literal_defaults(model: type, source: set[str]) -> list[str]:
    """The fields of `model` whose default is written as a number in its module (a Field's bounds excepted)."""
    tree = ast.parse(Path(inspect.getfile(model)).read_text(encoding="utf-8"))
    [cls] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == model.__name__]
    found = []
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None):
            continue
        if node.target.id not in source:
            continue
        value: ast.expr | None = node.value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "Field":
            value = value.args[0] if value.args else None
        nodes = ast.walk(value) if value is not None else ()
        if any(isinstance(n, ast.Constant) and type(n.value) in (int, float) for n in nodes):
            found.append(node.target.id)
    return found


@pytest.mark.parametrize(
    ("model", "source"),
    [
        (PolicyConfig, {f.name for f in fields(Policy)}),
        (WorkerConfig, {f.name for f in fields(WorkerSettings)}),
        (ReportConfig, {"min_responses"}),
    ],
    ids=["policy", "worker", "report"],
)
def test_the_config_file_writes_no_default_of_its_own(model: type, source: set[str]) -> None:
    assert set(model.model_fields) & source, "the check must see the shared keys"
    assert literal_defaults(model, source) == []
