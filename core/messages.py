"""The message catalogue: built-in texts in seven languages, operator overrides per locale, safe formatting."""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping

from core.catalog_texts import TEXTS

LOCALES: tuple[str, ...] = ("en", "es", "ca", "it", "pt", "fr", "de")
KEYS: tuple[str, ...] = tuple(TEXTS["en"])


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


PLACEHOLDERS: dict[str, frozenset[str]] = {key: frozenset(placeholders(TEXTS["en"][key])) for key in KEYS}


def normalize_locale(code: str | None, supported: Iterable[str] = LOCALES, default: str = "en") -> str:
    """'pt-BR' → 'pt', 'es_419' → 'es'; unknown or empty → default."""
    if not code:
        return default
    base = language(code)
    return base if base in tuple(supported) else default


def language(code: str) -> str:
    """The language part of a locale code: texts are chosen per language, so 'pt-BR' and 'pt' are one."""
    return code.strip().replace("_", "-").split("-")[0].lower()


class _Keep(dict):
    """format_map mapping that leaves unknown placeholders as they were instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def validate_overrides(overrides: Mapping[str, Mapping[str, str]] | None) -> list[str]:
    """Human-readable problems in operator overrides, each naming messages.<locale>.<key>."""
    problems: list[str] = []
    for locale, texts in (overrides or {}).items():
        if not isinstance(texts, Mapping):
            problems.append(f"messages.{locale}: expected a mapping of key: text")
            continue
        for key, text in texts.items():
            where = f"messages.{locale}.{key}"
            if key not in PLACEHOLDERS:
                problems.append(f"{where}: unknown message key (known: {', '.join(KEYS)})")
                continue
            try:
                unknown = placeholders(str(text)) - PLACEHOLDERS[key]
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
                continue
            for name in sorted(unknown):
                problems.append(f"{where}: unknown placeholder {{{name}}}")
    return problems


class MessageCatalog:
    def __init__(self, overrides: Mapping[str, Mapping[str, str]] | None = None, default_locale: str = "en") -> None:
        for locale, texts in (overrides or {}).items():
            for key in texts:
                if key not in PLACEHOLDERS:
                    raise ValueError(f"unknown message key {key!r} in overrides for locale {locale!r}")
        self._overrides: dict[str, dict[str, str]] = {}
        for loc, texts in (overrides or {}).items():  # 'pt-BR' overrides count for every Portuguese speaker
            self._overrides.setdefault(language(loc), {}).update(texts)
        self.default_locale = language(default_locale) or "en"

    def locales(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*LOCALES, *self._overrides]))

    def _lookup(self, key: str, locale: str) -> str | None:
        return self._overrides.get(locale, {}).get(key) or TEXTS.get(locale, {}).get(key)

    def text(self, key: str, locale: str | None, **values: object) -> str:
        """Override first, then built-in; falls back to the default locale, then English."""
        if key not in PLACEHOLDERS:
            raise KeyError(key)
        chosen = normalize_locale(locale, self.locales(), self.default_locale)
        for candidate in (chosen, self.default_locale, "en"):
            template = self._lookup(key, candidate)
            if template is not None:
                return template.format_map(_Keep(values))
        raise KeyError(key)
