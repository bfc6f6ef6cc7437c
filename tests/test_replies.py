"""Free-text score parsing and opt-out words: examples per language, and properties over any unicode text."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.channel import score_labels
from core.messages import LOCALES, MessageCatalog
from core.replies import MAX_LEN, interpret, is_opt_out, parse_score
from core.types import AskScore

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


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("10/10", 10), ("nine", 9), ("nou", 9), ("nove", 9), ("neuf", 9), ("neun", 9), ("７", 7), ("0/10", 0),
        ("eight out of ten", 8), ("9 out of ten", 9), ("huit sur dix", 8), ("sette su dieci", 7), ("tres de diez", 3),
        ("nou de deu", 9), ("dez de dez", 10), ("8 von 10", 8), ("le doy un 9 a la atención", 9),
        ("10 a todo el equipo", 10), ("9 - quick and kind", 9), ("¿9?", 9), ("⑨", 9), ("𝟗", 9),
    ],
)  # fmt: skip
def test_more_ways_of_giving_a_score(text: str, score: int) -> None:
    assert parse_score(text) == score


@pytest.mark.parametrize(
    "text",
    [
        "7-8", "between 7 and 8", "1000", "no", "9 - 10", "7/8", "5/5", "4 out of 5", "five out of five", "3/5",
        "nueve y medio", "nine and a half", "9½", "5 stars", "10 estrellas", "in 10 minutes", "9€", "$9", "9h",
        "9.0", "9️⃣9️⃣", "9²", "❾", "nineteen", "dieciocho", "sette o otto", "7 oder 8", "10th",
    ],
)  # fmt: skip
def test_other_scales_halves_amounts_and_lookalikes_are_not_scores(text: str) -> None:
    assert parse_score(text) is None


def test_every_unicode_numeric_character_is_read_or_refused_never_crashes() -> None:
    """Unicode calls "❾" or "²" digits although int() cannot read them; none of them may raise."""
    for code in range(0x110000):
        c = chr(code)
        if c.isnumeric():
            for text in (c, f"{c}{c}", f"9{c}", f"{c}/10"):
                score = parse_score(text)
                assert score is None or 0 <= score <= 10


_PIECES = [*"0123456789 /.,-:%½²❾⑨９\u20e3\ufe0f🔟", "nine", "nou", "de", "ten", "out of ", "y medio"]
_NUMERICISH = st.lists(st.sampled_from(_PIECES), max_size=20).map("".join)


@given(_NUMERICISH)
def test_number_heavy_text_never_raises(text: str) -> None:
    score = parse_score(text)
    assert score is None or 0 <= score <= 10


@pytest.mark.parametrize(
    "text",
    [
        "stop please", "Stop it!", "please unsubscribe", "unsubscribe me", "Por favor, baja", "baja, gracias",
        "Basta ya", "para ja", "arrêtez !", "Hör auf", "keine Umfragen mehr", "chega", "smettila", "opt me out",
    ],
)  # fmt: skip
def test_opt_out_with_courtesy_around_it(text: str) -> None:
    assert interpret(text).kind == "opt_out"


@pytest.mark.parametrize(
    "text",
    [
        "please stop calling me at night", "stop making me wait so long", "para mí fue un 9", "no", "thanks",
        "please", "basta con llamar", "la baja fue fácil", "unsubscribe was hard to find",
    ],
)  # fmt: skip
def test_comments_that_mention_an_opt_out_word_are_not_opt_outs(text: str) -> None:
    assert interpret(text).kind != "opt_out"


@pytest.mark.parametrize(
    ("text", "score"),
    [("1" * 4000, None), ("1 " * 2000, 1), ("9/" * 2000, None), ("🔟" * 2000, 10), ("nine out of " * 330, None)],
)
def test_long_repetitive_replies(text: str, score: int | None) -> None:
    """Inputs that make backtracking patterns blow up; how fast they are read is measured in bench/, not here.
    One number said again and again is still that number; a 4000-digit number or an odd scale is not a score."""
    assert parse_score(text) == score


def test_the_parser_reads_a_bounded_prefix() -> None:
    """Every comment goes through the parser on the request path, so its work is capped by MAX_LEN characters."""
    assert parse_score("9 or 8") is None
    assert parse_score("9" + " " * MAX_LEN + "or 8") == 9


@pytest.mark.parametrize(
    "text",
    [
        "I asked 3 questions and nobody answered", "Support took two days to answer", "I have one question",
        "after 4 calls it worked", "2 people helped me", "5 items were missing", "I waited nine hours on hold",
        "hice 3 preguntas", "tardaron dos semanas", "me llamaron 4 veces", "2 llamadas y nada",
        "vaig fer 3 preguntes", "van trigar dues setmanes", "tres trucades", "ho vaig intentar 4 vegades",
        "ho fatto 3 domande", "ci sono voluti due giorni", "ho chiamato 4 volte", "2 telefonate",
        "fiz 3 perguntas", "demorou duas semanas", "liguei 4 vezes", "2 pessoas me ajudaram",
        "j'ai posé 3 questions", "il a fallu deux jours", "j'ai appelé 4 fois", "deux appels",
        "ich hatte 3 Fragen", "es hat zwei Wochen gedauert", "drei Anrufe", "2 Mitarbeiter haben geholfen",
    ],
)  # fmt: skip
def test_a_count_of_things_is_not_a_rating(text: str) -> None:
    """A reply that talks about a number of things (questions, days, people) is re-asked, in every language."""
    assert parse_score(text) is None
    assert interpret(text).kind == "unclear"


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("8/10 great service", 8), ("9 great", 9), ("8 points", 8), ("10 pas mal", 10), ("un 2, mal servicio", 2),
        ("9, thanks for the quick answer", 9), ("un 9, muy amable", 9), ("10 mes que bé", 10), ("nove, grazie", 9),
        ("nota 8", 8), ("dix, merci", 10), ("acht, danke", 8), ("9 great day", 9),
    ],
)  # fmt: skip
def test_words_after_a_rating_that_are_not_counted_things(text: str, score: int) -> None:
    assert parse_score(text) == score


def test_normalisation_cannot_multiply_the_work() -> None:
    """U+FDFA becomes 18 characters under NFKC: the text the patterns read stays within MAX_LEN."""
    from core.replies import _normalize

    assert len(_normalize("\ufdfa" * MAX_LEN)) <= MAX_LEN
    assert parse_score("\ufdfa" * MAX_LEN) is None
    assert is_opt_out("\ufdfa" * 200) is False


@pytest.mark.parametrize("locale", LOCALES)
def test_each_languages_scale_labels_read_back_as_their_numbers(locale: str) -> None:
    """Channels that echo the tapped option's title as text (Chatwoot, WhatsApp, Messenger) rely on this."""
    catalog = MessageCatalog()
    ask = AskScore(text="?", low_label=catalog.text("scale_low", locale), high_label=catalog.text("scale_high", locale))
    assert [parse_score(label) for label in score_labels(ask)] == list(range(11))


@pytest.mark.parametrize(
    ("text", "score"),
    [("très bien", None), ("TRÈS content", None), ("Très bien, 9", 9), ("10 très satisfait", 10), ("três", 3)],
)
def test_french_tres_is_very_not_three(text: str, score: int | None) -> None:
    assert parse_score(text) == score
