"""The 0–10 question on WhatsApp, and the ids its answers come back with.

A list message holds at most 10 rows and reply buttons 3, so the 11 scores cannot all sit in one message. The
question is one list of 10 rows: 0, "1 – 2", 3, 4 … 10. Nine scores are one pick; the row "1 – 2" brings a second
message with two reply buttons, 1 and 2. Scores 1 and 2 are the ones customers give least (the unhappy answer 0,
the lukewarm 5 or 6), so almost everybody answers with a single pick, and nobody needs more than two. The question
text invites typing a number as well, which core reads in every language it ships.

Row and button ids come back from the client, so they are parsed strictly and what they name is checked by the
caller: `nps:<survey id>:<score>` answers, `nps:<survey id>:more` asks for the second step and (on a template's
quick reply) `nps:<survey id>:ask` asks for the question itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from core.followup import MAX_SURVEY_ID

GROUPED = (1, 2)  # the scores behind the one row that opens a second step
PREFIX = "nps"
MORE, ASK = "more", "ask"
ROW_TITLE = 24  # Meta's limits for a list message
ROW_DESCRIPTION = 72
BODY = 1024  # a reply-button message's body; a list allows more, the question never needs it
BUTTON_LABEL = 20
_ID = re.compile(rf"{PREFIX}:([1-9][0-9]{{0,18}}):(10|[0-9]|{MORE}|{ASK})")


@dataclass(frozen=True, slots=True)
class Reply:
    """What a tapped row or button says: a score, or a request for the second step or for the question."""

    survey_id: int
    score: int | None = None
    wants: Literal["more", "ask"] | None = None


def reply_id(survey_id: int, what: int | str) -> str:
    return f"{PREFIX}:{survey_id}:{what}"


def parse_reply(value: Any) -> Reply | None:
    """A row or button id we sent, read back; None for anything else (another app's list, a forged or cut id)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    m = _ID.fullmatch(value)
    if m is None:
        return None
    survey_id, what = int(m.group(1)), m.group(2)
    if survey_id > MAX_SURVEY_ID:
        return None
    if what in (MORE, ASK):
        return Reply(survey_id, wants=what)  # type: ignore[arg-type]
    return Reply(survey_id, score=int(what))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def rows(survey_id: int, low_label: str, high_label: str) -> list[dict[str, str]]:
    """The question's 10 rows: 0 and 10 carry the scale's labels as their description."""
    out: list[dict[str, str]] = []
    for n in range(11):
        if n == GROUPED[1]:
            continue
        if n == GROUPED[0]:
            out.append({"id": reply_id(survey_id, MORE), "title": f"{GROUPED[0]} – {GROUPED[1]}"})
            continue
        row = {"id": reply_id(survey_id, n), "title": str(n)}
        if n in (0, 10):
            row["description"] = _cut(low_label if n == 0 else high_label, ROW_DESCRIPTION)
        out.append(row)
    return out


def score_list(to: str, survey_id: int, text: str, low: str, high: str, choose: str) -> dict[str, Any]:
    """The question as an interactive list message (the Messages API body)."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": _cut(text, BODY)},
            "action": {
                "button": _cut(choose, BUTTON_LABEL),
                "sections": [{"title": "0 – 10", "rows": rows(survey_id, low, high)}],
            },
        },
    }


def step_buttons(to: str, survey_id: int, text: str) -> dict[str, Any]:
    """The second step: one reply button per grouped score."""
    buttons = [{"type": "reply", "reply": {"id": reply_id(survey_id, n), "title": str(n)}} for n in GROUPED]
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "interactive",
        "interactive": {"type": "button", "body": {"text": _cut(text, BODY)}, "action": {"buttons": buttons}},
    }
