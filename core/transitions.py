"""One INFO line per survey state change, written once the change is committed, so an operator can follow a
survey without debug logs. It names ids, states and the skip reason only: never what the customer wrote, their
id or their name."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.survey import SkipReason, State, Survey

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Transition:
    survey_id: int | None
    profile: str
    channel: str
    old: State | None  # None: the survey was just created
    new: State
    skip_reason: SkipReason | None = None

    @classmethod
    def of(cls, old: Survey | None, new: Survey) -> Transition | None:
        """None when the state stays the same (a re-ask, a survey that only gained a field)."""
        if old is not None and old.state is new.state:
            return None
        a = new.address
        return cls(new.id, a.profile, a.channel, None if old is None else old.state, new.state, new.skip_reason)

    def log(self) -> None:
        reason = f" ({self.skip_reason})" if self.new is State.SKIPPED and self.skip_reason is not None else ""
        old = "new" if self.old is None else str(self.old)
        log.info("survey %s (%s/%s): %s -> %s%s", self.survey_id, self.profile, self.channel, old, self.new, reason)
