"""The operator API under /api/v1 (bearer tokens): close or reopen conversations on any channel, read
responses, NPS and dead letters, and work the detractor follow-up."""

from bots.api.routes import api_routes

__all__ = ["api_routes"]
