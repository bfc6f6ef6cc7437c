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

# Keys renamed after 0.1.0 so that "follow-up" means only the detractor claim / resolve loop: the question after
# the score is the comment question. Overrides under an old name are still read for one release, and check-config
# and start-up name each one with its new name.
RENAMED_KEYS: dict[str, str] = {
    "followup_promoter": "comment_question_promoter",
    "followup_passive": "comment_question_passive",
    "followup_detractor": "comment_question_detractor",
}


def current_key(key: str) -> str:
    """The key an override key stands for, old names included."""
    return RENAMED_KEYS.get(key, key)


def deprecated_keys(overrides: Mapping[str, Mapping[str, str]] | None) -> list[str]:
    """One hint per override key still under an old name, naming the new one."""
    hints = []
    for locale, texts in (overrides or {}).items():
        for key in texts if isinstance(texts, Mapping) else ():
            if key in RENAMED_KEYS:
                new = RENAMED_KEYS[key]
                unused = f"; unused, as {new} is set too" if new in texts else ""
                hints.append(f"messages.{locale}.{key}: deprecated key, rename it {new}{unused}")
    return hints


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
            if current_key(key) not in PLACEHOLDERS:
                problems.append(f"{where}: unknown message key (known: {', '.join(KEYS)})")
                continue
            try:
                unknown = placeholders(str(text)) - PLACEHOLDERS[current_key(key)]
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
                if current_key(key) not in PLACEHOLDERS:
                    raise ValueError(f"unknown message key {key!r} in overrides for locale {locale!r}")
        self._overrides: dict[str, dict[str, str]] = {}
        for loc, texts in (overrides or {}).items():  # 'pt-BR' overrides count for every Portuguese speaker
            mine = self._overrides.setdefault(language(loc), {})
            old = {RENAMED_KEYS[k]: v for k, v in texts.items() if k in RENAMED_KEYS}
            mine.update(old | {k: v for k, v in texts.items() if k not in RENAMED_KEYS})  # the new name wins
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
