"""Chatwoot channel: a conversation resolved in Chatwoot gets a survey in the same conversation."""

from adapters.chatwoot.channel import ChatwootChannel

__all__ = ["ChatwootChannel"]
