"""Never a crash, on SQLite and on PostgreSQL (the stricter store: column widths, no NUL): every value of every
documented Messenger and Instagram webhook event replaced by odd ones — wrong types, empty, huge, NUL, negative,
nested — is skipped or handled, and the entry's work never raises, so the journal never retries a body that cannot
get better."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from core.store.tables import InboundJournalRow
from tests.messaging_app import BACKENDS, doc, serve

ODD: list[Any] = [None, "", 0, -1, 2**64, True, "\x00", "x" * 5000, [], {"id": {}}, "9"]
DOCS = {
    "messenger": ["text", "quick_reply", "attachment", "sticker", "delivery", "read", "echo", "postback", "reaction"],
    "instagram": ["text", "quick_reply", "attachment", "story_mention", "seen", "echo", "reaction", "unsupported"],
}


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from leaves(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from leaves(inner, (*path, index))
    else:
        yield path


def replaced(event: dict[str, Any], path: tuple[Any, ...], odd: Any) -> dict[str, Any]:
    out = copy.deepcopy(event)
    target = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = odd
    return out


@pytest.mark.parametrize("kind", ["messenger", "instagram"])
@pytest.mark.parametrize("backend", BACKENDS)
async def test_odd_values_in_every_documented_event_never_raise(
    kind: str, backend: str, request: pytest.FixtureRequest, tmp_path, clock
) -> None:
    async with serve(kind, backend, request, tmp_path, clock) as app:
        await app.write("hello")
        survey_id = await app.close()
        channel = app.channel()
        for name in DOCS[kind]:
            body = doc(f"{kind}_{name}.json", app.subs(**{"<DEVELOPER_DEFINED_PAYLOAD>": f"nps:{survey_id}:5"}))
            entry = body["entry"][0]
            for path in leaves(entry["messaging"][0]):
                for odd in ODD:
                    event = replaced(entry["messaging"][0], path, odd)
                    await channel.handle_entry({**entry, "messaging": [event]})
            for odd in ODD:  # the entry's own fields
                await channel.handle_entry({**entry, "id": odd})
                await channel.handle_entry({**entry, "messaging": odd})
        await app.drain()
        assert (await app.survey(survey_id)).state in ("asked", "scored", "completed")


async def test_a_whole_odd_body_is_answered_and_worked_once(request: pytest.FixtureRequest, tmp_path, clock) -> None:
    async with serve("messenger", "sqlite", request, tmp_path, clock) as app:
        body = app.message("hi")
        body["entry"].extend([{"id": "106112865011426", "messaging": [{"sender": {"id": "1"}}] * 3}, None, "x", []])
        assert await app.post(body) == 200
        async with app.store.read() as conn:
            left = (await conn.execute(select(func.count()).select_from(InboundJournalRow.__table__))).scalar()
        assert left == 0
