"""A time zone named in config: an IANA name, checked when the config is read so a typo stops startup."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from core.schedules import zone


def known_zone(name: str) -> str:
    """The name unchanged; ValueError naming it when no such zone exists."""
    zone(name)
    return name


ZoneName = Annotated[str, AfterValidator(known_zone)]
