"""Listing and exporting survey responses, keyset-paginated so deep pages cost the same as the first."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from core.outbound import survey_snapshot
from core.redaction import Redactions
from core.reports.summary import Filters
from core.store import Store
from core.store.surveys import to_survey
from core.store.tables import SurveyRow

S = SurveyRow.__table__
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
CSV_COLUMNS = (
    "id", "profile", "channel", "conversation_id", "user_id", "customer_name", "agent", "team", "locale", "state",
    "score", "category", "comment", "asked_at", "scored_at", "completed_at", "kind", "campaign", "variant",
)  # fmt: skip
PROGRAMME = ("kind", "campaign", "variant")  # why the survey exists and what it tried (issue 15's programme)


@dataclass(frozen=True, slots=True)
class ResponseQuery:
    filters: Filters = field(default_factory=Filters)
    profiles: tuple[str, ...] | None = None  # restrict to these (a profile token's view)
    state: str | None = None
    category: str | None = None
    answered_only: bool = False
    limit: int = 50
    before_id: int | None = None


def _where(q: ResponseQuery) -> list[Any]:
    cond = list(q.filters.where())
    if q.profiles is not None:
        cond.append(S.c.profile.in_(q.profiles))
    if q.state is not None:
        cond.append(S.c.state == q.state)
    if q.category is not None:
        cond.append(S.c.category == q.category)
    if q.answered_only:
        cond.append(S.c.score.is_not(None))
    if q.before_id is not None:
        cond.append(S.c.id < q.before_id)
    return cond


async def list_responses(store: Store, query: ResponseQuery) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first; returns the page and the cursor for the next one (None at the end)."""
    stmt = select(S).where(*_where(query)).order_by(S.c.id.desc()).limit(query.limit + 1)
    async with store.read() as conn:
        rows = (await conn.execute(stmt)).all()
    page = rows[: query.limit]
    items = [survey_snapshot(to_survey(r)) | {"unparsed": list(r.unparsed or [])} | _programme(r) for r in page]
    return items, (page[-1].id if len(rows) > query.limit else None)


async def get_response(store: Store, survey_id: int) -> dict[str, Any] | None:
    async with store.read() as conn:
        row = (await conn.execute(select(S).where(S.c.id == survey_id))).first()
    if row is None:
        return None
    detail = {
        "unparsed": list(row.unparsed or []),
        "claimed_by": row.claimed_by,
        "resolved_by": row.resolved_by,
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
    }
    return survey_snapshot(to_survey(row)) | _programme(row) | detail


def _programme(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in PROGRAMME}


async def export_csv(store: Store, query: ResponseQuery, shown: Redactions | None = None, batch: int = 1000) -> str:
    """All matching responses as CSV, fetched in keyset batches; `shown` redacts comments as each profile shows them."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    cursor: int | None = query.before_id
    while True:
        where = _where(_with(query, cursor))
        stmt = select(*(S.c[c] for c in CSV_COLUMNS)).where(*where).order_by(S.c.id.desc()).limit(batch)
        async with store.read() as conn:
            rows = (await conn.execute(stmt)).all()
        for r in rows:
            values = r._mapping if shown is None else shown.item(dict(r._mapping))
            writer.writerow([csv_cell(values[c]) for c in CSV_COLUMNS])
        if len(rows) < batch:
            break
        cursor = rows[-1].id
    return out.getvalue()


def csv_cell(value: Any) -> Any:
    """A value as a spreadsheet may safely open it: text that a spreadsheet would run as a formula (starting with
    = + - @, tab or CR) gets a leading single quote (OWASP's CSV injection advice); numbers stay numbers, and so
    does text that is only a number ("-5", a Telegram group's "-100123")."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _with(query: ResponseQuery, before_id: int | None) -> ResponseQuery:
    return ResponseQuery(
        query.filters, query.profiles, query.state, query.category, query.answered_only, query.limit, before_id
    )
