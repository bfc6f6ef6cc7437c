"""Local stand-ins for the Telegram Bot API, the Slack Web API, Meta's Graph API (WhatsApp, Messenger, Instagram) and a
webhook bridge (which also plays Chatwoot's API), each an aiohttp server on 127.0.0.1 that records every call and
answers the way the real service does, and can be told to fail like it or to misbehave unlike it; `signing`, which
signs requests as the platforms sign them; and the customers who write to them (`customers`, `meta_customers`).

`npsbot demo` points the real adapters at them so the whole loop runs with no tokens and no network, and the
tests use the same fakes to check what the adapters send. They are not for production.
"""
