"""Who may act on which survey through Slack's buttons and modal: Claim / Resolved only on this profile's detractors,
from the alert's channel or a listed agent; score and comment only by the surveyed customer, on this profile's
survey. Every request here is signed as Slack signs it; Slack's side is the fake Web API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bots.sandbox.slack_api import FakeSlack
from core.store import journal
from tests.slack_requests import (
    AGENT,
    CHAN,
    CUSTOMER,
    OTHER,
    ROOT_TS,
    block_action,
    deliver,
    post_form,
    post_json,
    reaction,
    serve,
    slack_fake,
    surveys,
    thread_reply,
)

fake = pytest.fixture(slack_fake)
SHOP = {"alerts": [{"channel": "slack", "destination": "CSHOPLEADS"}]}
QUESTION = {"ts": "1700000000.000001", "thread_ts": ROOT_TS, "channel": CHAN}
NOT_ALLOWED = "Only the support team where this alert was posted can do that."
CLOSED = "This survey is closed. Thank you!"
NOT_YOURS = "This survey is for the customer in this conversation."


@pytest.fixture
async def client(tmp_path, fake: FakeSlack, clock):
    """`desk` (alerts in CLEADS, UAGENT01 a listed agent) and `shop` (alerts in CSHOPLEADS) on one server."""
    async with serve(tmp_path, fake, clock, slack={"agents": [AGENT]}, others={"shop": SHOP}) as c:
        yield c


async def asked(client: TestClient, profile: str = "desk", n: int = 1, customer: str = CUSTOMER) -> int:
    """A survey asked in its own thread of CHAN; returns its id."""
    body = reaction(f"Ev0{profile}{n}")
    body["event"]["item"]["ts"] = root = f"17000000{n}0.000100"
    body["event"]["item_user"] = customer
    assert (await post_json(client, body, profile=profile))[0] == 200
    [row] = [r for r in await surveys(client) if r.profile == profile and r.thread == root]
    return row.id


async def detractor(client: TestClient, profile: str = "desk", n: int = 1) -> int:
    """A completed detractor (score 2, a comment) of `profile`; returns its id."""
    sid = await asked(client, profile, n)
    root = f"17000000{n}0.000100"
    msg = {"ts": f"1700000000.00010{n}", "thread_ts": root, "channel": CHAN}
    tap = block_action(CUSTOMER, f"{sid}:2", "nps_score_2", msg, f"1700000300.{profile}{n}")
    assert (await post_form(client, tap, profile=profile))[0] == 200
    comment = thread_reply("Nobody answered", f"Ev0C{profile}{n}")
    comment["event"]["thread_ts"] = root
    assert (await post_json(client, comment, profile=profile))[0] == 200
    await deliver(client)
    return sid


async def row(client: TestClient, sid: int) -> Any:
    [found] = [r for r in await surveys(client) if r.id == sid]
    return found


async def journal_rows(client: TestClient) -> list[dict[str, Any]]:
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        return await journal.entries(conn, "slack")


def alert_in(channel: str, sid: int) -> dict[str, Any]:
    return {"ts": "1700000500.000001", "channel": channel, "blocks": [{"type": "actions", "elements": []}]}


def notes(fake: FakeSlack) -> list[tuple[str, str, str]]:
    return [(c.params["channel"], c.params["user"], c.params["text"]) for c in fake.of("chat.postEphemeral")]


async def test_claim_and_resolve_only_from_the_alert_channel_or_a_listed_agent(client: TestClient, fake) -> None:
    sid = await detractor(client)
    fake.calls.clear()
    # A workspace member in some other channel: refused, told so privately, nothing recorded or edited.
    stray = block_action("ULURKER1", str(sid), "nps_claim", alert_in("CRANDOM", sid), "1700000600.1")
    assert (await post_form(client, stray))[0] == 200
    assert notes(fake) == [("CRANDOM", "ULURKER1", NOT_ALLOWED)]
    assert fake.of("chat.update") == []
    assert ((await row(client, sid)).claimed_by, (await row(client, sid)).resolved_by) == (None, None)
    # A listed agent may act wherever the message is; anyone in the alert's channel may too.
    by_agent = block_action(AGENT, str(sid), "nps_claim", alert_in("CRANDOM", sid), "1700000600.2")
    assert (await post_form(client, by_agent))[0] == 200
    assert (await row(client, sid)).claimed_by == AGENT.lower()
    in_alerts = block_action("ULEAD001", str(sid), "nps_resolve", alert_in("CLEADS", sid), "1700000600.3")
    assert (await post_form(client, in_alerts))[0] == 200
    assert (await row(client, sid)).resolved_by == "ulead001"
    assert [c.params["channel"] for c in fake.of("chat.update")] == ["CRANDOM", "CLEADS"]
    assert await journal_rows(client) == []


async def test_claim_of_another_profiles_detractor_is_refused(client: TestClient, fake) -> None:
    theirs = await detractor(client, "shop", 1)
    ours = await detractor(client, "desk", 2)
    fake.calls.clear()
    # shop's alert channel is not desk's: desk's app refuses before looking at the survey.
    from_shop_channel = block_action("ULEAD001", str(theirs), "nps_claim", alert_in("CSHOPLEADS", theirs), "17.1")
    assert (await post_form(client, from_shop_channel))[0] == 200
    # From desk's own alert channel, the id still names no detractor of desk.
    for n, action in enumerate(("nps_claim", "nps_resolve")):
        forged = block_action("ULEAD001", str(theirs), action, alert_in("CLEADS", theirs), f"17.2{n}")
        assert (await post_form(client, forged))[0] == 200
    assert notes(fake) == [
        ("CSHOPLEADS", "ULEAD001", NOT_ALLOWED),
        ("CLEADS", "ULEAD001", CLOSED),
        ("CLEADS", "ULEAD001", CLOSED),
    ]
    assert fake.of("chat.update") == []
    shop = await row(client, theirs)
    assert (shop.claimed_by, shop.claimed_at, shop.resolved_by) == (None, None, None)
    # The same button on shop's own app, from shop's alert channel, works.
    own = block_action("ULEAD002", str(theirs), "nps_claim", alert_in("CSHOPLEADS", theirs), "17.3")
    assert (await post_form(client, own, profile="shop"))[0] == 200
    assert (await row(client, theirs)).claimed_by == "ulead002"
    assert (await row(client, ours)).claimed_by is None
    assert await journal_rows(client) == []


async def test_claim_of_a_survey_that_is_not_a_detractor_gets_a_note_and_is_not_retried(
    client: TestClient, fake
) -> None:
    sid = await asked(client)  # asked, never answered: no follow-up to claim
    missing = sid + 1000
    for n, value in enumerate((str(sid), str(missing))):
        action = block_action("ULEAD001", value, "nps_claim", alert_in("CLEADS", sid), f"1700000600.{n}")
        assert (await post_form(client, action))[0] == 200
    assert notes(fake) == [("CLEADS", "ULEAD001", CLOSED)] * 2
    assert fake.of("chat.update") == []
    assert (await row(client, sid)).claimed_by is None
    assert await journal_rows(client) == []  # handled, not failed and left for a retry


@pytest.mark.parametrize("value", ["0", "-1", "9223372036854775808", "99999999999999999999999", "1.5", "1:2", ""])
async def test_claim_value_out_of_bounds_is_refused_before_journaling(client: TestClient, fake, value: str) -> None:
    sid = await detractor(client)
    fake.calls.clear()
    status, _ = await post_form(client, block_action("ULEAD001", value, "nps_claim", alert_in("CLEADS", sid)))
    assert status == 400
    assert await journal_rows(client) == []
    assert (await row(client, sid)).claimed_by is None
    assert fake.calls == []


async def test_score_tap_naming_another_profiles_survey_changes_nothing(client: TestClient, fake) -> None:
    theirs = await asked(client, "shop", 1)
    ours = await asked(client, "desk", 2)
    forged = block_action(CUSTOMER, f"{theirs}:0", "nps_score_0", QUESTION, "1700000300.9")
    assert (await post_form(client, forged))[0] == 200
    assert notes(fake) == [(CHAN, CUSTOMER, CLOSED)]
    assert ((await row(client, theirs)).state, (await row(client, theirs)).score) == ("asked", None)
    assert ((await row(client, ours)).state, (await row(client, ours)).score) == ("asked", None)
    # Another customer's survey of this profile: not theirs.
    other = await asked(client, "desk", 3, customer=OTHER)
    tap = block_action(CUSTOMER, f"{other}:10", "nps_score_10", QUESTION, "1700000300.10")
    assert (await post_form(client, tap))[0] == 200
    assert notes(fake)[-1] == (CHAN, CUSTOMER, NOT_YOURS)
    assert (await row(client, other)).score is None


async def scored(client: TestClient, profile: str, n: int, score: int = 6) -> int:
    sid = await asked(client, profile, n)
    msg = {"ts": f"1700000000.00020{n}", "thread_ts": f"17000000{n}0.000100", "channel": CHAN}
    tap = block_action(CUSTOMER, f"{sid}:{score}", f"nps_score_{score}", msg, f"1700000300.s{profile}{n}")
    assert (await post_form(client, tap, profile=profile))[0] == 200
    assert (await row(client, sid)).state == "scored"
    return sid


def submission(user: str, metadata: str, text: str, view_id: str = "VNHU13V36") -> dict[str, str]:
    view = {
        "id": view_id,
        "type": "modal",
        "callback_id": "nps_comment_modal",
        "private_metadata": metadata,
        "state": {"values": {"comment": {"text": {"type": "plain_text_input", "value": text}}}},
        "hash": f"156663117.{view_id}",
        "blocks": [],
    }
    body = {"type": "view_submission", "team": {"id": "T1234567"}, "user": {"id": user, "username": "u"}, "view": view}
    return {"payload": json.dumps(body)}


async def test_comment_button_for_another_profiles_survey_opens_nothing(client: TestClient, fake) -> None:
    theirs = await scored(client, "shop", 1)
    comment_msg = {"ts": "1700000000.000301", "thread_ts": "1700000010.000100", "channel": CHAN}
    assert (await post_form(client, block_action(CUSTOMER, str(theirs), "nps_comment", comment_msg, "17.4")))[0] == 200
    assert fake.of("views.open") == []
    assert notes(fake) == [(CHAN, CUSTOMER, CLOSED)]
    # On shop's own app the same button opens the modal, which names the survey and nothing else.
    on_shop = block_action(CUSTOMER, str(theirs), "nps_comment", comment_msg, "17.5")
    assert (await post_form(client, on_shop, profile="shop"))[0] == 200
    [opened] = fake.of("views.open")
    assert opened.params["view"]["private_metadata"] == str(theirs)


async def test_comment_modal_changes_only_the_named_survey_of_this_profile_and_submitter(
    client: TestClient, fake
) -> None:
    theirs = await scored(client, "shop", 1)
    ours = await scored(client, "desk", 1)  # the same customer, same channel and thread, in desk
    other = await asked(client, "desk", 2, customer=OTHER)
    tap = block_action(OTHER, f"{other}:3", "nps_score_3", {"ts": "1.1", "channel": CHAN}, "1700000300.o")
    await post_form(client, tap)
    thread = "1700000010.000100"
    # The metadata names shop's survey (legacy form with channel and thread too): desk's app changes nothing.
    assert (await post_form(client, submission(CUSTOMER, f"{theirs}|{CHAN}|{thread}", "forged", "V1")))[0] == 200
    # Another customer's survey: not the submitter's.
    assert (await post_form(client, submission(CUSTOMER, str(other), "not mine", "V2")))[0] == 200
    assert [(await row(client, s)).comment for s in (theirs, ours, other)] == [None, None, None]
    assert [(await row(client, s)).state for s in (theirs, ours, other)] == ["scored", "scored", "scored"]
    # The customer's own survey, named by the metadata the button wrote.
    assert (await post_form(client, submission(CUSTOMER, str(ours), "Took two days", "V3")))[0] == 200
    mine = await row(client, ours)
    assert (mine.state, mine.comment) == ("completed", "Took two days")
    assert (await row(client, theirs)).comment is None
    assert await journal_rows(client) == []
