"""Parser bench: `interpret()` on everyday replies and on long adversarial ones, next to a bare baseline (one
Unicode normalisation pass, `unicodedata.normalize("NFKC", text).casefold()`, which any reading of the text needs)
in the same run. Every comment goes through the parser on the request path, so a long input must grow linearly:
the `growth` column is the cost at 4000 characters over the cost at 1000 (about 4 when linear, 16 when quadratic).

    python -m bench.parser_bench
"""

from __future__ import annotations

import timeit
import unicodedata
from collections.abc import Callable

from core.replies import interpret

EVERYDAY = ["9", "9/10", "10!!", "score: 8", "nueve", "🔟", "７", "7 or 8", "stop", "The agent was quick, thanks"]
LONG = {
    "digits": "1",
    "'1 ' repeated": "1 ",
    "'9/' repeated": "9/",
    "keycap 10 repeated": "🔟",
    "'nine out of ' repeated": "nine out of ",
    "a plain comment": "Support took two days to answer and then closed my ticket. ",
    "U+FDFA (×18 under NFKC)": "\ufdfa",
}


def bare(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def best_us(fn: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def sized(unit: str, chars: int) -> str:
    return (unit * (chars // len(unit) + 1))[:chars]


def main() -> None:
    base = best_us(lambda: [bare(t) for t in EVERYDAY], 2000)
    ours = best_us(lambda: [interpret(t) for t in EVERYDAY], 2000)
    print(f"everyday replies ({len(EVERYDAY)}): baseline {base:.1f} µs, interpret {ours:.1f} µs, ×{ours / base:.0f}")
    header = ("long input", "baseline µs", "1000 chars µs", "4000 chars µs", "ratio", "growth")
    print("{:<26} {:>12} {:>14} {:>14} {:>7} {:>7}".format(*header))
    for name, unit in LONG.items():
        short, long = sized(unit, 1000), sized(unit, 4000)
        b = best_us(lambda long=long: bare(long), 50)
        t1 = best_us(lambda short=short: interpret(short), 50)
        t4 = best_us(lambda long=long: interpret(long), 50)
        print(f"{name:<26} {b:>12.1f} {t1:>14.1f} {t4:>14.1f} {t4 / b:>7.0f} {t4 / t1:>7.1f}")


if __name__ == "__main__":
    main()
