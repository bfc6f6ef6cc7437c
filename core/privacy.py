"""Erasing and exporting one person — a (channel, user id) within the profiles a caller may reach.

Erasure removes or anonymises everything tied to the person in one transaction: their surveys' personal fields
become an opaque marker (scores, categories, times, agent, team, channel and profile stay, so every report figure
is unchanged), their contact records, the raw inbound requests and dedup keys holding their id, and queued messages
to them or about them are deleted, and messages already sent (or given up on) keep their history without the id,
name or words. A suppression entry (core.suppression) keeps them from being surveyed again, and the request is
recorded in the audit log under a keyed hash of the person, never the address. Asking again changes nothing more.

Export gathers everything stored about the person as plain JSON values."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core import audit
from core.profiles import ProfileSettings
from core.store import Store
from core.store import audit_log as audit_q
from core.store import privacy as q
from core.suppression import SUBJECT, SuppressionKeys, anonymous_marker, digest

UNSENT = ("pending", "sending")
CUSTOMER_KINDS = ("ask_score", "ask_comment", "say", "mark_answered")  # what goes to the customer themselves
# What an export shows of a survey: the person's own record, not internal keys or the staff who handled it.
SURVEY_FIELDS = (
    "id", "profile", "channel", "conversation_id", "user_id", "thread", "case_id", "agent", "team", "locale",
    "customer_name", "state", "skip_reason", "score", "category", "comment", "unparsed", "created_at", "asked_at",
    "scored_at", "completed_at", "claimed_at", "resolved_at",
)  # fmt: skip
CONTACT_FIELDS = (
    "profile",
    "channel",
    "user_id",
    "name",
    "locale",
    "opted_out_at",
    "unreachable_at",
    "last_surveyed_at",
    "timezone",
    "attributes",
    "consent",
    "consent_at",
    "external_id",
    "conversation_id",
    "workspace",
    "created_at",
    "updated_at",
)
MIN_NEEDLE = 3
MIN_METADATA = 6  # a metadata value shorter than this is a flag or a plan ("pro"), not something that names anyone
Redact = Callable[[str, str | None], str | None]  # (profile, text) -> the text as that profile shows it


def redactor(profiles: Mapping[str, ProfileSettings]) -> Redact:
    """Texts as each profile shows them (core.redaction: placeholders for cards, IBANs, emails, phone numbers where
    the profile redacts what it shows); a profile no longer configured shows what is stored."""

    def shown(profile: str, text: str | None) -> str | None:
        settings = profiles.get(profile)
        return text if settings is None else settings.redaction.shown(text)

    return shown


class UnknownPerson(LookupError):
    """Nothing is stored about this person in reach, and they were never erased there."""


@dataclass(frozen=True, slots=True)
class Scope:
    """Where to look: `profiles`, and with `everywhere` (an admin naming no profile) also any other profile that
    holds a survey of the person — a profile taken out of the configuration still has its data erased."""

    profiles: frozenset[str]
    everywhere: bool = False


@dataclass(frozen=True, slots=True)
class Erasure:
    profiles: tuple[str, ...]  # where something of the person was found (or they were listed already)
    counts: dict[str, int]  # rows changed, per kind
    subject: str  # the audit log's name for the person: a keyed hash

    @property
    def changed(self) -> int:
        return sum(self.counts.values())


def subject_target(key: bytes, channel: str, user_id: str) -> str:
    """The person as the audit log names them: a keyed hash, the same in every profile."""
    return f"person:{digest(key, SUBJECT, channel, user_id)[:32]}"


@dataclass(frozen=True, slots=True)
class _Found:
    profiles: set[str]
    surveys: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    listed_in: list[str]
    lookup: dict[str, list[str]]

    @property
    def present_in(self) -> list[str]:
        return sorted({s["profile"] for s in self.surveys} | {c["profile"] for c in self.contacts})


async def _find(conn: Any, keys: SuppressionKeys, channel: str, user_id: str, scope: Scope, now: datetime) -> _Found:
    profiles = set(scope.profiles)
    if scope.everywhere:
        profiles |= await q.survey_profiles(conn, channel, user_id)
    surveys = await q.person_surveys(conn, channel, user_id, profiles, lock=True) if profiles else []
    contacts = await q.person_contacts(conn, channel, user_id, profiles) if profiles else []
    lookup = {p: await keys.lookup(conn, p, channel, user_id, now) for p in sorted(profiles)}
    listed = await q.suppressed_hashes(conn, {h for hashes in lookup.values() for h in hashes})
    listed_in = [p for p, hashes in lookup.items() if listed.intersection(hashes)]
    found = _Found(profiles, surveys, contacts, listed_in, lookup)
    if not found.present_in and not listed_in:
        raise UnknownPerson(channel)
    return found


def _private_keys(channel: str, user_id: str, profiles: Iterable[str]) -> set[str]:
    """Ordering keys of conversations that are the person's alone (a Telegram private chat's id is the user id)."""
    return {f"{channel}:{p}:{user_id}" for p in profiles}


def _needles(user_id: str, surveys: list[dict[str, Any]], contacts: list[dict[str, Any]]) -> list[str]:
    """Every piece of text that identifies the person or is theirs, longest first."""
    found: set[str] = {user_id}
    for s in surveys:
        found.update(
            str(v) for v in (s["conversation_id"], s["thread"], s["case_id"], s["customer_name"], s["comment"]) if v
        )
        found.update(str(v) for v in s["unparsed"] or () if v)
        found.update(v for v in _strings(s["extra"]) if len(v) >= MIN_METADATA)
    found.update(str(c["name"]) for c in contacts if c["name"])
    # Shorter text names nobody and would only garble the kept history (a "1" in a field, an "ok" comment).
    kept = {n.strip() for n in found if len(n.strip()) >= MIN_NEEDLE} | {user_id}
    return sorted(kept, key=len, reverse=True)


def _strings(value: Any) -> Iterable[str]:
    """The text in a helpdesk's metadata (an email, a phone number); numbers and flags are not text."""
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def scrub(value: Any, pattern: re.Pattern[str] | None, marker: str) -> Any:
    """`value` with every occurrence of the person's text replaced by the marker, inside any JSON structure."""
    if pattern is None:
        return value
    if isinstance(value, str):
        return pattern.sub(marker, value)
    if isinstance(value, dict):
        return {scrub(k, pattern, marker): scrub(v, pattern, marker) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, pattern, marker) for v in value]
    return value


def _pattern(needles: list[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(map(re.escape, needles)), re.IGNORECASE) if needles else None


def _rewritten(row: dict[str, Any], user_id: str, pattern: re.Pattern[str] | None, marker: str) -> dict[str, Any]:
    """A sent (or dead) message about the person, kept for its history without their id, name or words."""
    target = dict(row["target"] or {})
    if target.get("user_id") == user_id:  # sent to the person: where it went is theirs
        target.update(conversation_id=marker, user_id=marker, thread=None)
    payload = dict(row["payload"] or {})
    if row["kind"] == "detractor_alert":
        payload.update(comment=None, customer=marker, conversation_id=marker, link=None)
    if row["kind"] == "event_notice" and isinstance(payload.get("data"), dict):
        data = dict(payload["data"])
        data.update(
            {k: marker for k in ("user_id", "conversation_id", "case_id") if k in data}
            | {k: None for k in ("customer_name", "comment", "thread") if k in data}
            | ({"metadata": {}} if "metadata" in data else {})
            | ({"unparsed": []} if "unparsed" in data else {})
        )
        payload["data"] = data
    return {
        "id": row["id"],
        "ordering_key": scrub(row["ordering_key"], pattern, marker)[:512],
        "target": scrub(target, pattern, marker),
        "payload": scrub(payload, pattern, marker),
        "ref": None,  # the platform's id of the message, which names the person's chat on some platforms
        "last_error": scrub(row["last_error"], pattern, marker),
    }


async def erase(
    store: Store, keys: SuppressionKeys, *, channel: str, user_id: str, scope: Scope, actor: str, now: datetime
) -> Erasure:
    """Erase the person everywhere in `scope`; UnknownPerson (nothing changed, nothing recorded) when nothing is
    stored about them there and they were never erased there."""
    async with store.transaction() as conn:
        found = await _find(conn, keys, channel, user_id, scope, now)
        marker = anonymous_marker()
        pattern = _pattern(_needles(user_id, found.surveys, found.contacts))
        survey_ids = [s["id"] for s in found.surveys]
        rows = await q.outbox_rows(conn, survey_ids, _private_keys(channel, user_id, found.profiles))
        queued = [r["id"] for r in rows if r["status"] in UNSENT]
        sent = [_rewritten(r, user_id, pattern, marker) for r in rows if r["status"] not in UNSENT]
        journal = await q.journal_rows(conn, channel, found.profiles, user_id) if found.profiles else []
        key = await keys.for_new(conn, now)
        newly = [(digest(key, p, channel, user_id), p, channel) for p in found.present_in if p not in found.listed_in]
        counts = {
            "surveys": await q.anonymise_surveys(conn, survey_ids, marker, now),
            "contacts": await q.delete_contacts(conn, channel, user_id, found.profiles),
            "outbox_deleted": await q.delete_outbox(conn, queued),
            "outbox_anonymised": await q.rewrite_outbox(conn, sent),
            "inbound_journal": await q.delete_journal(conn, [j["id"] for j in journal]),
            "inbound_keys": await q.delete_keys_holding(conn, user_id),
            "suppressed": await q.suppress(conn, newly, now),
        }
        profiles = tuple(sorted(set(found.present_in) | set(found.listed_in)))
        subject = subject_target(key, channel, user_id)
        details = {"channel": channel, "profiles": list(profiles), "rows": counts}
        await audit.record_in(
            conn, actor=actor, action=audit.ERASE, profile=_one(profiles), target=subject, at=now, details=details
        )
    return Erasure(profiles, counts, subject)


def _one(profiles: Collection[str]) -> str | None:
    return next(iter(profiles)) if len(profiles) == 1 else None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _shown(redact: Redact | None, profile: str, text: str | None) -> str | None:
    return text if redact is None or text is None else redact(profile, text)


def _survey_out(row: dict[str, Any], redact: Redact | None) -> dict[str, Any]:
    out = {f: row.get(f) for f in SURVEY_FIELDS}
    out["comment"] = _shown(redact, row["profile"], row["comment"])
    out["unparsed"] = [_shown(redact, row["profile"], t) for t in row["unparsed"] or ()]
    out["metadata"] = row["extra"] or {}
    return _plain(out)


def _message_out(row: dict[str, Any], user_id: str, private: set[str], redact: Redact | None) -> dict[str, Any]:
    """A message to the person in full; one about them to the support team or a subscriber only as the fact that
    it was sent (where it went is the operator's own business, and what it said is in the survey)."""
    out = {k: row[k] for k in ("id", "profile", "channel", "kind", "survey_id", "status", "created_at", "sent_at")}
    target = row["target"] or {}
    if target.get("user_id") == user_id or row["ordering_key"] in private:
        payload = dict(row["payload"] or {})
        if isinstance(payload.get("text"), str):
            payload["text"] = _shown(redact, row["profile"], payload["text"])
        out |= {"to": {k: target.get(k) for k in ("conversation_id", "user_id", "thread")}, "payload": payload}
    return _plain(out)


async def export(
    store: Store,
    keys: SuppressionKeys,
    *,
    channel: str,
    user_id: str,
    scope: Scope,
    actor: str,
    now: datetime,
    redact: Redact | None = None,
) -> dict[str, Any]:
    """Everything stored about the person in `scope`, as JSON values, texts passed through `redact` (None: as
    stored); the export itself is recorded in the audit log. UnknownPerson as for `erase`."""
    async with store.transaction() as conn:
        found = await _find(conn, keys, channel, user_id, scope, now)
        private = _private_keys(channel, user_id, found.profiles)
        rows = await q.outbox_rows(conn, [s["id"] for s in found.surveys], private)
        journal = await q.journal_rows(conn, channel, found.profiles, user_id) if found.profiles else []
        lookup_keys = await keys.for_lookup(conn, now)
        subjects = {subject_target(k, channel, user_id) for k in lookup_keys}
        targets = subjects | {audit.survey_target(s["id"]) for s in found.surveys}
        history = await audit_q.about(conn, targets)
        key = await keys.for_new(conn, now)
        profiles = sorted(set(found.present_in) | set(found.listed_in))
        result = {
            "channel": channel,
            "user_id": user_id,
            "profiles": profiles,
            "exported_at": now.isoformat(),
            "suppressed_in": found.listed_in,
            "contacts": [_plain({f: c.get(f) for f in CONTACT_FIELDS}) for c in found.contacts],
            "surveys": [_survey_out(s, redact) for s in found.surveys],
            "messages": [_message_out(r, user_id, private, redact) for r in rows],
            "inbound_requests": [
                _plain({k: j[k] for k in ("id", "profile", "received_at", "status", "body")}) for j in journal
            ],
            "audit": [_plain(h) for h in history],
        }
        counts = {k: len(result[k]) for k in ("contacts", "surveys", "messages", "inbound_requests", "audit")}
        await audit.record_in(
            conn,
            actor=actor,
            action=audit.EXPORT,
            profile=_one(profiles),
            target=subject_target(key, channel, user_id),
            at=now,
            details={"channel": channel, "profiles": profiles, "rows": counts, "redacted": redact is not None},
        )
    return result
