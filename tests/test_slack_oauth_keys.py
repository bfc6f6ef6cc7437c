"""Token keys and the Slack OAuth configuration: check-config refuses OAuth while no key is configured (tokens are
never stored in the clear), names a key that is not one, and checks alert destinations against how many
workspaces the app serves; `npsbot tokens reencrypt` moves every stored token to the first key (key rotation) and
`npsbot tokens new-key` prints a key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient

from bots.cli import main
from bots.config import ConfigError, parse_config
from bots.sandbox.slack_api import FakeSlack
from bots.token_keys import reencrypt
from core.installations import Installations
from core.secrets import SecretBox, SecretsError, key_problem, new_key
from core.store import Store
from tests.conftest import run_sync
from tests.slack_installs import IN, KEY, OLD_KEY, TEAM_A, TEAM_B, deliver, install, rows, serve
from tests.slack_requests import ADMIN, SIGNING, slack_fake

fake = pytest.fixture(slack_fake)
OAUTH = {"client_id": "1000000001.2000000002", "client_secret": "fake-slack-client-secret"}


def config(slack: dict[str, Any], alerts: list[dict[str, str]] | None = None) -> dict[str, Any]:
    profile = {"brand": "Acme", "channels": {"slack": {"signing_secret": SIGNING, **slack}}, "alerts": alerts or []}
    return {"profiles": {"desk": profile}}


def problems(data: dict[str, Any], keys: str | None = None) -> list[str]:
    env = {} if keys is None else {"NPSBOT_TOKEN_KEYS": keys}
    with pytest.raises(ConfigError) as raised:
        parse_config(data, env=env)
    return raised.value.problems


def test_oauth_without_a_token_key_is_refused() -> None:
    assert problems(config({"oauth": OAUTH})) == [
        "profiles.desk.channels.slack.oauth: its tokens are stored encrypted and NPSBOT_TOKEN_KEYS holds no key: set "
        "it to one or more Fernet keys, comma-separated, the first encrypting (`npsbot tokens new-key` prints one)"
    ]
    assert parse_config(config({"oauth": OAUTH}), env={"NPSBOT_TOKEN_KEYS": f" {KEY} , {OLD_KEY} "}).token_keys == (
        KEY,
        OLD_KEY,
    )
    assert parse_config(config({"bot_token": "xoxb-test-token"}), env={}).token_keys == ()  # no OAuth: no key needed


def test_a_token_key_that_is_not_one_is_named_by_position_never_quoted() -> None:
    [problem] = problems(config({"oauth": OAUTH}), f"{KEY},not-a-key-at-all")
    assert problem == "NPSBOT_TOKEN_KEYS: key 2 of 2 is not a Fernet key (32 bytes in URL-safe base64, 44 characters)"
    assert key_problem(new_key()) is None


def test_the_slack_channel_needs_a_bot_token_or_oauth() -> None:
    assert problems(config({})) == [
        "profiles.desk.channels.slack: set bot_token (one workspace), oauth (every workspace that installs the app), "
        "or both"
    ]
    assert problems(config({"oauth": {**OAUTH, "redirect_uri": "nps.example.com/cb", "scopes": []}}), KEY) == [
        "profiles.desk.channels.slack.oauth.scopes: List should have at least 1 item after validation, not 0",
        "profiles.desk.channels.slack.oauth.redirect_uri: String should match pattern '^https?://'",
    ]


@pytest.mark.parametrize(
    ("slack", "destination", "problem"),
    [
        ({"oauth": OAUTH}, "CLEADS", "this Slack app serves the workspaces that install it: name one, e.g. "
         "T0123ABCD/C0456EFGH"),
        ({"oauth": OAUTH}, "lowercase/CLEADS", "expected <workspace>/<channel>, e.g. T0123ABCD/C0456EFGH (a team id, "
         "or an E… org id)"),
        ({"oauth": OAUTH}, "T0ALPHA001/", "expected <workspace>/<channel>, e.g. T0123ABCD/C0456EFGH (a team id, or "
         "an E… org id)"),
        ({"oauth": OAUTH}, "T0ALPHA001/CLEADS", None),
        ({"oauth": OAUTH}, "E0GRID0001/CLEADS", None),
        ({"oauth": OAUTH, "bot_token": "xoxb-test-token"}, "CLEADS", None),  # the configured token's workspace
        ({"bot_token": "xoxb-test-token"}, "CLEADS", None),
    ],
)  # fmt: skip
def test_alert_destinations_name_a_workspace_when_the_app_serves_many(
    slack: dict[str, Any], destination: str, problem: str | None
) -> None:
    data = config(slack, [{"channel": "slack", "destination": destination}])
    if problem is None:
        parse_config(data, env={"NPSBOT_TOKEN_KEYS": KEY})
    else:
        assert problems(data, KEY) == [f"profiles.desk.alerts[0].destination: {problem}"]


def test_check_config_refuses_oauth_without_a_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config({"oauth": OAUTH})))
    monkeypatch.delenv("NPSBOT_TOKEN_KEYS", raising=False)
    assert _exit_code(["check-config", "-c", str(path)]) == 2
    assert "channels.slack.oauth: its tokens are stored encrypted" in capsys.readouterr().err
    monkeypatch.setenv("NPSBOT_TOKEN_KEYS", KEY)
    assert _exit_code(["check-config", "-c", str(path)]) == 0


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


async def test_a_channel_cannot_be_built_to_store_tokens_without_a_key(store: Store, clock: Any) -> None:
    """A configuration that skipped check-config still never stores a token in the clear."""
    from adapters.slack import SPEC
    from adapters.spec import ChannelDeps
    from core.service import SurveyService

    cfg = parse_config(config({"oauth": OAUTH}), env={"NPSBOT_TOKEN_KEYS": KEY})
    settings = cfg.profile_settings()
    service = SurveyService(store, settings, clock)
    deps = ChannelDeps("desk", settings["desk"], service, store, clock, None, timedelta(seconds=60))  # no secrets
    with pytest.raises(ValueError, match="no token keys are configured"):
        SPEC.build(deps, cfg.profiles["desk"].channels["slack"])  # type: ignore[arg-type]


# ---- key rotation ----------------------------------------------------------------------------------------------


async def test_reencrypt_moves_every_stored_token_to_the_first_key(
    tmp_path, fake: FakeSlack, clock, store: Store
) -> None:
    async with serve(tmp_path, fake, clock, store=store, keys=OLD_KEY) as client:
        await install(client, fake, "code-a", team_id=TEAM_A)
        await install(client, fake, "code-b", team_id=TEAM_B, expires_in=43200)
        before = {r.workspace: r for r in await rows(client, IN)}
    done = await reencrypt(store.url, [KEY, OLD_KEY])
    assert (done.changed, done.seen, done.unreadable) == (2, 2, 0)
    async with serve(tmp_path, fake, clock, store=store, keys=KEY) as client:  # the old key is gone now
        after = {r.workspace: r for r in await rows(client, IN)}
        for workspace, row in after.items():
            assert row.version == before[workspace].version + 1 and row.secrets != before[workspace].secrets
            assert SecretBox([KEY]).open(row.secrets) == SecretBox([OLD_KEY]).open(before[workspace].secrets)
            with pytest.raises(SecretsError):
                SecretBox([OLD_KEY]).open(row.secrets)
        await close_and_deliver(client, TEAM_B)
    [sent] = fake.of("chat.postMessage")
    assert sent.token == f"Bearer {fake.workspaces.bot_token(TEAM_B)}"
    again = await reencrypt(store.url, [KEY, OLD_KEY])
    assert (again.changed, again.seen) == (0, 2)  # nothing left on the old key


async def close_and_deliver(client: TestClient, workspace: str) -> None:
    body = {"profile": "desk", "channel": "slack", "conversation_id": "D0CUST", "user_id": "UCUST001",
            "workspace": workspace}  # fmt: skip
    resp = await client.post("/api/v1/conversations/close", json=body, headers={"Authorization": f"Bearer {ADMIN}"})
    assert resp.status == 200
    await deliver(client)


async def _seed(url: str, key: str) -> None:
    store = Store(url)
    await store.migrate()
    box = SecretBox([key])
    installs = Installations(store, "slack", "desk", lambda: datetime.now(UTC))
    await installs.save(installs.new(TEAM_A, secrets=box.seal({"bot_token": "xoxb-seeded"}), details={}))
    await store.dispose()


async def _opened(url: str, key: str) -> str:
    store = Store(url)
    try:
        async with store.read() as conn:
            [row] = (await conn.execute(IN.select())).all()
        return SecretBox([key]).open(row.secrets)["bot_token"]
    finally:
        await store.dispose()


def test_npsbot_tokens_reencrypt_and_new_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'npsbot.db'}"
    run_sync(_seed(url, OLD_KEY))
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"database_url": url, **config({"oauth": OAUTH})}))
    monkeypatch.setenv("NPSBOT_TOKEN_KEYS", f"{KEY},{OLD_KEY}")
    assert _exit_code(["tokens", "reencrypt", "-c", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "1 of 1 stored installation(s) re-encrypted with the first key"
    assert run_sync(_opened(url, KEY)) == "xoxb-seeded"
    monkeypatch.setenv("NPSBOT_TOKEN_KEYS", new_key())  # KEY dropped before anything was re-encrypted to this one
    assert _exit_code(["tokens", "reencrypt", "--database", url]) == 1
    assert "1 open with none of the keys in NPSBOT_TOKEN_KEYS" in capsys.readouterr().out
    assert run_sync(_opened(url, KEY)) == "xoxb-seeded"  # left as it was
    monkeypatch.delenv("NPSBOT_TOKEN_KEYS")
    assert _exit_code(["tokens", "reencrypt", "--database", url]) == 2
    assert "NPSBOT_TOKEN_KEYS holds no key" in capsys.readouterr().err
    assert _exit_code(["tokens", "new-key"]) == 0
    assert key_problem(capsys.readouterr().out.strip()) is None
