"""The worker's chore that folds the report rollups' change logs into the rollups (core/store/rollup_fold.py) every
second or so, so the logs that reports add to the rollups stay short.

Every worker runs it; folds running side by side take disjoint batches and never count a change twice, so no lease
is needed. A fold that fails (the database restarted) leaves the log as it was, to be folded on the next turn.
"""

from __future__ import annotations

import asyncio
import logging

from core.store import Store
from core.store.rollup_fold import BATCH, fold_all

log = logging.getLogger(__name__)

EVERY = 1.0  # seconds between folds


class RollupFolder:
    def __init__(self, store: Store, every: float = EVERY, batch: int = BATCH) -> None:
        self.store = store
        self.every = every
        self.batch = batch

    async def run(self, stop: asyncio.Event) -> None:
        """Fold until the logs are empty, wait `every` seconds, again, until `stop`; once more on the way out."""
        while True:
            try:
                await fold_all(self.store, self.batch)
            except Exception:  # the worker goes on; what was not folded is folded on the next turn
                log.exception("rollup fold failed")
            if stop.is_set():
                return
            try:
                await asyncio.wait_for(stop.wait(), self.every)
            except TimeoutError:
                pass
