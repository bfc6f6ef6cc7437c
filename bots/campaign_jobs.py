"""The relational campaigns of every profile as jobs on the stored schedule (core/campaign_run.py)."""

from __future__ import annotations

from typing import Any

from core.campaign_run import campaign_jobs_for
from core.scheduler import ScheduledJob


def campaign_jobs(runtime: Any) -> list[ScheduledJob]:
    service = runtime.service
    return list(campaign_jobs_for(runtime.store, runtime.profiles, service.clock, service.suppression))
