"""The approved template that asks outside the 24-hour customer-service window: which one (per the survey's
language, else the profile's) and the Messages API body that sends it, its quick replies carrying the survey."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from adapters.whatsapp.config import Template
from adapters.whatsapp.scale import reply_id
from core.messages import language

PARAMETER = 1024  # characters of one body variable
_SPACES = re.compile(r"\s+")  # Meta refuses a variable holding a newline, a tab or more than four spaces


def choose(templates: Mapping[str, Template], locale: str | None, default_locale: str) -> Template | None:
    """The template configured for the survey's locale ("pt-BR", then "pt"), else the profile's default one."""
    for wanted in (locale, default_locale):
        if not wanted:
            continue
        exact = templates.get(wanted)
        if exact is not None:
            return exact
        same = [t for key, t in sorted(templates.items()) if language(key) == language(wanted)]
        if same:
            return same[0]
    return None


def template_message(to: str, template: Template, survey_id: int, values: Mapping[str, str]) -> dict[str, Any]:
    """`values` holds what the body's variables may name (`brand`, `question`)."""
    components: list[dict[str, Any]] = []
    if template.body:
        parameters = [{"type": "text", "text": _SPACES.sub(" ", values[v]).strip()[:PARAMETER]} for v in template.body]
        components.append({"type": "body", "parameters": parameters})
    for index, meaning in enumerate(template.buttons):
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": reply_id(survey_id, meaning)}],
            }
        )
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": {"name": template.name, "language": {"code": template.language}, "components": components},
    }
