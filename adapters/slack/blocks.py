"""Block Kit for the question, the comment question, the answered question and the detractor alert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.types import DetractorAlert

SCORE_ACTION = "nps_score_{n}"
COMMENT_ACTION = "nps_comment"
COMMENT_VIEW = "nps_comment_modal"
CLAIM_ACTION, RESOLVE_ACTION = "nps_claim", "nps_resolve"


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id}
    b["value"] = value
    if style:
        b["style"] = style
    return b


def question(survey_id: int, text: str, labels: Sequence[str]) -> list[dict[str, Any]]:
    """0–10 buttons in two rows (0–5, 6–10), one per label of core.channel.score_labels."""
    rows = [range(0, 6), range(6, 11)]
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    for i, row in enumerate(rows):
        buttons = [_button(labels[n], SCORE_ACTION.format(n=n), f"{survey_id}:{n}") for n in row]
        blocks.append({"type": "actions", "block_id": f"nps_scale_{i}", "elements": buttons})
    return blocks


def answered(text: str) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": f":white_check_mark: {text}"}}]


def comment_question(survey_id: int, text: str, add_comment: str) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "elements": [_button(add_comment, COMMENT_ACTION, str(survey_id))]},
    ]


def comment_modal(survey_id: int, meta: str, title: str, label: str, submit: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": COMMENT_VIEW,
        "private_metadata": meta,
        "title": {"type": "plain_text", "text": title[:24]},
        "submit": {"type": "plain_text", "text": submit[:24]},
        "blocks": [
            {
                "type": "input",
                "block_id": "comment",
                "label": {"type": "plain_text", "text": label[:2000]},
                "element": {"type": "plain_text_input", "action_id": "text", "multiline": True, "max_length": 3000},
            }
        ],
    }


def alert(a: DetractorAlert) -> list[dict[str, Any]]:
    fields = [
        f"*Score*\n{a.score}/10",
        f"*Customer*\n{a.customer}",
        f"*Agent*\n{a.agent or '—'}",
        f"*Profile*\n{a.profile} · {a.channel}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": a.text}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if a.link:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{a.link}|conversation>"}]})
    sid = str(a.survey_id)
    blocks.append(
        {
            "type": "actions",
            "elements": [
                _button(a.claim_label, CLAIM_ACTION, sid, "primary"),
                _button(a.resolve_label, RESOLVE_ACTION, sid),
            ],
        }
    )
    return blocks
