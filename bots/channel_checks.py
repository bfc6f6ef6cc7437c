"""Configuration checks a channel's own model can't make alone: an alert destination in the form its channel
reads, and token keys for a channel set to keep platform tokens in the database. Each channel's spec says what
it needs (adapters/spec.py); nothing here names a channel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from pydantic import BaseModel

from bots.channels import discover
from bots.token_keys import ENV


class Alert(Protocol):
    channel: str
    destination: str


class Profile(Protocol):
    channels: dict[str, BaseModel]


def alert_problems(alerts: Sequence[Alert], channels: Mapping[str, BaseModel], key: str = "alerts") -> list[str]:
    """`alerts[i].destination: …` (`key` names the list) for each destination its channel would not read."""
    specs = discover().specs
    problems = []
    for i, alert in enumerate(alerts):
        spec, config = specs.get(alert.channel), channels.get(alert.channel)
        if spec is None or config is None or spec.destination_problem is None:
            continue
        problem = spec.destination_problem(config, alert.destination)
        if problem:
            problems.append(f"{key}[{i}].destination: {problem}")
    return problems


def token_key_problems(profiles: Mapping[str, Profile], keys: Sequence[str]) -> list[str]:
    """A channel set to keep tokens in the database needs a key to seal them with: they are never stored in the
    clear."""
    if keys:
        return []
    specs = discover().specs
    problems = []
    for name, profile in profiles.items():
        for channel, config in profile.channels.items():
            spec = specs.get(channel)
            where = spec.stores_tokens(config) if spec is not None and spec.stores_tokens is not None else None
            if where:
                problems.append(
                    f"profiles.{name}.channels.{channel}.{where}: its tokens are stored encrypted and {ENV} holds "
                    "no key: set it to one or more Fernet keys, comma-separated, the first encrypting "
                    "(`npsbot tokens new-key` prints one)"
                )
    return problems
