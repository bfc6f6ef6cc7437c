"""What one survey counts for in the report rollups (core/store/rollup_tables.py), and what changes when it changes.

The rules mirror the direct aggregates exactly:
- report_days, keyed by the UTC day of asked_at and the report dimensions, for a survey that was asked: `asked`;
  `s0`..`s10` for a response by its score (summary's categories, analytics' distribution and trend); `commented`
  for a response with a comment and `c_promoter`, `c_passive`, `c_detractor` by its category (the comments a
  theme's share divides by); the delivery report's four sums (a question sent:
  a status, a platform ref or a response; reached: delivered or read, or a response; failed; reported: delivered,
  read or failed); and a completed detractor's follow-up state (open, claimed, resolved).
- report_skips, keyed by the UTC day of created_at, the dimensions and the reason ('unknown' when none): one per
  skipped survey.
- report_theme_days, keyed by the UTC day of the theme row's asked_at, its dimensions (profile, channel, agent, team
  and locale as copied on the theme row; workspace, kind, campaign and variant from the survey) and the theme: one
  per theme a response mentions, by the response's score.

A survey not asked yet (pending, or skipped before asking) counts for nothing in report_days, and one that is not
skipped for nothing in report_skips: a campaign's pending surveys contribute nothing until they are asked.

Pure: rows are mappings with the surveys table's column names (`facts` makes one from a Survey).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from core.question_status import REACHED, QuestionStatus
from core.survey import State, Survey

DIMENSIONS = ("profile", "channel", "agent", "team", "locale", "workspace", "kind", "campaign", "variant")
SCORES = tuple(f"s{n}" for n in range(11))
CATEGORIES = ("promoter", "passive", "detractor")
COMMENTED = tuple(f"c_{c}" for c in CATEGORIES)  # responses with a comment, by category
DAY_COUNTERS = ("asked", *SCORES, "commented", *COMMENTED, "q_sent", "q_reached", "q_failed", "q_reported",
                "fu_open", "fu_claimed", "fu_resolved")  # fmt: skip
# Columns of a survey row that are not on core.survey.Survey: what the platform said about the question, and the
# follow-up. Writes of a Survey never change them.
EXTRAS = ("question_status", "question_ref", "claimed_at", "resolved_at")
UNKNOWN_REASON = "unknown"
FAILED = str(QuestionStatus.FAILED)
REACHED_STATUSES = frozenset(str(s) for s in REACHED)
REPORTED_STATUSES = REACHED_STATUSES | {FAILED}

Key = tuple[Any, ...]  # (day, *dimensions[, reason | theme])
Counts = dict[str, int]
Delta = dict[str, dict[Key, Counts]]  # table name -> key -> counter changes (only non-zero ones)


def utc_day(at: datetime) -> date:
    return at.astimezone(UTC).date() if at.tzinfo else at.date()


def facts(survey: Survey, extras: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A survey as the row columns the rollups read; `extras` (EXTRAS) default to None, as on a new row."""
    a = survey.address
    row = {
        "profile": a.profile, "channel": a.channel, "agent": survey.agent, "team": survey.team,
        "locale": survey.locale, "workspace": a.workspace, "kind": str(survey.kind), "campaign": survey.campaign,
        "variant": survey.variant, "state": str(survey.state),
        "skip_reason": None if survey.skip_reason is None else str(survey.skip_reason), "score": survey.score,
        "category": survey.category, "comment": survey.comment, "created_at": survey.created_at,
        "asked_at": survey.asked_at,
    }  # fmt: skip
    return row | {name: None for name in EXTRAS} | dict(extras or {})


def dimensions(row: Mapping[str, Any]) -> tuple[str, ...]:
    """The key's dimension values, '' for NULL."""
    return tuple("" if row.get(d) is None else str(row[d]) for d in DIMENSIONS)


def day_counts(row: Mapping[str, Any]) -> Counts:
    """report_days' counters for one asked survey (all zero for one never asked)."""
    if row.get("asked_at") is None:
        return dict.fromkeys(DAY_COUNTERS, 0)
    score, status = row.get("score"), row.get("question_status")
    answered = score is not None
    detractor = row.get("category") == "detractor" and row.get("state") == str(State.COMPLETED)
    resolved, claimed = row.get("resolved_at") is not None, row.get("claimed_at") is not None
    commented = row.get("comment") is not None and row.get("category") is not None
    counts = {
        "asked": 1,
        **{f"s{n}": int(score == n) for n in range(11)},
        "commented": int(commented),
        **{f"c_{c}": int(commented and row.get("category") == c) for c in CATEGORIES},
        "q_sent": int(status is not None or row.get("question_ref") is not None or answered),
        "q_reached": int(status in REACHED_STATUSES or answered),
        "q_failed": int(status == FAILED),
        "q_reported": int(status in REPORTED_STATUSES),
        "fu_open": int(detractor and not resolved and not claimed),
        "fu_claimed": int(detractor and not resolved and claimed),
        "fu_resolved": int(detractor and resolved),
    }
    return counts


def day_key(row: Mapping[str, Any]) -> Key | None:
    asked = row.get("asked_at")
    return None if asked is None else (utc_day(asked), *dimensions(row))


def skip_key(row: Mapping[str, Any]) -> Key | None:
    if row.get("state") != str(State.SKIPPED):
        return None
    return (utc_day(row["created_at"]), *dimensions(row), row.get("skip_reason") or UNKNOWN_REASON)


def theme_keys(row: Mapping[str, Any], themes: Iterable[str]) -> list[tuple[Key, str]]:
    """(key, score counter) per theme of a response whose theme rows copy this row's dimensions."""
    asked, score = row.get("asked_at"), row.get("score")
    if asked is None or score is None:
        return []
    return [((utc_day(asked), *dimensions(row), theme), f"s{score}") for theme in sorted(set(themes))]


def contribution(row: Mapping[str, Any], themes: Iterable[str] = ()) -> Delta:
    """What one survey row (with the themes stored for it) adds to each rollup table."""
    out: Delta = {"report_days": {}, "report_skips": {}, "report_theme_days": {}}
    key = day_key(row)
    if key is not None:
        out["report_days"][key] = {k: v for k, v in day_counts(row).items() if v}
    skipped = skip_key(row)
    if skipped is not None:
        out["report_skips"][skipped] = {"surveys": 1}
    for theme_key, counter in theme_keys(row, themes):
        out["report_theme_days"][theme_key] = {counter: 1}
    return out


def combine(*parts: tuple[int, Delta]) -> Delta:
    """Σ sign · delta, keeping only the counters and keys that end up non-zero."""
    out: Delta = {}
    for sign, delta in parts:
        for table, rows in delta.items():
            target = out.setdefault(table, {})
            for key, counts in rows.items():
                into = target.setdefault(key, {})
                for name, n in counts.items():
                    into[name] = into.get(name, 0) + sign * n
    return {
        table: {k: {c: n for c, n in cs.items() if n} for k, cs in rows.items() if any(cs.values())}
        for table, rows in out.items()
    }


def delta(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    old_themes: Iterable[str] = (),
    new_themes: Iterable[str] = (),
) -> Delta:
    """What changes in the rollups when `old` becomes `new` (None: the row does not exist on that side)."""
    parts: list[tuple[int, Delta]] = []
    if old is not None:
        parts.append((-1, contribution(old, old_themes)))
    if new is not None:
        parts.append((1, contribution(new, new_themes)))
    return combine(*parts)


def day_inputs(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """Everything report_days reads of a row but EXTRAS: when two versions agree on it (and EXTRAS did not change),
    their report_days contributions are equal."""
    return (day_key(row), row.get("score"), row.get("category"), row.get("comment") is None, row.get("state"))
