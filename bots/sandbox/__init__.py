"""Local stand-ins for the Telegram Bot API, the Slack Web API and a webhook bridge, each an aiohttp server on
127.0.0.1 that records every call and answers the way the real service does (and can be told to fail).

`npsbot demo` points the real adapters at them so the whole loop runs with no tokens and no network, and the
tests use them to check what the adapters send. They are not for production.
"""
