"""The digest's trend chart as PNG bytes: NPS per bucket with its 95 % band, and the benchmark when there is one.
matplotlib is imported inside the function (Agg, no display) so importing core stays light; the job calls it in a
worker thread."""

from __future__ import annotations

import io
from collections.abc import Sequence

from core.digest import TrendPoint
from core.digest_texts import text

WIDTH, HEIGHT, DPI = 6.4, 3.2, 100  # 640 × 320 pixels: readable in a chat, a few tens of KB


def trend_png(
    points: Sequence[TrendPoint], locale: str | None, bucket: str = "week", benchmark: float | None = None
) -> bytes | None:
    """None when no bucket has an NPS (nothing to draw)."""
    shown = [p for p in points if p.nps is not None]
    if not shown:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
    axes = figure.add_subplot()
    xs = list(range(len(shown)))
    axes.plot(xs, [p.nps for p in shown], marker="o", color="#1f6feb", label="NPS")
    banded = [(x, p) for x, p in zip(xs, shown, strict=True) if p.low is not None and p.high is not None]
    if banded:
        axes.fill_between(
            [x for x, _ in banded],
            [p.low for _, p in banded],
            [p.high for _, p in banded],
            color="#1f6feb",
            alpha=0.15,
            label=text("margin_band", locale),
        )
    if benchmark is not None:
        axes.axhline(benchmark, color="#d1242f", linestyle="--", label=text("benchmark_line", locale))
    axes.set_xticks(xs, [p.period[5:] for p in shown], fontsize=8)
    axes.set_ylim(-100, 100)
    axes.set_title(text("chart_title", locale, bucket=text(bucket, locale)), fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="lower left")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
