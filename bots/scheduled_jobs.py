"""The jobs the worker runs on a stored schedule, built from the configuration: each kind of job (relational
campaigns, digests) contributes a builder here, called with the Runtime being built (its config, service, store
and senders are ready; the builder must not start anything)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bots.campaign_jobs import campaign_jobs
from bots.digest_jobs import digest_jobs
from core.scheduler import ScheduledJob

JobBuilder = Callable[[Any], list[ScheduledJob]]
BUILDERS: list[JobBuilder] = [campaign_jobs, digest_jobs]


def scheduled_jobs(runtime: Any) -> list[ScheduledJob]:
    return [job for build in BUILDERS for job in build(runtime)]
