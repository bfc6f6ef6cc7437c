"""Contact upserts on SQLite and PostgreSQL: only the given fields change, attributes merge (a null removes a key),
what the service records itself is never touched, consent keeps its first time while unchanged, the timestamps are
kept, an erased person is not stored again, and a platform's time zone never replaces an operator's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from core import contact_batches, privacy
from core.contacts import change
from core.store import Store
from core.store import contacts as q
from core.store.tables import ContactRow
from core.suppression import SuppressionKeys

C = ContactRow.__table__
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
KEYS = b"contacts-test-hash-key-0123456789"


def ch(user: str, **given: object) -> object:
    return change("shop", "telegram", user, given)


async def saved(store: Store, *changes: object, now: datetime = T0) -> contact_batches.Saved:
    return await contact_batches.save_batch(store, SuppressionKeys([KEYS]), list(changes), now)  # type: ignore[arg-type]


async def test_a_new_contact_holds_what_was_given(store: Store) -> None:
    given = {"locale": "pt-BR", "timezone": "Europe/Lisbon", "name": " Ana Lima ", "external_id": "crm-1"}
    await saved(store, ch("u1", attributes={"plan": "pro", "seats": 12, "vip": True, "gone": None}, **given))
    got = await contact_batches.read(store, "shop", "telegram", "u1")
    assert got is not None
    assert (got.locale, got.timezone, got.name, got.external_id) == ("pt", "Europe/Lisbon", "Ana Lima", "crm-1")
    assert got.attributes == {"plan": "pro", "seats": 12, "vip": True}
    assert got.created_at == got.updated_at == T0 and got.consent is None and got.consent_at is None


async def test_an_update_sets_only_the_given_fields_and_merges_attributes(store: Store) -> None:
    await saved(
        store, ch("u1", name="Ana", locale="es", timezone="Europe/Madrid", attributes={"plan": "pro", "seg": "b2b"})
    )
    later = T0 + timedelta(days=1)
    async with store.transaction() as conn:  # what the service records itself
        stamps = {"opted_out_at": T0, "unreachable_at": T0, "last_surveyed_at": T0, "last_inbound_at": T0}
        await conn.execute(update(C).where(C.c.user_id == "u1").values(**stamps))
    await saved(store, ch("u1", locale=None, attributes={"plan": "team", "seg": None, "n": 1.5}), now=later)
    got = await contact_batches.read(store, "shop", "telegram", "u1")
    assert got is not None
    assert (got.name, got.locale, got.timezone) == ("Ana", None, "Europe/Madrid")  # null cleared, absent kept
    assert got.attributes == {"plan": "team", "n": 1.5}
    assert (got.created_at, got.updated_at) == (T0, later)
    assert (got.opted_out_at, got.unreachable_at, got.last_surveyed_at) == (T0, T0, T0)
    async with store.read() as conn:
        assert (await conn.execute(select(C.c.last_inbound_at))).scalar_one() == T0


async def test_one_batch_mixes_contacts_changing_different_fields(store: Store) -> None:
    await saved(store, ch("a", name="A", locale="en"), ch("b", name="B", timezone="Asia/Tokyo"))
    await saved(store, ch("a", timezone="America/Bogota"), ch("b", name="Bee"), ch("c", locale="de"))
    rows = {r.user_id: r for r in [await contact_batches.read(store, "shop", "telegram", u) for u in "abc"] if r}
    assert (rows["a"].name, rows["a"].locale, rows["a"].timezone) == ("A", "en", "America/Bogota")
    assert (rows["b"].name, rows["b"].timezone) == ("Bee", "Asia/Tokyo")
    assert (rows["c"].locale, rows["c"].name) == ("de", None)


async def test_consent_keeps_the_time_it_was_first_given_while_unchanged(store: Store) -> None:
    t1, t2, t3 = T0 + timedelta(days=1), T0 + timedelta(days=2), T0 + timedelta(days=3)
    await saved(store, ch("u", consent="granted"))
    await saved(store, ch("u", consent="granted"), now=t1)
    got = await contact_batches.read(store, "shop", "telegram", "u")
    assert got is not None and (got.consent, got.consent_at) == ("granted", T0)
    await saved(store, ch("u", consent="denied"), now=t2)
    got = await contact_batches.read(store, "shop", "telegram", "u")
    assert got is not None and (got.consent, got.consent_at) == ("denied", t2)
    await saved(store, ch("u", consent="granted"), now=t3)
    got = await contact_batches.read(store, "shop", "telegram", "u")
    assert got is not None and (got.consent, got.consent_at) == ("granted", t3)
    await saved(store, ch("u", consent=None), now=t3)
    got = await contact_batches.read(store, "shop", "telegram", "u")
    assert got is not None and (got.consent, got.consent_at) == (None, None)


async def test_an_erased_person_is_not_stored_again(store: Store) -> None:
    keys = SuppressionKeys([KEYS])
    await saved(store, ch("gone", name="Gone Person"), ch("kept", name="Kept"))
    scope = privacy.Scope(frozenset({"shop"}))
    await privacy.erase(store, keys, channel="telegram", user_id="gone", scope=scope, actor="test", now=T0)
    result = await contact_batches.save_batch(store, keys, [ch("kept", name="K2"), ch("gone", name="Again")], T0)
    assert (result.saved, result.suppressed) == (1, (1,))
    assert await contact_batches.read(store, "shop", "telegram", "gone") is None
    kept = await contact_batches.read(store, "shop", "telegram", "kept")
    assert kept is not None and kept.name == "K2"


async def test_a_platform_zone_fills_only_a_missing_one(store: Store) -> None:
    await saved(store, ch("set", timezone="Europe/Madrid"), ch("unset", name="N"))
    async with store.transaction() as conn:
        await q.adopt_timezone(conn, "shop", "telegram", "set", "America/New_York")
        await q.adopt_timezone(conn, "shop", "telegram", "unset", "America/New_York")
    zones = [(await contact_batches.read(store, "shop", "telegram", u)).timezone for u in ("set", "unset")]  # type: ignore[union-attr]
    assert zones == ["Europe/Madrid", "America/New_York"]
