"""The contact endpoints in the OpenAPI document: PUT of one contact on the person's path (whose DELETE and GET are
the personal-data ones) and the bulk upsert. The document's helpers are passed in, as for privacy_openapi.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bots.api.contacts_routes import MAX_BULK
from core.contacts import ATTRIBUTE_KEY, CONSENTS, MAX_ATTRIBUTES, MAX_INT, MAX_KEY, MAX_VALUE, WIDTHS, ZONE_NAMES
from core.messages import LOCALES

REF = "#/components/schemas/{model}"
NO_NUL = "^[^\\u0000]*$"
PERSON = "/api/v1/contacts/{channel}/{id}"


def _text(width: int, what: str) -> dict[str, Any]:
    return {"type": "string", "maxLength": width, "pattern": NO_NUL, "nullable": True, "description": what}


def _fields() -> dict[str, Any]:
    number = {"type": "number", "minimum": -MAX_INT, "maximum": MAX_INT}
    value = {
        "anyOf": [{"type": "string", "maxLength": MAX_VALUE, "pattern": NO_NUL}, number, {"type": "boolean"}],
        "nullable": True,
    }
    return {
        "locale": {
            "type": "string",
            "maxLength": WIDTHS["locale"],
            "pattern": f"^({'|'.join(LOCALES)})([-_][A-Za-z0-9]{{1,8}})*$",
            "nullable": True,
            "description": "A language the profile has texts in (a region is read as its language: pt-BR is pt)",
        },
        "timezone": {
            "type": "string",
            "enum": [*ZONE_NAMES, None],
            "nullable": True,
            "description": "IANA time zone: quiet hours and campaign times are read in it. A zone a closed "
            "conversation hints at is taken only while the contact has none.",
        },
        "name": _text(WIDTHS["name"], "The customer's name"),
        "external_id": _text(WIDTHS["external_id"], "Your id of the person (a CRM's), the same across channels"),
        "conversation_id": _text(
            WIDTHS["conversation_id"], "Where a campaign reaches them on the channel (null: their user id)"
        ),
        "workspace": _text(WIDTHS["workspace"], "The Slack workspace (team or org id) they belong to"),
        "consent": {
            "type": "string",
            "enum": [*CONSENTS, None],
            "nullable": True,
            "description": "Null: not recorded. consent_at is set when it changes, kept when it is repeated.",
        },
        "attributes": {
            "type": "object",
            "maxProperties": MAX_ATTRIBUTES,
            "propertyNames": {"pattern": ATTRIBUTE_KEY.pattern, "maxLength": MAX_KEY},
            "additionalProperties": value,
            "description": "Merged into the stored ones: each key given is set, one set to null is removed, the "
            "others are kept. Flat: text, numbers, true/false.",
        },
    }


def schemas() -> dict[str, Any]:
    address = {
        "channel": {"type": "string", "minLength": 1, "maxLength": WIDTHS["channel"], "pattern": NO_NUL},
        "id": {"type": "string", "minLength": 1, "maxLength": WIDTHS["user_id"], "pattern": NO_NUL},
    }
    stamp = {"type": "string", "format": "date-time", "nullable": True}
    text = {"type": "string", "nullable": True}
    return {
        "ContactFields": {
            "type": "object",
            "additionalProperties": False,
            "description": "Only the fields given change; null (or an empty string) clears one.",
            "properties": _fields(),
        },
        "ContactItem": {
            "type": "object",
            "additionalProperties": False,
            "required": ["channel", "id"],
            "properties": {**address, **_fields()},
        },
        "Contact": {
            "type": "object",
            "required": ["profile", "channel", "user_id", "attributes"],
            "properties": {
                "profile": {"type": "string"},
                "channel": {"type": "string"},
                "user_id": {"type": "string"},
                **{f: text for f in ("locale", "name", "timezone", "consent", "external_id", "conversation_id")},
                "workspace": text,
                "attributes": {"type": "object"},
                **{f: stamp for f in ("consent_at", "opted_out_at", "unreachable_at", "last_surveyed_at")},
                "created_at": stamp,
                "updated_at": stamp,
            },
        },
        "ContactBulkResult": {
            "type": "object",
            "required": ["saved", "rejected", "suppressed"],
            "properties": {
                "saved": {"type": "integer"},
                "rejected": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["index", "error"],
                        "properties": {"index": {"type": "integer"}, "error": {"type": "string"}},
                    },
                },
                "suppressed": {"type": "array", "items": {"type": "integer"}},
            },
        },
    }


def _profile() -> dict[str, Any]:
    return {
        "name": "profile",
        "in": "query",
        "required": True,
        "description": "The profile the contact belongs to (404 unknown, 403 not the token's)",
        "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": NO_NUL},
    }


def paths(
    op: Callable[..., dict[str, Any]], content: Callable[..., dict[str, Any]], person: dict[str, Any]
) -> dict[str, Any]:
    """`person`: the personal-data paths, to which the PUT is added on the person's path."""
    erased = {"description": "The person was erased on request and is not stored again", "content": content("Error")}

    def path(name: str, width: int, what: str) -> dict[str, Any]:
        schema = {"type": "string", "minLength": 1, "maxLength": width, "pattern": NO_NUL}
        return {"name": name, "in": "path", "required": True, "description": what, "schema": schema}

    put = op(
        "Create or change one contact: the fields given are set, the others kept; attributes are merged. 404 for "
        "a channel the profile does not have; 422 names the first invalid field; 409 for someone erased on request.",
        {"description": "The stored contact", "content": content("Contact")},
        parameters=[
            path("channel", WIDTHS["channel"], "A channel of the profile (telegram, slack, webhook, …)"),
            path("id", WIDTHS["user_id"], "The contact's user id on that channel"),
            _profile(),
        ],
        requestBody={"required": True, "content": content("ContactFields")},
    )
    put["responses"]["409"] = erased
    bulk = op(
        f"Create or change up to {MAX_BULK} contacts in one transaction. The valid ones are saved; each invalid "
        "one is listed with its position and reason, each erased person's position under `suppressed`.",
        {"description": "What was saved and what was not", "content": content("ContactBulkResult")},
        parameters=[_profile()],
        requestBody={
            "required": True,
            "content": content(
                schema={
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["contacts"],
                    "properties": {
                        "contacts": {
                            "type": "array",
                            "maxItems": MAX_BULK,
                            "items": {"$ref": REF.format(model="ContactItem")},
                        }
                    },
                }
            ),
        },
    )
    return {**person, PERSON: {**person.get(PERSON, {}), "put": put}, "/api/v1/contacts/bulk": {"post": bulk}}
