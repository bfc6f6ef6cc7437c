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
- report_followups, keyed by the UTC day of asked_at, the dimensions and who claimed ('' for nobody), for a completed
  detractor: `detractors`, `with_sla` (it has a followup_slas row), `claimed`, `resolved`, the breaches already
  decided (`claim_late`: claimed after its claim deadline; `resolve_late` likewise), the deadlines escalated
  (`claim_escalated`, `resolve_escalated`), and how long the claim and the resolution took (the stored
  `claim_seconds` / `resolve_seconds`) as counts in fixed log-scale buckets `cb0`..`cbN`, `rb0`..`rbN`
  (FOLLOWUP_BOUNDS), from which a report finds which bucket holds a percentile's rank before reading that bucket's
  rows only.
- report_followup_months: report_followups' counts per calendar month (the key's day is the month's first day), so
  a period's whole months are read from a thirtieth of the rows.

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
# Seconds from the alert (completion) to the claim / resolution: bucket i holds [BOUNDS[i-1], BOUNDS[i]), the first
# everything below BOUNDS[0], the last everything from BOUNDS[-1] (whole seconds, so SQL and Python agree exactly).
FOLLOWUP_BOUNDS = tuple(round(60 * 2 ** (k / 3)) for k in range(45))  # 1 minute to 18 days, ratio 2^(1/3)
CLAIM_BUCKETS = tuple(f"cb{i}" for i in range(len(FOLLOWUP_BOUNDS) + 1))
RESOLVE_BUCKETS = tuple(f"rb{i}" for i in range(len(FOLLOWUP_BOUNDS) + 1))
FOLLOWUP_COUNTS = ("detractors", "with_sla", "claimed", "resolved", "claim_late", "resolve_late", "claim_escalated",
                   "resolve_escalated")  # fmt: skip
FOLLOWUP_COUNTERS = (*FOLLOWUP_COUNTS, *CLAIM_BUCKETS, *RESOLVE_BUCKETS)
# What report_followups reads of a row besides the dimensions, score and state: the follow-up on the survey and its
# SLA row (`has_sla` and the deadlines; all None without one).
FOLLOWUP_EXTRAS = ("claimed_by", "claimed_at", "resolved_at", "claim_seconds", "resolve_seconds", "has_sla",
                   "claim_due_at", "resolve_due_at", "claim_escalated_at", "resolve_escalated_at")  # fmt: skip
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


def bucket(seconds: float) -> int:
    """The histogram bucket of a duration (FOLLOWUP_BOUNDS)."""
    for i, bound in enumerate(FOLLOWUP_BOUNDS):
        if seconds < bound:
            return i
    return len(FOLLOWUP_BOUNDS)


def completed_detractor(row: Mapping[str, Any]) -> bool:
    return row.get("category") == "detractor" and row.get("state") == str(State.COMPLETED)


def followup_key(row: Mapping[str, Any]) -> Key | None:
    """report_followups' key: a completed detractor's day of asking, dimensions and claimer ('' for none)."""
    key = day_key(row)
    if key is None or not completed_detractor(row):
        return None
    return (*key, "" if row.get("claimed_by") is None else str(row["claimed_by"]))


def _late(done: Any, due: Any) -> int:
    return int(done is not None and due is not None and done > due)


def followup_counts(row: Mapping[str, Any]) -> Counts:
    """report_followups' non-zero counters for one completed detractor."""
    counts = {
        "detractors": 1,
        "with_sla": int(bool(row.get("has_sla"))),
        "claimed": int(row.get("claimed_at") is not None),
        "resolved": int(row.get("resolved_at") is not None),
        "claim_late": _late(row.get("claimed_at"), row.get("claim_due_at")),
        "resolve_late": _late(row.get("resolved_at"), row.get("resolve_due_at")),
        "claim_escalated": int(row.get("claim_escalated_at") is not None),
        "resolve_escalated": int(row.get("resolve_escalated_at") is not None),
    }
    for prefix, column in (("cb", "claim_seconds"), ("rb", "resolve_seconds")):
        if row.get(column) is not None:
            counts[f"{prefix}{bucket(float(row[column]))}"] = 1
    return {k: v for k, v in counts.items() if v}


def contribution(row: Mapping[str, Any], themes: Iterable[str] = ()) -> Delta:
    """What one survey row (with the themes stored for it) adds to each rollup table."""
    out: Delta = {"report_days": {}, "report_skips": {}, "report_theme_days": {}, "report_followups": {},
                  "report_followup_months": {}}  # fmt: skip
    key = day_key(row)
    if key is not None:
        out["report_days"][key] = {k: v for k, v in day_counts(row).items() if v}
    skipped = skip_key(row)
    if skipped is not None:
        out["report_skips"][skipped] = {"surveys": 1}
    for theme_key, counter in theme_keys(row, themes):
        out["report_theme_days"][theme_key] = {counter: 1}
    followed = followup_key(row)
    if followed is not None:
        counts = followup_counts(row)
        out["report_followups"][followed] = counts
        out["report_followup_months"][month_key(followed)] = dict(counts)
    return out


def month_key(key: Key) -> Key:
    """report_followup_months' key of a report_followups key: its day becomes the first day of its month."""
    return (key[0].replace(day=1), *key[1:])


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


def followup_inputs(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """What report_followups reads of a row besides FOLLOWUP_EXTRAS (which a Survey write never changes)."""
    return (day_key(row), completed_detractor(row))


def day_inputs(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """Everything report_days reads of a row but EXTRAS: when two versions agree on it (and EXTRAS did not change),
    their report_days contributions are equal."""
    return (day_key(row), row.get("score"), row.get("category"), row.get("comment") is None, row.get("state"))
