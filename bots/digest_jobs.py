"""Each profile with a `digest:` gets one scheduled job, `digest:<profile>` (core/digest_job.py)."""

from __future__ import annotations

from typing import Any

from core.digest_job import DigestJob
from core.scheduler import ScheduledJob


def digest_jobs(runtime: Any) -> list[ScheduledJob]:
    minimum = runtime.config.report.min_responses
    return [
        DigestJob(runtime.store, settings, runtime.service.clock, minimum)
        for settings in runtime.profiles.values()
        if settings.digest is not None
    ]
