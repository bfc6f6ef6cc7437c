"""The suppression list: an erased person is skipped as `suppressed` whenever a conversation of theirs closes again,
in the profiles they were erased from only; entries are keyed hashes that name nobody; the key is the configured
one, or one generated once and shared through the database, and a key change (listed under previous_hash_keys, or
configuring a key after running without one) forgets nobody. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select

from bots.config import ConfigError, parse_config
from core import privacy
from core.profiles import ProfileSettings
from core.service import SurveyService
from core.store import Store
from core.store.privacy_tables import PrivacyKeyRow, SuppressionRow
from core.store.tables import ContactRow, SurveyRow
from core.suppression import SuppressionKeys, digest
from core.survey import Policy, SkipReason, State
from core.types import Address, ConversationClosed

PROFILES = {p: ProfileSettings(p, Policy(brand=p, throttle=timedelta(0))) for p in ("acme", "tapas")}
KEY_A, KEY_B = b"first-configured-key-0123456789", b"second-configured-key-012345678"


def service(store: Store, clock, *keys: bytes) -> SurveyService:
    return SurveyService(store, PROFILES, clock, SuppressionKeys(keys))


async def close(svc: SurveyService, profile: str = "acme", user: str = "u-77", case: str = "c1"):
    event = ConversationClosed(
        Address("memory", profile, f"chat-{user}", user), customer_name="Wilhelmina Z", case_id=case
    )
    return (await svc.handle(event)).survey


async def erase(store: Store, clock, *keys: bytes, profile: str = "acme", user: str = "u-77") -> privacy.Erasure:
    scope = privacy.Scope(frozenset({profile}))
    return await privacy.erase(
        store, SuppressionKeys(keys), channel="memory", user_id=user, scope=scope, actor="test", now=clock.now
    )


async def test_an_erased_person_is_skipped_as_suppressed_and_named_nowhere(store: Store, clock) -> None:
    svc = service(store, clock)
    assert (await close(svc)).state is State.ASKED
    await erase(store, clock)
    again = await close(svc, case="c2")
    assert (again.state, again.skip_reason) == (State.SKIPPED, SkipReason.SUPPRESSED)
    assert again.address.user_id.startswith("anon:") and again.customer_name is None
    async with store.read() as conn:
        users = set((await conn.execute(select(SurveyRow.__table__.c.user_id))).scalars())
        contacts = (await conn.execute(select(ContactRow.__table__))).all()
        [entry] = (await conn.execute(select(SuppressionRow.__table__))).all()
    assert "u-77" not in users and contacts == []  # no contact record is made again
    assert re.fullmatch(r"[0-9a-f]{64}", entry.hash) and (entry.profile, entry.channel) == ("acme", "memory")
    assert "u-77" not in str(tuple(entry))


async def test_only_in_the_profiles_they_were_erased_from(store: Store, clock) -> None:
    svc = service(store, clock)
    await close(svc, "acme")
    await close(svc, "tapas")
    await erase(store, clock, profile="acme")
    assert (await close(svc, "acme", case="c2")).skip_reason is SkipReason.SUPPRESSED
    assert (await close(svc, "tapas", case="c2")).state is State.ASKED
    assert (await close(svc, "acme", user="u-78", case="c3")).state is State.ASKED  # someone else


async def test_the_stored_key_is_made_once_and_shared_by_every_process(store: Store, clock) -> None:
    one, two = SuppressionKeys(), SuppressionKeys()
    async with store.transaction() as conn:
        first = await one.for_new(conn, clock.now)
    async with store.transaction() as conn:
        assert await two.for_lookup(conn, clock.now) == (first,)
        assert await two.for_new(conn, clock.now) == first
    async with store.read() as conn:
        assert len((await conn.execute(select(PrivacyKeyRow.__table__))).all()) == 1


async def test_configuring_a_key_later_forgets_nobody(store: Store, clock) -> None:
    await close(service(store, clock))
    await erase(store, clock)  # no key configured: the stored one
    configured = service(store, clock, KEY_A)
    assert (await close(configured, case="c2")).skip_reason is SkipReason.SUPPRESSED


async def test_a_changed_key_still_finds_entries_made_with_a_previous_one(store: Store, clock) -> None:
    await close(service(store, clock, KEY_A))
    await erase(store, clock, KEY_A)
    async with store.read() as conn:
        [entry] = (await conn.execute(select(SuppressionRow.__table__.c.hash))).scalars().all()
    assert entry == digest(KEY_A, "acme", "memory", "u-77")  # HMAC-SHA256 of (profile, channel, address)
    rotated = service(store, clock, KEY_B, KEY_A)
    assert (await close(rotated, case="c2")).skip_reason is SkipReason.SUPPRESSED
    forgotten = service(store, clock, KEY_B)  # KEY_A dropped from the configuration: its entries no longer match
    assert (await close(forgotten, case="c3")).state is State.ASKED


def test_hash_key_configuration() -> None:
    base = {"profiles": {"acme": {"brand": "Acme"}}}
    unset = parse_config(base | {"privacy": {"hash_key": "${NPSBOT_PRIVACY_KEY:-}"}}, env={})
    assert unset.privacy.keys() == [] and unset.privacy.warnings()
    assert parse_config(base, env={}).privacy.hash_key is None
    given = parse_config(
        base | {"privacy": {"hash_key": "${K}", "previous_hash_keys": ["old-key-0123456789abcdef"]}},
        env={"K": "new-key-0123456789abcdef"},
    )
    assert given.privacy.keys() == [b"new-key-0123456789abcdef", b"old-key-0123456789abcdef"]
    assert given.privacy.warnings() == []
    with pytest.raises(ConfigError) as short:
        parse_config(base | {"privacy": {"hash_key": "short"}}, env={})
    assert short.value.problems[0].startswith("privacy.hash_key: ")
    with pytest.raises(ConfigError) as unknown:
        parse_config(base | {"privacy": {"key": "x"}}, env={})
    assert unknown.value.problems[0].startswith("privacy.key: ")


def test_check_config_warns_when_no_key_is_set(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("profiles:\n  acme:\n    brand: Acme\nprivacy:\n  hash_key: ${NPSBOT_PRIVACY_KEY:-}\n")
    run = [sys.executable, "-m", "bots.cli", "check-config", "-c", str(path)]
    out = subprocess.run(run, capture_output=True, text=True, env={"PATH": ""}, check=True)
    assert "privacy.hash_key is not set" in out.stderr and "configuration OK" in out.stdout
    out = subprocess.run(run, capture_output=True, text=True, env={"NPSBOT_PRIVACY_KEY": "k" * 32}, check=True)
    assert "privacy.hash_key" not in out.stderr
