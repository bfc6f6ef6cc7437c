"""`channels.messenger` and `channels.instagram` as check-config sees them: every key checked with its path, no
detractor alert may go to a customer channel, and Instagram's two logins each name the node messages leave from."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.instagram.config import InstagramConfig
from bots.config import ConfigError, parse_config

SECRETS = {"app_secret": "meta-app-secret-0123", "verify_token": "verify-me-0123", "access_token": "EAAG-token-0123"}


def cfg(channel: str, settings: dict[str, Any], **profile: Any) -> dict[str, Any]:
    return {"profiles": {"shop": {"brand": "Shop", "channels": {channel: settings}, **profile}}}


def problems(config: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(config, env={})
    return caught.value.problems


def test_a_messenger_page_is_configured_with_its_secrets_and_id() -> None:
    config = parse_config(cfg("messenger", {**SECRETS, "page_id": "106112865011426"}), env={})
    messenger = config.profiles["shop"].channels["messenger"]
    assert messenger.message_tag is None  # no tag unless the operator names one
    assert messenger.rate_per_second == 250 and messenger.per_recipient_per_second == 1


def test_bad_messenger_keys_are_named_by_path() -> None:
    bad = {**SECRETS, "page_id": "my-page", "message_tag": "ACCOUNT_UPDATE", "rate_per_second": 0, "colour": "blue"}
    found = {p.split(": ", 1)[0] for p in problems(cfg("messenger", bad))}
    assert {
        "profiles.shop.channels.messenger.page_id",
        "profiles.shop.channels.messenger.message_tag",
        "profiles.shop.channels.messenger.rate_per_second",
        "profiles.shop.channels.messenger.colour",
    } <= found


@pytest.mark.parametrize(
    ("channel", "ids"), [("messenger", {"page_id": "106112865011426"}), ("instagram", {"account_id": "1784140582"})]
)
def test_no_detractor_alert_goes_to_a_customer_channel(channel: str, ids: dict[str, str]) -> None:
    alerts = [{"channel": channel, "destination": "1254477777772919"}]
    found = problems(cfg(channel, {**SECRETS, **ids}, alerts=alerts))
    assert any(p.startswith("profiles.shop.alerts[0].channel") and "does not carry alerts" in p for p in found)


def test_instagram_login_sends_from_the_account_itself() -> None:
    ig = InstagramConfig.model_validate({**SECRETS, "account_id": "17841405822304914"})
    assert ig.login == "instagram" and ig.send_node == "17841405822304914"


def test_facebook_login_sends_from_the_linked_page() -> None:
    ig = InstagramConfig.model_validate(
        {**SECRETS, "account_id": "17841405822304914", "login": "facebook", "page_id": "106112865011426"}
    )
    assert ig.send_node == "106112865011426"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"login": "facebook"}, "page_id is required with login: facebook"),
        ({"page_id": "106112865011426"}, "page_id is only used with login: facebook"),
    ],
)
def test_instagram_logins_are_checked(settings: dict[str, str], message: str) -> None:
    found = problems(cfg("instagram", {**SECRETS, "account_id": "17841405822304914", **settings}))
    assert any(p.startswith("profiles.shop.channels.instagram") and message in p for p in found), found
