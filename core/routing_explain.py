"""`npsbot rules test` and `GET /api/v1/rules/test`: which of a profile's rules match a stored response and why.

The response is read as the rules would read it now: a completed one with its comment, themes and keywords; one
still waiting for its comment as when it was scored. The rules are the caller's (the running configuration, or
a file being tried out), so a change can be tested on real responses before it goes live."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from core.profiles import ProfileSettings
from core.routing import Facts, evaluate, explain
from core.store import Store
from core.store import surveys as q
from core.store import themes as stored_themes
from core.survey import State


class NotAnswered(ValueError):
    """Rules act on answered responses only."""


async def explain_response(
    store: Store, survey_id: int, profiles: Mapping[str, ProfileSettings], visible: Any = None
) -> dict[str, Any] | None:
    """The rules' verdict on one response, or None when there is no such response (or `visible(profile)` says
    the caller may not see it, or its profile is not configured)."""
    async with store.read() as conn:
        survey = await q.get_survey(conn, survey_id)
        if survey is None:
            return None
        themes = (await stored_themes.of(conn, [survey_id])).get(survey_id, ())
    profile = survey.address.profile
    if (visible is not None and not visible(profile)) or profile not in profiles:
        return None
    if survey.score is None:
        raise NotAnswered(f"response {survey_id} has no score ({survey.state}): rules act on answered responses")
    settings = profiles[profile]
    facts = Facts.of(replace(survey, themes=themes), complete=survey.state is State.COMPLETED)
    decision = evaluate(settings.rules, facts, settings.alert_targets)
    return {
        "response": {
            "id": survey.id,
            "profile": profile,
            "channel": survey.address.channel,
            "state": str(survey.state),
            "score": survey.score,
            "themes": list(themes),
            "stored_priority": survey.priority,
            "stored_tags": list(survey.tags),
            "stored_matched_rules": list(survey.matched_rules),
        },
        **explain(decision, facts),
    }
