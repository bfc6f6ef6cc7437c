"""Theme matching on word roots, so inflected forms, accents and case never hide a mention.

Every word, of a comment and of a keyword alike, becomes one key: its lemma (simplemma's offline dictionaries for
the language) reduced to its Snowball stem, casefolded and without accents. The lemma joins forms of one word
(`charged`, `charges` → `charge`; `cobraron` → `cobrar`); the stem then joins the words of one family that a
dictionary keeps apart (`cobro` and `cobrar` → `cobr`; `factura` and `facturar` → `factur`). A keyword of several
words matches the same keys in a row. Words are whole tokens, so `charge` never matches inside `surcharge`.
A negated mention ("no refund") is still a mention of the theme: matching reads words, not sentiment.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import simplemma
import snowballstemmer

# The languages npsbot ships texts in, each with its Snowball stemmer (simplemma uses the same ISO 639-1 codes).
STEMMERS: dict[str, str] = {
    "en": "english", "es": "spanish", "ca": "catalan", "it": "italian", "pt": "portuguese", "fr": "french",
    "de": "german",
}  # fmt: skip
LANGUAGES: tuple[str, ...] = tuple(STEMMERS)
THEME_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
MAX_TEXT = 4000  # a comment longer than this is read up to here (as the score parser does)
_WORD = re.compile(r"[^\W_]+")  # letters and digits; apostrophes and hyphens split (l'app → l, app; e-mail → e, mail)


def language(locale: str | None) -> str:
    """The language part of a locale code ('pt-BR' → 'pt'); anything else reads as English."""
    base = (locale or "").strip().replace("_", "-").split("-")[0].lower()
    return base if base in STEMMERS else "en"


def fold(text: str) -> str:
    """Casefolded and without accents: `Facturé` and `facture` read alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The words of a text, as written."""
    return _WORD.findall(unicodedata.normalize("NFC", text[:MAX_TEXT]))


@lru_cache(maxsize=1)
def _stemmers() -> dict[str, snowballstemmer.stemmer]:
    return {code: snowballstemmer.stemmer(name) for code, name in STEMMERS.items()}


@lru_cache(maxsize=200_000)
def key(word: str, lang: str) -> str:
    """One word's key in a language: lemma, then stem, then folded. Cached: comments repeat their words."""
    lemma = simplemma.lemmatize(word, lang=lang)
    return fold(_stemmers()[lang].stemWord(lemma.casefold()))


def keys(text: str, lang: str) -> tuple[str, ...]:
    return tuple(key(w, lang) for w in words(text))


Taxonomy = Mapping[str, Mapping[str, Sequence[str]]]  # theme → language → keywords (words or phrases)


@dataclass(frozen=True, slots=True)
class ThemeMatcher:
    """A profile's themes, ready to match. Equal (and hashable) by the taxonomy it was built from."""

    taxonomy: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = ()
    # language → first key → [(keys of a keyword, theme)], longest keyword first
    _index: dict[str, dict[str, list[tuple[tuple[str, ...], str]]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def of(cls, themes: Taxonomy) -> ThemeMatcher:
        frozen = tuple(
            (theme, tuple((lang, tuple(phrases)) for lang, phrases in sorted(by_lang.items())))
            for theme, by_lang in sorted(themes.items())
        )
        matcher = cls(frozen)
        for theme, by_lang in frozen:
            for lang, phrases in by_lang:
                index = matcher._index.setdefault(language(lang), {})
                for phrase in phrases:
                    phrase_keys = keys(phrase, language(lang))
                    if phrase_keys:
                        index.setdefault(phrase_keys[0], []).append((phrase_keys, theme))
        for index in matcher._index.values():
            for entries in index.values():
                entries.sort(key=lambda e: -len(e[0]))
        return matcher

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(theme for theme, _ in self.taxonomy)

    def __bool__(self) -> bool:
        return bool(self.taxonomy)

    def match(self, text: str | None, locale: str | None) -> tuple[str, ...]:
        """The themes a comment mentions (sorted), read in the survey's language."""
        if not text:
            return ()
        index = self._index.get(language(locale))
        if not index:
            return ()
        found: set[str] = set()
        comment = keys(text, language(locale))
        for i, first in enumerate(comment):
            for phrase, theme in index.get(first, ()):
                if theme not in found and comment[i : i + len(phrase)] == phrase:
                    found.add(theme)
        return tuple(sorted(found))


EMPTY = ThemeMatcher()


def problems(themes: object) -> list[str]:
    """What is wrong with a `themes:` mapping, one line per problem, each starting with its key path below
    `themes` (e.g. `billing.xx: unknown language ...`)."""
    if not isinstance(themes, Mapping):
        return ["(root): expected a mapping of theme name → {language: [keywords]}"]
    out: list[str] = []
    for theme, by_lang in themes.items():
        if not isinstance(theme, str) or not THEME_NAME.fullmatch(theme):
            out.append(f"{theme}: theme names are lowercase letters, digits, - or _ (at most 64), e.g. billing")
            continue
        if not isinstance(by_lang, Mapping) or not by_lang:
            out.append(f"{theme}: expected keywords per language, e.g. {{en: [refund], es: [reembolso]}}")
            continue
        for lang, phrases in by_lang.items():
            where = f"{theme}.{lang}"
            if lang not in STEMMERS:
                out.append(f"{where}: unknown language {lang!r}; themes match in {', '.join(LANGUAGES)}")
            elif not isinstance(phrases, list) or not phrases:
                out.append(f"{where}: expected a non-empty list of keywords")
            else:
                for i, phrase in enumerate(phrases):
                    if not isinstance(phrase, str) or not words(phrase):
                        out.append(f"{where}[{i}]: expected a word or phrase, got {phrase!r}")
                    elif len(phrase) > 200:
                        out.append(f"{where}[{i}]: at most 200 characters")
    return out
