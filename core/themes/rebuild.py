"""Re-assigning the themes of past comments after a profile's taxonomy changed.

Responses are read in id order, a batch at a time (keyset: each batch starts after the last id of the one before,
so a deep batch costs what the first does), and each batch's themes are replaced in a short transaction of its own:
the live server keeps writing meanwhile, and an interrupted rebuild is simply run again. Running it twice changes
nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.store import Store
from core.store import themes as stored
from core.themes.matcher import ThemeMatcher

BATCH = 500


@dataclass(frozen=True, slots=True)
class Rebuilt:
    responses: int  # responses with a comment read
    matched: int  # of which mention at least one theme
    rows: int  # (response, theme) pairs stored
    dropped: int  # rows of themes no longer in the taxonomy, removed first


async def count(store: Store, profile: str) -> int:
    """How many responses of the profile have a comment (the rebuild's total, for a progress bar)."""
    async with store.read() as conn:
        return await stored.count_commented(conn, profile)


async def rebuild(
    store: Store,
    profile: str,
    matcher: ThemeMatcher,
    *,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> Rebuilt:
    """Match every comment of `profile` again and store what it mentions; `progress(n)` after each batch of n."""
    async with store.transaction() as conn:
        dropped = await stored.drop_unknown(conn, profile, matcher.names)
    after, responses, matched, rows = 0, 0, 0, 0
    while True:
        async with store.read() as conn:
            page = await stored.commented_after(conn, after, batch, profile)
        if not page:
            break
        assigned = [(item, matcher.match(item.comment, item.locale)) for item in page]
        async with store.transaction() as conn:
            rows += await stored.replace_themes(conn, assigned)
        responses += len(page)
        matched += sum(1 for _, themes in assigned if themes)
        after = page[-1].id
        if progress is not None:
            progress(len(page))
    return Rebuilt(responses, matched, rows, dropped)
