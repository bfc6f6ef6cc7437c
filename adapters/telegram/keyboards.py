"""Inline keyboards and their callback data; packed data stays well under Telegram's 64-byte limit.

Callback data comes back from the client, so every field is bounded: data out of bounds fails aiogram's filter and
the tap only gets a toast, before anything reaches the database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from pydantic import Field

from core.followup import MAX_SURVEY_ID

SurveyId = Annotated[int, Field(ge=1, le=MAX_SURVEY_ID)]  # a signed 64-bit column


class Vote(CallbackData, prefix="v"):
    """A score tap: survey id and score ("v:123456789:10")."""

    s: SurveyId
    n: Annotated[int, Field(ge=0, le=10)]


class FollowUpAction(CallbackData, prefix="f"):
    """A support-team action on a detractor alert: c(laim) or r(esolve)."""

    s: SurveyId
    a: Literal["c", "r"]


def score_keyboard(survey_id: int, labels: Sequence[str]) -> InlineKeyboardMarkup:
    """0–10 in two rows (0–5, 6–10), one button per label of core.channel.score_labels."""

    def button(n: int) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=labels[n], callback_data=Vote(s=survey_id, n=n).pack())

    return InlineKeyboardMarkup(inline_keyboard=[[button(n) for n in range(6)], [button(n) for n in range(6, 11)]])


def answered_keyboard(survey_id: int, score: int, text: str) -> InlineKeyboardMarkup:
    """What replaces the scale after a tap: one button showing the choice (a tap on it only gets a toast)."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=f"✅ {text}", callback_data=Vote(s=survey_id, n=score).pack())]]
    )


def alert_keyboard(survey_id: int, claim: str, resolve: str, link: str | None) -> InlineKeyboardMarkup:
    row = [
        InlineKeyboardButton(text=claim, callback_data=FollowUpAction(s=survey_id, a="c").pack()),
        InlineKeyboardButton(text=resolve, callback_data=FollowUpAction(s=survey_id, a="r").pack()),
    ]
    rows = [row]
    if link:
        rows.append([InlineKeyboardButton(text="↗", url=link)])
    return InlineKeyboardMarkup(inline_keyboard=rows)
