"""Free-text score parsing and opt-out words: examples per language, and properties over any unicode text."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.replies import interpret, is_opt_out, parse_score

WORDS = {
    "en": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"],
    "es": ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez"],
    "ca": ["zero", "u", "dos", "tres", "quatre", "cinc", "sis", "set", "vuit", "nou", "deu"],
    "it": ["zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove", "dieci"],
    "pt": ["zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove", "dez"],
    "fr": ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix"],
    "de": ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn"],
}


@pytest.mark.parametrize(("locale", "words"), WORDS.items())
def test_number_words_in_every_language(locale: str, words: list[str]) -> None:
    for n, word in enumerate(words):
        assert parse_score(word) == n, (locale, word)
        assert parse_score(word.upper() + "!") == n, (locale, word)


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("9", 9), (" 9 ", 9), ("9/10", 9), ("9 / 10", 9), ("9 out of 10", 9), ("10!!", 10), ("a 7", 7),
        ("score: 8", 8), ("I'd say 8", 8), ("8 :)", 8), ("nota: 9", 9), ("un 9", 9), ("le doy un 8", 8),
        ("8 de 10", 8), ("8/10 great service", 8), ("9️⃣", 9), ("🔟", 10), ("1️⃣0️⃣", 10), ("９", 9), ("１０", 10),
        ("Nueve!", 9), ("a nove", 9), ("dix sur dix", 10), ("ein acht", 8), ("Un ocho", 8), ("fuenf", 5),
        ("tres", 3), ("três", 3), ("zero", 0), ("0", 0), ("9 9", 9), ("9/10, nine", 9), ("0 · Not likely", 0),
    ],
)  # fmt: skip
def test_scores_with_noise(text: str, score: int) -> None:
    assert parse_score(text) == score
    assert interpret(text).kind == "score" and interpret(text).score == score


@pytest.mark.parametrize(
    "text",
    [
        "7 or 8", "7-8", "7 o 8", "entre 7 y 8", "78", "7.5", "7,5", "-1", "11", "100", "10/10 and 9", "", "hello",
        "ok", "nine or ten", "9 and 10", "10:30", "1st", "2º", "+34 600 111 222", "12/05/2026", "the 3rd option",
    ],
)  # fmt: skip
def test_ambiguous_or_out_of_range_is_not_a_score(text: str) -> None:
    assert parse_score(text) is None
    assert interpret(text).kind == "unclear"


@pytest.mark.parametrize(
    "text",
    [
        "stop", "STOP!", "Unsubscribe", "opt out", "no more surveys", "Baja.", "darme de baja", "basta", "para",
        "prou", "donar-me de baixa", "disiscriviti", "cancellami", "parar", "descadastrar", "arrêter",
        "se désabonner", "Stopp", "abmelden", "aufhören",
    ],
)  # fmt: skip
def test_opt_out_words(text: str) -> None:
    assert is_opt_out(text) and interpret(text).kind == "opt_out"


@pytest.mark.parametrize("text", ["please don't stop the service, 9", "stop by anytime", "9", "basta poco", ""])
def test_sentences_that_only_contain_the_word_are_not_opt_outs(text: str) -> None:
    assert not is_opt_out(text)


@given(st.text(max_size=4000))
def test_never_raises_and_stays_in_range(text: str) -> None:
    score = parse_score(text)
    assert score is None or 0 <= score <= 10
    assert interpret(text).kind in ("score", "opt_out", "unclear")


@given(st.integers(min_value=0, max_value=10))
def test_every_score_in_plain_fraction_and_full_width_form(n: int) -> None:
    full_width = "".join(chr(ord(c) - ord("0") + 0xFF10) for c in str(n))
    assert parse_score(str(n)) == parse_score(f"{n}/10") == parse_score(full_width) == n


@given(st.integers(min_value=11, max_value=10**12))
def test_numbers_above_ten_are_never_scores(n: int) -> None:
    assert parse_score(str(n)) is None


@given(st.integers(min_value=0, max_value=10), st.integers(min_value=0, max_value=10))
def test_two_different_numbers_are_never_a_score(a: int, b: int) -> None:
    if a != b:
        assert parse_score(f"{a} or {b}") is None
