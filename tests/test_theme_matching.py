"""Theme matching in every shipped language: inflected forms, accents, case, negation, phrases, several themes at
once, and no match inside a longer word."""

from __future__ import annotations

import pytest

from core.themes.matcher import LANGUAGES, ThemeMatcher, key, problems

TAXONOMY = {
    "billing": {
        "en": ["charge", "invoice", "refund"],
        "es": ["cobro", "factura", "reembolso"],
        "ca": ["cobrament", "factura", "reemborsament"],
        "it": ["addebito", "fattura", "rimborso"],
        "pt": ["cobrança", "cobrar", "fatura", "reembolso"],  # no stem joins cobrança to cobrar: both are listed
        "fr": ["prélèvement", "facture", "remboursement"],
        "de": ["Abbuchung", "Rechnung", "Erstattung"],
    },
    "wait": {
        "en": ["slow", "waiting time"],
        "es": ["lento", "tiempo de espera"],
        "ca": ["lent", "temps d'espera"],
        "it": ["lento", "tempo di attesa"],
        "pt": ["lento", "tempo de espera"],
        "fr": ["lent", "temps d'attente"],
        "de": ["langsam", "Wartezeit"],
    },
    "staff": {"en": ["customer service", "agent"], "es": ["atención al cliente"], "de": ["Kundenservice"]},
}
MATCHER = ThemeMatcher.of(TAXONOMY)

CASES = [
    # (locale, comment, themes) — inflections, accents and case
    ("en", "They charged me twice", {"billing"}),
    ("en", "Two CHARGES on one invoice", {"billing"}),
    ("en", "Invoices never arrive and refunds take weeks", {"billing"}),
    ("es", "Me cobraron dos veces", {"billing"}),
    ("es", "Facturé mal y nadie me ayudó", {"billing"}),
    ("es", "las facturas llegan tarde", {"billing"}),
    ("es", "Me reembolsaron tarde", {"billing"}),
    ("ca", "Em van cobrar dues vegades", {"billing"}),
    ("ca", "Les factures arriben tard", {"billing"}),
    ("it", "Le fatture sono sbagliate", {"billing"}),
    ("it", "Mi hanno rimborsato solo metà", {"billing"}),
    ("pt", "Cobraram duas vezes", {"billing"}),
    ("pt", "as faturas vêm erradas", {"billing"}),
    ("fr", "J'ai été remboursé trop tard", {"billing"}),
    ("fr", "Les FACTURES sont fausses", {"billing"}),
    ("fr", "facture", {"billing"}),
    ("de", "Zwei Rechnungen für einen Monat", {"billing"}),
    ("de", "Das Geld wurde nie erstattet", {"billing"}),
    # written without the accents the keyword has, or with ones it lacks
    ("es", "no me llego la FACTURA", {"billing"}),
    ("pt", "a cobranca veio errada", {"billing"}),
    ("fr", "prelevement en double", {"billing"}),
    # a negated mention is still a mention
    ("en", "No refund yet", {"billing"}),
    ("es", "Nunca me devolvieron el reembolso", {"billing"}),
    ("de", "Keine Erstattung bekommen", {"billing"}),
    # phrases match on consecutive words, in any inflection; one of their words alone does not
    ("en", "The waiting times are awful", {"wait"}),
    ("en", "I waited a long time", set()),
    ("es", "El tiempo de espera fue eterno", {"wait"}),
    ("ca", "el temps d'espera és massa llarg", {"wait"}),
    ("it", "tempi di attesa infiniti", {"wait"}),
    ("fr", "les temps d'attente sont longs", {"wait"}),
    ("de", "Die Wartezeiten sind zu lang", {"wait"}),
    ("en", "Customer Services were great", {"staff"}),
    ("en", "great service, thanks", set()),
    ("es", "La atención al cliente fue pésima", {"staff"}),
    # several themes in one comment
    ("en", "Slow agent and a wrong invoice", {"billing", "wait", "staff"}),
    ("pt", "Atendimento lento e fatura errada", {"billing", "wait"}),
    # a keyword inside a longer word is not a mention
    ("en", "A surcharge appeared", set()),
    ("en", "an agency called me", set()),
    ("de", "Die Rechnungsadresse ist falsch", set()),
    ("en", "", set()),
]


@pytest.mark.parametrize(("locale", "comment", "expected"), CASES, ids=[f"{c[0]}:{c[1][:30]}" for c in CASES])
def test_comment_themes(locale: str, comment: str, expected: set[str]) -> None:
    assert set(MATCHER.match(comment, locale)) == expected


def test_every_shipped_language_has_cases() -> None:
    assert {c[0] for c in CASES} == set(LANGUAGES)


def test_the_survey_locale_chooses_the_keywords() -> None:
    assert MATCHER.match("Me cobraron dos veces", "es-ES") == ("billing",)  # a regional locale reads as its language
    assert MATCHER.match("Me cobraron dos veces", "en") == ()  # English keywords don't read Spanish
    assert MATCHER.match("Slow answer", "nl") == ("wait",)  # a language without themes reads as English
    assert MATCHER.match("Langsam", "ca") == ()  # no Catalan keyword for it


def test_matching_is_deterministic_and_sorted() -> None:
    assert MATCHER.match("refund slow agent", "en") == ("billing", "staff", "wait")
    assert ThemeMatcher.of(dict(reversed(TAXONOMY.items()))) == MATCHER  # equal by taxonomy, however ordered
    assert hash(ThemeMatcher.of(TAXONOMY)) == hash(MATCHER)
    assert not ThemeMatcher.of({}) and MATCHER.names == ("billing", "staff", "wait")


def test_keys_join_word_families_case_and_accents() -> None:
    assert key("cobraron", "es") == key("cobro", "es") == key("COBRAR", "es")
    assert key("facturé", "es") == key("Factura", "es")
    assert key("charged", "en") == key("charges", "en") != key("surcharge", "en")


def test_a_long_comment_is_read_up_to_the_cap() -> None:
    long = "fine " * 1000 + "refund"
    assert MATCHER.match(long, "en") == ()  # past 4,000 characters nothing is read
    assert MATCHER.match("refund " + "fine " * 1000, "en") == ("billing",)


def test_problems_name_each_key_path() -> None:
    assert problems({"billing": {"en": ["refund"]}}) == []
    assert problems({"billing": {"xx": ["a"], "es": [], "fr": "facture", "de": ["", 3]}, "Bad": {"en": ["a"]}}) == [
        "billing.xx: unknown language 'xx'; themes match in en, es, ca, it, pt, fr, de",
        "billing.es: expected a non-empty list of keywords",
        "billing.fr: expected a non-empty list of keywords",
        "billing.de[0]: expected a word or phrase, got ''",
        "billing.de[1]: expected a word or phrase, got 3",
        "Bad: theme names are lowercase letters, digits, - or _ (at most 64), e.g. billing",
    ]
    assert problems({"empty": {}}) == ["empty: expected keywords per language, e.g. {en: [refund], es: [reembolso]}"]
