"""The message catalogue: every key in every language, placeholders intact, overrides and fallbacks."""

import string

import pytest

from core.catalog_texts import TEXTS
from core.messages import KEYS, LOCALES, PLACEHOLDERS, MessageCatalog, normalize_locale, validate_overrides


def names(text: str) -> set[str]:
    return {n for _, n, _, _ in string.Formatter().parse(text) if n}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_key_in_every_locale_with_the_same_placeholders(locale: str) -> None:
    assert set(TEXTS[locale]) == set(KEYS)
    for key in KEYS:
        text = TEXTS[locale][key]
        assert text.strip(), (locale, key)
        assert names(text) == PLACEHOLDERS[key], (locale, key)
        if locale != "en" and len(TEXTS["en"][key]) > 12 and key != "detractor_alert":
            assert text != TEXTS["en"][key], f"{locale}.{key} looks untranslated"


@pytest.mark.parametrize(
    ("code", "expected"), [("pt-BR", "pt"), ("es_419", "es"), ("EN-us", "en"), (None, "en"), ("", "en"), ("xx", "en")]
)
def test_normalize_locale(code: str | None, expected: str) -> None:
    assert normalize_locale(code) == expected


def test_overrides_fallbacks_and_safe_formatting() -> None:
    catalog = MessageCatalog({"es": {"thanks": "¡Mil gracias!"}, "nl": {"thanks": "Bedankt!"}}, default_locale="ca")
    assert catalog.text("thanks", "es-ES") == "¡Mil gracias!"
    assert catalog.text("thanks", "nl") == "Bedankt!"
    assert catalog.text("reask", "nl") == TEXTS["ca"]["reask"]  # missing in nl → the profile default
    assert catalog.text("thanks", None) == TEXTS["ca"]["thanks"]
    assert catalog.text("optout_confirm", "en") == "Understood. You won't receive more surveys from {brand}."
    assert catalog.text("your_score", "fr", score=7) == "Vous avez choisi 7"
    with pytest.raises(KeyError):
        catalog.text("nope", "en")
    with pytest.raises(ValueError, match="thankz"):
        MessageCatalog({"es": {"thankz": "x"}})


def test_validate_overrides_names_the_problem() -> None:
    problems = validate_overrides({"es": {"thankz": "x", "thanks": "Gracias {name}"}})
    assert "messages.es.thankz: unknown message key" in problems[0]
    assert problems[1] == "messages.es.thanks: unknown placeholder {name}"
    assert validate_overrides({"de": {"question": "Wie wahrscheinlich empfehlen Sie {brand}?"}}) == []


def test_regional_override_keys_count_for_their_language() -> None:
    catalog = MessageCatalog({"pt-BR": {"thanks": "Valeu!"}, "PT": {"reask": "Um número, por favor."}})
    assert catalog.text("thanks", "pt") == catalog.text("thanks", "pt-PT") == "Valeu!"
    assert catalog.text("reask", "pt_BR") == "Um número, por favor."
    assert catalog.text("thanks", "es") == TEXTS["es"]["thanks"]  # other languages keep their own text
    assert MessageCatalog(default_locale="de-AT").text("thanks", None) == TEXTS["de"]["thanks"]


@pytest.mark.parametrize("locale", LOCALES)
def test_every_text_the_survey_sends_is_in_every_language(locale: str) -> None:
    catalog = MessageCatalog()
    asked = ("comment_question_promoter", "comment_question_passive", "comment_question_detractor")
    for key in ("question", *asked, "reask", "thanks"):
        text = catalog.text(key, locale, brand="Acme", score=9)
        assert "{" not in text and text == TEXTS[locale][key].format(brand="Acme", score=9)
    assert "Acme" in catalog.text("optout_confirm", locale, brand="Acme")
