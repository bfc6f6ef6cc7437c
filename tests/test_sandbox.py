"""One set of wire-level fakes (bots/sandbox) for the demo and the tests: the platforms' signatures are made in one
place and match the platforms' published examples, and no test grows a fake platform server of its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bots.sandbox.signing import slack_headers, standard_webhook, standard_webhook_valid

ROOT = Path(__file__).resolve().parent.parent
FAKES = {"LocalServer", "FakeBridge", "FakeSlack", "FakeTelegram", "FakeGraph"}

# https://api.slack.com/authentication/verifying-requests-from-slack, the worked example.
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
# The Standard Webhooks reference vector.
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_slack_signature_is_slacks_worked_example() -> None:
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert slack_headers(SLACK_SECRET, SLACK_BODY, 1531420618) == {
        "X-Slack-Request-Timestamp": "1531420618",
        "X-Slack-Signature": expected,
    }
    assert slack_headers(SLACK_SECRET, SLACK_BODY.encode(), 1531420618)["X-Slack-Signature"] == expected


def test_standard_webhooks_signature_is_the_reference_vector_and_is_checked_like_a_receiver() -> None:
    body, headers = standard_webhook(
        WHSEC, b'{"test": 2432232314}', msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek", ts=1614265330
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert standard_webhook_valid(WHSEC, body, headers)
    rotated = {**headers, "webhook-signature": "v1,bm90IHRoaXMgb25l " + headers["webhook-signature"]}
    assert standard_webhook_valid(WHSEC, body, rotated)  # one of several signatures is enough
    assert not standard_webhook_valid("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ==", body, headers)
    assert not standard_webhook_valid(WHSEC, body + b" ", headers)


def _signing_candidates() -> list[Path]:
    """Everything that could sign a request: tests, benches and the sandbox (the adapters verify, they don't sign)."""
    paths = [
        *(ROOT / "tests").rglob("*.py"),
        *(ROOT / "bench").rglob("*.py"),
        *(ROOT / "bots" / "sandbox").rglob("*.py"),
    ]
    return sorted(p for p in paths if p.name != "signing.py")


def _base_name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


@pytest.mark.parametrize("path", _signing_candidates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_requests_are_signed_only_by_the_sandbox(path: Path) -> None:
    """A second copy of a platform's signing would drift from the first; HMACs over requests live in one module."""
    calls = [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "new"
        and _base_name(node.func.value) == "hmac"
    ]
    assert not calls, f"{path.relative_to(ROOT)} computes an HMAC on line(s) {calls}: sign with bots.sandbox.signing"


@pytest.mark.parametrize("path", sorted((ROOT / "tests").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_test_module_builds_its_own_platform_fake(path: Path) -> None:
    """A test that needs a platform to behave differently tells the sandbox fake so (`fail`, `misbehave`,
    `lasting_errors`, …) rather than deriving a fake of its own."""
    derived = [
        node.name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef) and {_base_name(b) for b in node.bases} & FAKES
    ]
    assert not derived, f"{path.relative_to(ROOT)} derives {derived} from a sandbox fake"
