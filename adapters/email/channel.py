"""Digests by email: a multipart/alternative message, plain text and an HTML part that shows the trend chart inline
(multipart/related, the image referenced by its Content-ID), sent with aiosmtplib. SMTP's answer classes map onto
the worker's errors: 4xx is temporary (retried later), 5xx is final."""

from __future__ import annotations

import base64
import html
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from adapters.email.config import NAME, EmailConfig
from adapters.spec import Channel
from core.channel import Delivery
from core.delivery import DeliveryError, PermanentFailure, RetryLater
from core.ratelimit import Limit, Rate
from core.types import Digest, Say


def digest_message(action: Digest, sender: str, to: str, message_id: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"], msg["Message-ID"] = action.subject, sender, to, message_id
    msg.set_content(action.text)
    cid = make_msgid(domain="npsbot.digest")
    image = f'<p><img src="cid:{cid[1:-1]}" alt="{html.escape(action.subject)}"></p>' if action.image_png else ""
    body = "<br>\n".join(html.escape(line) for line in action.text.split("\n"))
    msg.add_alternative(f"<html><body><p>{body}</p>{image}</body></html>", subtype="html")
    if action.image_png:
        html_part = msg.get_payload()[1]  # type: ignore[index]
        png = base64.b64decode(action.image_png)
        html_part.add_related(png, "image", "png", cid=cid, filename=action.image_name)
    return msg


class EmailChannel(Channel):
    name = NAME

    def __init__(self, profile: str, config: EmailConfig) -> None:
        self.profile, self.config = profile, config
        self.rate = Rate(config.rate_per_second, burst=max(1, int(config.rate_per_second)))

    def rate_limits(self, delivery: Delivery) -> list[Limit]:
        return [(f"email:{self.config.host}", self.rate)]

    async def say(self, delivery: Delivery, action: Say) -> str | None:
        raise PermanentFailure("the email channel sends digests only")

    async def send_digest(self, delivery: Delivery, action: Digest) -> str | None:
        c = self.config
        # The same Message-ID on every retry: a receiving server that took the first attempt can drop the second.
        message_id = f"<digest-{delivery.id}.{self.profile}@npsbot>"
        msg = digest_message(action, c.from_address, delivery.conversation_id, message_id)
        try:
            await aiosmtplib.send(
                msg,
                hostname=c.host,
                port=c.effective_port,
                username=c.username if c.password else None,  # no password (an empty ${VAR}): no login
                password=c.password or None,
                use_tls=c.security == "tls",
                start_tls=c.security == "starttls",
                timeout=c.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise _by_code(min(r.code for r in exc.recipients), "recipient refused") from None
        except aiosmtplib.SMTPResponseException as exc:
            raise _by_code(exc.code, type(exc).__name__) from None
        except (aiosmtplib.SMTPException, OSError) as exc:  # no connection, a timeout, a dropped session
            raise DeliveryError(f"SMTP: {type(exc).__name__}") from None
        return message_id


def _by_code(code: int, what: str) -> DeliveryError:
    """Only the code and its class: the server's text may quote the address."""
    if 400 <= code < 500:
        return RetryLater(f"SMTP {code} {what}")
    if code >= 500:
        return PermanentFailure(f"SMTP {code} {what}")
    return DeliveryError(f"SMTP {code} {what}")
