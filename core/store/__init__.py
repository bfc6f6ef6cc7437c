"""Persistence: the engine, the tables and the queries. Nothing outside this package builds SQL sessions."""

from core.store.engine import Store, normalize_url

__all__ = ["Store", "normalize_url"]
