"""Telegram updates shaped like the real ones (see shared/payloads), with is_bot and chat_instance filled in."""

from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count(700000)
_msg_ids = itertools.count(50)


def user(uid: int, first: str = "Cus", lang: str | None = "en", is_bot: bool = False) -> dict[str, Any]:
    u: dict[str, Any] = {"id": uid, "is_bot": is_bot, "first_name": first, "last_name": "Tomer", "username": f"u{uid}"}
    if lang:
        u["language_code"] = lang
    return u


def chat(cid: int, kind: str | None = None, title: str = "Support") -> dict[str, Any]:
    kind = kind or ("private" if cid > 0 else "supergroup")
    c: dict[str, Any] = {"id": cid, "type": kind}
    if kind == "private":
        c.update(first_name="Cus", username=f"u{cid}")
    else:
        c["title"] = title
    return c


def message(
    chat_id: int,
    sender: dict[str, Any],
    text: str | None = None,
    *,
    reply_to: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    m: dict[str, Any] = {"message_id": next(_msg_ids), "date": 1767225600, "chat": chat(chat_id), "from": sender}
    if text is not None:
        m["text"] = text
        if text.startswith("/"):
            m["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
    if reply_to is not None:
        m["reply_to_message"] = reply_to
    m.update(extra)
    return m


def update(**payload: Any) -> dict[str, Any]:
    return {"update_id": next(_ids), **payload}


def text_update(chat_id: int, sender: dict[str, Any], text: str, **extra: Any) -> dict[str, Any]:
    return update(message=message(chat_id, sender, text, **extra))


def callback_update(
    sender: dict[str, Any],
    chat_id: int,
    message_id: int,
    data: str,
    *,
    text: str = "How likely…",
    markup: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A tap on a keyboard the bot sent: the update carries that message as Telegram holds it."""
    bot_msg: dict[str, Any] = {
        "message_id": message_id,
        "date": 1767225600,
        "chat": chat(chat_id),
        "from": user(123456, "NPS", None, is_bot=True),
        "text": text,
    }
    if markup is not None:
        bot_msg["reply_markup"] = markup
    return update(
        callback_query={
            "id": f"cq{next(_ids)}",
            "from": sender,
            "message": bot_msg,
            "chat_instance": "-5368800000000000000",
            "data": data,
        }
    )


def kicked_update(customer: dict[str, Any]) -> dict[str, Any]:
    bot = user(123456, "NPS", None, is_bot=True)
    return update(
        my_chat_member={
            "chat": chat(customer["id"]),
            "from": customer,
            "date": 1767225600,
            "old_chat_member": {"status": "member", "user": bot},
            "new_chat_member": {"status": "kicked", "user": bot, "until_date": 0},
        }
    )


def inline_callback_update() -> dict[str, Any]:
    """shared/payloads/telegram_update_callback_query.json as sent, plus the required is_bot and chat_instance."""
    return {
        "update_id": next(_ids),
        "callback_query": {
            "id": "4382bfdwdsb323b2d9",
            "from": {
                "last_name": "Test Lastname",
                "type": "private",
                "id": 1111111,
                "is_bot": False,
                "first_name": "Test Firstname",
                "username": "Testusername",
            },
            "chat_instance": "-5368800000000000001",
            "data": "Data from button callback",
            "inline_message_id": "1234csdbsk4839",
        },
    }
