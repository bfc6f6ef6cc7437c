"""The few words the WhatsApp question needs beyond core's catalogue: the list's button (at most 20 characters)
and the body of the second step. Built in for the seven languages npsbot ships; `labels:` in the channel's config
adds or replaces a language."""

from __future__ import annotations

from collections.abc import Mapping

from adapters.whatsapp.config import Labels
from core.messages import language

BUILT_IN: dict[str, Labels] = {
    "en": Labels(choose="Choose a score", pick="Which one is it?"),
    "es": Labels(choose="Elegir puntuación", pick="¿Cuál de los dos?"),
    "ca": Labels(choose="Triar puntuació", pick="Quin dels dos?"),
    "it": Labels(choose="Scegli un punteggio", pick="Quale dei due?"),
    "pt": Labels(choose="Escolher nota", pick="Qual dos dois?"),
    "fr": Labels(choose="Choisir une note", pick="Lequel des deux ?"),
    "de": Labels(choose="Bewertung wählen", pick="Welche der beiden?"),
}


def labels(locale: str | None, default_locale: str, configured: Mapping[str, Labels]) -> Labels:
    """The survey's language first, then the profile's, then English; configured words before built-in ones."""
    mine = {language(k): v for k, v in configured.items()}
    for candidate in (locale, default_locale, "en"):
        if not candidate:
            continue
        lang = language(candidate)
        found = mine.get(lang) or BUILT_IN.get(lang)
        if found is not None:
            return found
    return BUILT_IN["en"]
