"""The in-process channel (tests, the demo and an opt-in trial endpoint)."""

from adapters.memory.channel import TRIAL_EVENTS, Delivered, MemoryChannel, http_routes

__all__ = ["TRIAL_EVENTS", "Delivered", "MemoryChannel", "http_routes"]
