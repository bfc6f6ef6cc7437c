"""Reads a customer's free-text reply: a clear 0–10 score, an opt-out, or neither. Never guesses.

Accepted: digits with noise ("9/10", "10!!", "score: 8"), keycap emoji, full-width digits, number words in
en/es/ca/it/pt/fr/de. Rejected: two different numbers, ranges, decimals, negatives, numbers above 10, times and
ordinals. Words that are numbers in one language but ordinary words in another ("set", "dos", "nou", "sei", "null")
count only in a short reply; repeating the same number ("9 9", "9/10, nine") still reads as that number.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

MAX_LEN = 4000


@dataclass(frozen=True, slots=True)
class Interpretation:
    kind: Literal["score", "opt_out", "unclear"]
    score: int | None = None


_WORDS: dict[str, int] = {}
for _n, _forms in enumerate(
    [
        "zero cero zero zero zero zero null",
        "one uno una un u um uma une eins ein eine",
        "two dos dues due dois duas deux zwei",
        "three tres tre tres tres trois drei",
        "four cuatro quatre quattro quatro vier",
        "five cinco cinc cinque cinq funf fuenf",
        "six seis sis sei six sechs",
        "seven siete set sette sete sept sieben",
        "eight ocho vuit otto oito huit acht",
        "nine nueve nou nove neuf neun",
        "ten diez deu dieci dez dix zehn",
    ]
):
    for _w in _forms.split():
        _WORDS[_w] = _n

# Words that also serve as articles: before another number they are not a score ("un 9", "ein acht").
_ARTICLES = frozenset({"un", "una", "uno", "u", "um", "uma", "une", "ein", "eine"})
# Number words that are everyday words elsewhere; trusted only in a short reply.
_AMBIGUOUS = frozenset({"set", "sis", "dos", "nou", "deu", "dez", "sei", "null", "tre", "u", "un", "une", "six"})
_FILLER = frozenset(
    [
        "a",
        "an",
        "i",
        "id",
        "i'd",
        "say",
        "would",
        "give",
        "it",
        "my",
        "score",
        "is",
        "rating",
        "nota",
        "puntuacion",
        "punts",
        "voto",
        "punteggio",
        "note",
        "le",
        "la",
        "el",
        "il",
        "lo",
        "je",
        "te",
        "ti",
        "doy",
        "dou",
        "do",
        "dou",
        "dar",
        "je",
        "donne",
        "ich",
        "gebe",
        "das",
        "es",
        "de",
        "un",
        "una",
    ]
)

_KEYCAP = re.compile(r"([0-9])\ufe0f?\u20e3")
_DENOM = re.compile(r"(\d+)\s*(?:/|out\s+of|de|del|su|sur|von|em|of|over)\s*10(?!\d)")
_REJECT = re.compile(
    r"\d\s*[.,]\s*\d"  # decimals 7.5 / 7,5
    r"|(?<![\w])-\s*\d"  # negatives
    r"|\d\s*[-–—~]\s*\d"  # ranges 7-8
    r"|\d\s*:\s*\d"  # times 10:30
    r"|\d+\s*(?:st|nd|rd|th|º|ª|er|eme|ème|o|a)\b"  # ordinals 1st, 2º
)
_TOKEN = re.compile(r"\d+|[^\W\d_]+(?:'[^\W\d_]+)?")


def _normalize(text: str) -> str:
    text = text[:MAX_LEN].replace("\U0001f51f", " 10 ")
    text = _KEYCAP.sub(r"\1", text)
    text = unicodedata.normalize("NFKC", text).casefold()
    return text


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def parse_score(text: str) -> int | None:
    """0..10 when the reply holds exactly one score; None when it holds none or could mean several."""
    if not isinstance(text, str):
        return None
    norm = _normalize(text)
    if _REJECT.search(norm):
        return None
    norm = _DENOM.sub(r" \1 ", norm)
    tokens = _TOKEN.findall(_strip_accents(norm))
    if not tokens:
        return None
    meaningful = [t for t in tokens if t not in _FILLER or t in _WORDS]
    short = len(meaningful) <= 2
    values: list[int] = []
    for i, tok in enumerate(tokens):
        if tok.isdigit():
            if len(tok) > 2 or int(tok) > 10:
                return None
            values.append(int(tok))
            continue
        if tok not in _WORDS:
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if tok in _ARTICLES and nxt is not None and (nxt.isdigit() or nxt in _WORDS or nxt in _FILLER):
            continue
        if tok in _AMBIGUOUS and not short:
            continue
        values.append(_WORDS[tok])
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None


_OPT_OUT = frozenset(
    {
        # en
        "stop", "unsubscribe", "opt out", "optout", "no more surveys", "dont ask me again", "do not ask me again",
        "stop surveys", "remove me",
        # es
        "baja", "darme de baja", "dame de baja", "para", "parar", "basta", "no mas encuestas", "cancelar suscripcion",
        # ca
        "prou", "baixa", "donar me de baixa", "doneu me de baixa", "no mes enquestes",
        # it
        "disiscriviti", "annulla iscrizione", "cancellami", "non voglio piu sondaggi",
        # pt
        "pare", "sair", "cancelar", "descadastrar", "nao quero mais pesquisas",
        # fr
        "arret", "arreter", "desabonner", "se desabonner", "desinscrire", "me desinscrire", "desabonnement",
        # de
        "stopp", "abmelden", "abbestellen", "aufhoren", "aufhoeren", "keine umfragen mehr",
    }
)  # fmt: skip


def is_opt_out(text: str) -> bool:
    """True only when the whole reply is an opt-out phrase (punctuation and emoji aside)."""
    if not isinstance(text, str) or len(text) > 200:
        return False
    words = re.findall(r"[^\W\d_]+", _strip_accents(unicodedata.normalize("NFKC", text).casefold()))
    return " ".join(words) in _OPT_OUT


def interpret(text: str) -> Interpretation:
    if is_opt_out(text):
        return Interpretation("opt_out")
    score = parse_score(text)
    if score is not None:
        return Interpretation("score", score)
    return Interpretation("unclear")
