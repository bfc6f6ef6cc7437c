"""Discovery: phrases that recur in comments no theme matched, so an operator can turn them into themes.

Per language, the comments are read as one text by YAKE (statistical keyword extraction with its own stop lists;
Catalan takes the `stop-words` package's list, as YAKE ships none): a phrase of up to three words scores well when it
recurs, spreads over many comments and is not a stop word. Each candidate is then counted as the number of comments
that contain it, compared on the same word roots as theme matching (core/themes/matcher.py), so `charged twice` and
`charges twice` are one phrase. Phrases found in fewer than `min_comments` comments are dropped; the rest are ranked
by that count, then by YAKE's score.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import yake
from stop_words import get_stop_words

from core.themes.matcher import keys, language

CANDIDATES_PER_LANGUAGE = 150
EXAMPLE_WIDTH = 160


@dataclass(frozen=True, slots=True)
class Found:
    """One recurring phrase: how many comments contain it, in which language, and a few of them (shortened)."""

    phrase: str
    language: str
    comments: int
    score: float  # YAKE's: lower is more characteristic
    examples: tuple[str, ...]
    related: tuple[str, ...] = ()  # other phrases found in exactly the same comments

    def as_dict(self) -> dict[str, object]:
        return {
            "phrase": self.phrase,
            "language": self.language,
            "comments": self.comments,
            "score": round(self.score, 6),
            "examples": list(self.examples),
            "related": list(self.related),
        }


@lru_cache(maxsize=16)
def _extractor(lang: str) -> yake.KeywordExtractor:
    stopwords = set(get_stop_words("catalan")) if lang == "ca" else None
    return yake.KeywordExtractor(lan=lang, n=3, top=CANDIDATES_PER_LANGUAGE, dedup_lim=0.9, stopwords=stopwords)


def shorten(text: str, width: int = EXAMPLE_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _contains(comment: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(comment[i : i + n] == phrase for i in range(len(comment) - n + 1))


def discover(
    comments: Sequence[tuple[str, str]], *, top: int = 20, min_comments: int = 2, examples: int = 3
) -> list[Found]:
    """`comments` are (text, locale), newest first; the examples keep that order."""
    by_language: dict[str, list[str]] = {}
    for text, locale in comments:
        if text and text.strip():
            by_language.setdefault(language(locale), []).append(text)
    found: list[Found] = []
    for lang, texts in by_language.items():
        found += _in_language(lang, texts, min_comments, examples)
    found.sort(key=lambda f: (-f.comments, f.score, f.phrase))
    return found[:top]


def _in_language(lang: str, texts: list[str], min_comments: int, examples: int) -> list[Found]:
    # One comment per line, each closed as a sentence, so no phrase runs from one comment into the next.
    document = "\n".join(t.strip().rstrip(".!?…") + "." for t in texts)
    candidates = _extractor(lang).extract_keywords(document)
    read = [keys(t, lang) for t in texts]
    best: dict[tuple[str, ...], tuple[float, Counter[str]]] = {}
    for phrase, score in candidates:
        root = keys(phrase, lang)
        if not root or all(len(k) < 3 or k.isdigit() for k in root):
            continue
        previous = best.get(root)
        forms = previous[1] if previous else Counter()
        forms[phrase.casefold()] += 1
        best[root] = (min(score, previous[0]) if previous else score, forms)
    groups: dict[tuple[int, ...], list[tuple[tuple[str, ...], float, str]]] = {}
    for root, (score, forms) in best.items():
        hits = tuple(i for i, comment in enumerate(read) if _contains(comment, root))
        if len(hits) >= min_comments:
            groups.setdefault(hits, []).append((root, score, forms.most_common(1)[0][0]))
    out = []
    for hits, same in groups.items():
        # Phrases found in exactly the same comments are one finding: the longest (then best scored) names it.
        same.sort(key=lambda p: (-len(p[0]), p[1]))
        (_, score, phrase), others = same[0], same[1:]
        shown = tuple(shorten(texts[i]) for i in hits[:examples])
        out.append(Found(phrase, lang, len(hits), float(score), shown, tuple(p for _, _, p in others)))
    return out
