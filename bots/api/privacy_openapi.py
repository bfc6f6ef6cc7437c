"""The personal-data endpoints in the OpenAPI document: erase or export one person, read the audit log. The
document's own helpers (`op` builds an operation with the shared error answers, `content` a JSON body) are passed
in, so this module needs nothing from the one that assembles the document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bots.api.privacy_models import CHANNEL_WIDTH, MAX_CURSOR, MAX_LIMIT, USER_WIDTH
from core import audit

REF = "#/components/schemas/{model}"
NO_NUL = "^[^\\u0000]*$"
DATE = {"type": "string", "format": "date-time", "pattern": "^(19[0-9]{2}|2[0-9]{3})-"}
OBJECT = {"type": "object"}
OBJECTS = {"type": "array", "items": OBJECT}
TEXT = {"type": "string"}
TEXTS = {"type": "array", "items": TEXT}


def schemas() -> dict[str, Any]:
    return {
        "Erasure": {
            "type": "object",
            "required": ["status", "profiles", "rows"],
            "properties": {
                "status": {"type": "string", "enum": ["erased", "already_erased"]},
                "profiles": TEXTS,
                "rows": {"type": "object", "additionalProperties": {"type": "integer"}},
            },
        },
        "PersonExport": {
            "type": "object",
            "required": ["channel", "user_id", "profiles", "exported_at", "suppressed_in", "contacts", "surveys"],
            "properties": {
                "channel": TEXT,
                "user_id": TEXT,
                "profiles": TEXTS,
                "exported_at": {"type": "string", "format": "date-time"},
                "suppressed_in": TEXTS,
                "contacts": OBJECTS,
                "surveys": OBJECTS,
                "messages": OBJECTS,
                "inbound_requests": OBJECTS,
                "audit": OBJECTS,
            },
        },
        "AuditEntry": {
            "type": "object",
            "required": ["id", "at", "actor", "action", "details"],
            "properties": {
                "id": {"type": "integer"},
                "at": {"type": "string", "format": "date-time"},
                "actor": TEXT,
                "action": {"type": "string", "enum": list(audit.ACTIONS)},
                "profile": {"type": "string", "nullable": True},
                "target": {"type": "string", "nullable": True},
                "details": OBJECT,
            },
        },
    }


def _person_parameters() -> list[dict[str, Any]]:
    def path(name: str, width: int, what: str) -> dict[str, Any]:
        schema = {"type": "string", "minLength": 1, "maxLength": width, "pattern": NO_NUL}
        return {"name": name, "in": "path", "required": True, "description": what, "schema": schema}

    profile = {
        "name": "profile",
        "in": "query",
        "required": False,
        "description": "Only this profile. Without it: every profile the token reaches (an admin's: all of them).",
        "schema": {"type": "string", "maxLength": 64, "pattern": NO_NUL},
    }
    return [
        path("channel", CHANNEL_WIDTH, "The channel the person is reached on (telegram, slack, webhook, …)"),
        path("id", USER_WIDTH, "Their user id on that channel"),
        profile,
    ]


def _export_parameters() -> list[dict[str, Any]]:
    unredacted = {
        "name": "unredacted",
        "in": "query",
        "required": False,
        "description": "Admin tokens only (403 otherwise): texts as stored, not as the profile's redaction shows them",
        "schema": {"type": "boolean", "default": False},
    }
    return [*_person_parameters(), unredacted]


def _audit_parameters() -> list[dict[str, Any]]:
    def query(name: str, schema: dict[str, Any], what: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": what, "schema": schema}

    return [
        query("action", {"type": "string", "enum": list(audit.ACTIONS)}, "Only this kind of entry"),
        query("profile", {"type": "string", "maxLength": 64, "pattern": NO_NUL}, "Only entries about this profile"),
        query("since", DATE, "At or after this instant (a bare date: that day's start, UTC)"),
        query("until", DATE, "Before this instant (a bare date includes that whole day)"),
        query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 100}, "Entries per page"),
        query("cursor", {"type": "integer", "minimum": 1, "maximum": MAX_CURSOR}, "The previous page's next_cursor"),
    ]


def paths(op: Callable[..., dict[str, Any]], content: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    export = op(
        "Everything stored about one person, as JSON: contact records, surveys with comments and metadata, the "
        "messages sent to them, raw requests not yet processed, and the audit entries about them (without who "
        "made them). Texts as the profile shows them (redaction) unless an admin asks for `unredacted`. Recorded in "
        "the audit log. 404 when nothing is stored about them within the token's reach.",
        {"description": "The person's data", "content": content("PersonExport")},
        parameters=_export_parameters(),
    )
    page = {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": REF.format(model="AuditEntry")}},
            "next_cursor": {"type": "integer", "nullable": True},
        },
    }
    return {
        "/api/v1/contacts/{channel}/{id}": {
            "delete": op(
                "Erase one person: their surveys keep scores and times under an anonymous marker, their names, ids "
                "and words are removed everywhere, queued messages to them are dropped, and they are never surveyed "
                "again (a keyed hash on the suppression list). Idempotent: asking again answers `already_erased`. "
                "404 (and nothing changes) when nothing is stored about them within the token's reach; a profile "
                "token naming another profile gets 403. Recorded in the audit log without the address.",
                {"description": "What was erased", "content": content("Erasure")},
                parameters=_person_parameters(),
            ),
            "get": export,
        },
        "/api/v1/contacts/{channel}/{id}/export": {"get": export | {"operationId": "exportPerson"}},
        "/api/v1/audit": {
            "get": op(
                "The audit log, newest first (admin tokens only): claims, resolutions, erasures, exports, token "
                "use on state-changing calls, configuration loads. Never message text.",
                {"description": "A page of entries", "content": content(schema=page)},
                parameters=_audit_parameters(),
            )
        },
    }
