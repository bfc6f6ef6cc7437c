"""The digest on the wire: the Slack fake receives the chart's bytes through files.getUploadURLExternal, the upload
URL and files.completeUploadExternal, with the text as the initial comment (as Slack documents the flow:
https://docs.slack.dev/reference/methods/files.getUploadURLExternal and
https://docs.slack.dev/reference/methods/files.completeUploadExternal); the Telegram fake receives sendPhoto as
multipart with the photo and its caption; a local SMTP server receives the mail with the chart inline, referenced
by its Content-ID; the webhook target receives a body signed with the profile's secret."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from adapters.email.channel import EmailChannel
from adapters.email.config import EmailConfig
from core.channel import Delivery
from core.delivery import DeliveryError, PermanentFailure, RetryLater
from core.store import Store
from core.types import Digest
from tests.digest_app import (
    CHAT,
    LEADS,
    MAILBOX,
    WHSEC,
    World,
    digest_rows,
    digest_world,
    seed_weeks,
    send_queued,
    smtp_server,
)
from tests.digest_world import UNTIL
from tests.webhook_signing import check

PNG = b"\x89PNG\r\n\x1a\n"


def sane_png(data: bytes) -> None:
    assert data[:8] == PNG and len(data) < 100_000
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (640, 320)


async def send_the_digest(world: World, clock) -> None:
    await seed_weeks(world, clock)
    await world.runtime.scheduler.run_due()  # registers digest:shop, due at the coming Monday
    clock.now = UNTIL
    done = await world.runtime.scheduler.run_due()
    assert done == {"digest:shop": {"messages": 4, "responses": 2}}
    refs = await send_queued(world)
    assert len(refs) == 4 and all(refs)


async def test_every_target_gets_the_digest_with_its_chart(store: Store, clock) -> None:
    async with digest_world(store, clock) as world:
        await send_the_digest(world, clock)
        rows = await digest_rows(store)
        assert sorted((r.channel, r.target["conversation_id"]) for r in rows) == [
            ("email", MAILBOX), ("slack", LEADS), ("telegram", str(CHAT)), ("webhook", world.receiver.url("/digest")),
        ]  # fmt: skip
        text = rows[0].payload["text"]
        assert "NPS +100,0 (2 respuestas, margen no estimable)" in text  # the profile's language, decimal comma

        # Slack: the three steps of files_upload_v2, the bytes at the upload URL, the text as the comment.
        [asked] = world.slack.of("files.getUploadURLExternal")
        [done] = world.slack.of("files.completeUploadExternal")
        file_id = done.params["files"][0]["id"]
        assert asked.params["filename"] == "nps-trend.png" and int(asked.params["length"]) == len(
            world.slack.uploads[file_id]
        )
        sane_png(world.slack.uploads[file_id])
        assert done.params["channel_id"] == LEADS and done.params["initial_comment"] == text
        assert done.token == "Bearer xoxb-test-token"

        # Telegram: one multipart sendPhoto with the photo's bytes and the text as its caption.
        [photo] = world.telegram.of("sendPhoto", CHAT)
        sane_png(photo.params["photo"])
        assert photo.params["caption"] == text and not world.telegram.of("sendMessage", CHAT)

        # Email: plain text and HTML alternatives, the chart inline by Content-ID.
        [(envelope, mail)] = world.mailbox.messages
        assert envelope.rcpt_tos == [MAILBOX] and mail["To"] == MAILBOX and mail["From"] == "npsbot@example.com"
        assert mail["Subject"].startswith("Resumen NPS de Shop")
        assert mail.get_content_type() == "multipart/alternative"
        plain, related = mail.get_payload()
        assert plain.get_content_type() == "text/plain" and plain.get_content().replace("\r\n", "\n").strip() == text
        assert related.get_content_type() == "multipart/related"
        html, image = related.get_payload()
        cid = image["Content-ID"].strip("<>")
        assert image.get_content_type() == "image/png" and f'src="cid:{cid}"' in html.get_content()
        sane_png(image.get_content())

        # Webhook: signed with the profile's webhook secret, the figures as JSON and the chart as base64.
        [(body, headers)] = [(r.body, r.headers) for r in world.receiver.at("/digest")]
        assert check(WHSEC, body, headers)
        sent = json.loads(body)
        assert sent["type"] == "digest" and sent["profile"] == "shop" and sent["text"] == text
        assert sent["figures"]["current"]["responses"] == 2 and sent["figures"]["benchmark"]["benchmark"] == 10
        sane_png(base64.b64decode(sent["image_png"]))


async def test_a_long_digest_goes_to_telegram_as_a_message_then_the_photo(store: Store, clock) -> None:
    async with digest_world(store, clock) as world:
        tg = world.runtime.channel("telegram", "shop")
        chart = base64.b64encode(await digest_png()).decode()
        long = "x" * 1500
        delivery = Delivery(1, "shop", "telegram", None, str(CHAT), "", None, "es", 1)
        await tg.send_digest(delivery, Digest(long, "Resumen", chart))
        [message] = world.telegram.of("sendMessage", CHAT)
        [photo] = world.telegram.of("sendPhoto", CHAT)
        assert message.params["text"] == long and "caption" not in photo.params
        sane_png(photo.params["photo"])


async def digest_png() -> bytes:
    from core.digest import TrendPoint
    from core.digest_chart import trend_png

    png = trend_png([TrendPoint("2026-03-02", 10.0, -20.0, 40.0, 9)], "es")
    assert png is not None
    return png


async def test_a_webhook_digest_to_an_unlisted_url_is_refused(store: Store, clock) -> None:
    async with digest_world(store, clock) as world:
        hook = world.runtime.channel("webhook", "shop")
        delivery = Delivery(1, "shop", "webhook", None, "https://elsewhere.example/x", "", None, "es", 1)
        with pytest.raises(PermanentFailure, match="not a configured digest target"):
            await hook.send_digest(delivery, Digest("t", "s"))
        assert world.receiver.at("/digest") == []


@pytest.mark.parametrize(
    ("reply", "error"),
    [("451 4.3.0 Try again later", RetryLater), ("550 5.1.1 No such mailbox", PermanentFailure)],
)
async def test_smtp_answers_map_onto_the_workers_errors(reply: str, error: type[DeliveryError]) -> None:
    async with smtp_server() as (mailbox, port):
        mailbox.refuse = reply
        config = EmailConfig(host="127.0.0.1", port=port, security="none", from_address="npsbot@example.com")
        delivery = Delivery(7, "shop", "email", None, MAILBOX, "", None, "en", 1)
        with pytest.raises(error) as raised:
            await EmailChannel("shop", config).send_digest(delivery, Digest("text", "subject"))
        assert type(raised.value) is error and MAILBOX not in str(raised.value)  # no address in the stored error
        assert mailbox.messages == []


async def test_no_smtp_server_is_a_retry() -> None:
    async with smtp_server() as (_, port):
        pass  # closed again: nothing listens there now
    config = EmailConfig(host="127.0.0.1", port=port, security="none", from_address="npsbot@example.com", timeout=5)
    delivery = Delivery(7, "shop", "email", None, MAILBOX, "", None, "en", 1)
    with pytest.raises(DeliveryError) as raised:
        await EmailChannel("shop", config).send_digest(delivery, Digest("text", "subject"))
    assert not isinstance(raised.value, PermanentFailure)
