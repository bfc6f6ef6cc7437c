"""Standard Webhooks signing for tests, as a sender signs and a receiver checks: the sandbox's own
(bots/sandbox/signing.py), written independently of adapters.webhook.signing and shared with the demo."""

from bots.sandbox.signing import standard_webhook as signed
from bots.sandbox.signing import standard_webhook_valid as check

__all__ = ["check", "signed"]
