"""Reads a customer's free-text reply: a clear 0–10 score, an opt-out, or neither. Never guesses.

Accepted: digits with noise ("9/10", "10!!", "score: 8", "eight out of ten"), keycap emoji, full-width digits,
number words in en/es/ca/it/pt/fr/de. Rejected: two different numbers, ranges, decimals and halves, negatives,
numbers above 10, other scales ("4/5", "5 stars"), times, amounts, ordinals, and counts of things ("3 questions",
"dos semanas", "zwei Anrufe": a number followed by what it counts is not a rating). Words that are numbers in one
language but ordinary words in another ("set", "dos", "nou", "sei", "null") count only in a short reply; repeating
the same number ("9 9", "9/10, nine") still reads as that number.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

MAX_LEN = 4000
MAX_OPT_OUT = 200


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
    {
        "a", "an", "i", "id", "i'd", "say", "would", "give", "it", "my", "score", "is", "rating", "nota", "puntuacion",
        "punts", "voto", "punteggio", "note", "le", "la", "el", "il", "lo", "je", "te", "ti", "doy", "dou", "do", "dar",
        "donne", "ich", "gebe", "das", "es", "de", "un", "una",
    }
)  # fmt: skip

_KEYCAP = re.compile(r"([0-9])\ufe0f?\u20e3")
_NUMBER = r"\d+|" + "|".join(sorted(_WORDS, key=len, reverse=True))
_TEN = r"10|ten|diez|deu|dieci|dez|dix|zehn"
# "9/10", "eight out of ten", "8 de 10", "neuf sur dix": the denominator is dropped, the numerator kept.
_DENOM = re.compile(rf"(?<![^\W_])({_NUMBER})\s*(?:/|out\s+of|over|de|del|su|sur|von|em|of)\s*(?:{_TEN})(?!\w)")
_REJECT = re.compile(
    r"\d\s*[.,]\s*\d"  # decimals 7.5 / 7,5
    r"|(?<!\w)-\s*\d"  # negatives
    r"|\d\s*[-–—~]\s*\d"  # ranges 7-8
    r"|\d\s*:\s*\d"  # times 10:30
    r"|(?<!\d)\d+(?:st|nd|rd|th|er|eme|o|a|e)\b"  # ordinals 1st, 2º (NFKC turns º into o), 3e
    r"|[$€£¥]\s*\d|\d\s*(?:%|[$€£¥]|(?:h|hs|hrs?|hours?|min|mins|minutes?|minutos?|minuti|minuten|days?|dias?|"
    r"dies|giorni|jours?|tage?|euros?|eur|usd|dollars?|stars?|estrellas?|estrelles?|estrelas?|stelle|stella|"
    r"etoiles?|sterne?)\b)"  # amounts, durations and other scales: "10 minutes", "5 stars", "9€"
    rf"|(?:/|out\s+of|over|sur|su|von)\s*(?:{_NUMBER})(?!\w)"  # a scale other than 10 ("4/5", "five out of five")
    r"|\b(?:half|halb|halbe|einhalb|medio|media|mig|mitja|mezzo|meio|meia|demi|demie)\b"  # "nine and a half"
)
# Nouns a number counts in a sentence about something else ("I asked 3 questions", "tardaron dos semanas"),
# singular and plural, accents stripped. Words that double as everyday words after a rating in another language
# are left out on purpose: "mal" (es/pt/fr "bad"), "pas" (fr "not"), "ora" (it "now"), "any", "mes" (ca "more").
_COUNTED = (
    # en
    "questions?|items?|things?|days?|hours?|minutes?|weeks?|months?|years?|times|people|persons?|agents?|calls?|e-?mails?|messages?|"
    "tickets?|orders?|products?|attempts?|tries|steps?|issues?|problems?|replies|answers?|packages?|parcels?|"
    "boxes|units?|pieces?|pages?|chats?|colleagues?|representatives?|reps|employees?|transfers?|seconds?|"
    # es
    "preguntas?|articulos?|cosas?|dias?|minutos?|semanas?|meses|anos?|veces|vez|personas?|gente|agentes|llamadas?|correos?|"
    "mensajes?|pedidos?|productos?|intentos?|pasos|problemas?|respuestas?|paquetes?|cajas?|unidades|horas?|"
    "segundos?|"
    # ca
    "preguntes|articles?|coses|dies|setmanes?|setmana|mesos|anys|vegades|vegada|persones|gent|trucades|trucada|"
    "correus?|missatges?|comandes|comanda|productes?|intents?|passos|respostes|resposta|paquets?|hores|"
    # it
    "domande|domanda|articoli|articolo|cose|cosa|giorni|giorno|minuti|settimane|settimana|mesi|mese|anni|anno|volte|volta|persone|"
    "agenti|chiamate|chiamata|telefonate|telefonata|messaggi|messaggio|ordini|ordine|prodotti|prodotto|"
    "tentativi|tentativo|passi|problemi|risposte|pacchi|pacco|ore|secondi|"
    # pt
    "perguntas?|itens|artigos?|coisas?|vezes|pessoas?|atendentes?|ligacoes|ligacao|chamadas?|mensagens|"
    "mensagem|tentativas?|caixas?|pacotes?|"
    # fr
    "choses?|jours?|semaines?|mois|annees?|fois|personnes|gens|conseillers?|appels?|courriels?|commandes?|produits?|"
    "essais?|tentatives?|etapes?|problemes?|reponses?|colis|heures?|"
    # de
    "fragen?|sachen?|dinge|tage?|minuten|wochen?|monate?|jahre?|personen|leute|menschen|mitarbeiter(?:in|innen)?|anrufe?|"
    "nachrichten?|bestellungen?|bestellung|produkte?|versuche?|schritte?|probleme?|antworten?|pakete?|stunden?|"
    "sekunden?"
)
_COUNT = re.compile(rf"(?<![^\W_])(?:{_NUMBER})\s+(?:{_COUNTED})(?!\w)")
_TOKEN = re.compile(r"\d+|[^\W\d_]+(?:'[^\W\d_]+)?")


# Words that become a number word only once their accent is gone: French "très" (very) is not "tres" (es/ca
# three) nor "três" (pt three), so "10 · Très probable" and "très bien" keep their meaning.
_ACCENTED_WORDS = re.compile(r"(?<!\w)très(?!\w)")


def _normalize(text: str) -> str:
    """Cut before and after normalising: NFKC alone can make one character eighteen (U+FDFA), and every
    pattern below runs over the result, so the work stays bounded by MAX_LEN whatever was sent."""
    text = text[:MAX_LEN].replace("\U0001f51f", " 10 ")
    text = _KEYCAP.sub(r"\1", text)
    folded = _ACCENTED_WORDS.sub(" ", unicodedata.normalize("NFKC", text)[:MAX_LEN].casefold())
    return _strip_accents(folded)[:MAX_LEN]


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def parse_score(text: str) -> int | None:
    """0..10 when the reply holds exactly one score; None when it holds none or could mean several."""
    if not isinstance(text, str):
        return None
    norm = _DENOM.sub(r" \1 ", _normalize(text))
    if _REJECT.search(norm) or _COUNT.search(norm):
        return None
    tokens = _TOKEN.findall(norm)
    if not tokens:
        return None
    meaningful = [t for t in tokens if t not in _FILLER or t in _WORDS]
    short = len(meaningful) <= 2
    values: list[int] = []
    for i, tok in enumerate(tokens):
        if tok[0].isdigit():
            # isdecimal, not isdigit: "❾" or "²" are digits to Unicode but not numbers int() can read.
            if not tok.isdecimal() or len(tok) > 2 or int(tok) > 10:
                return None
            values.append(int(tok))
            continue
        if tok not in _WORDS:
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if tok in _ARTICLES and nxt is not None and (nxt.isdecimal() or nxt in _WORDS or nxt in _FILLER):
            continue
        if tok in _AMBIGUOUS and not short:
            continue
        values.append(_WORDS[tok])
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None


_OPT_OUT = frozenset(
    {
        # en
        "stop", "stop it", "unsubscribe", "unsubscribe me", "unsub", "opt out", "optout", "opt me out",
        "no more surveys", "no more", "dont ask me again", "do not ask me again", "stop surveys",
        "stop sending", "stop sending me surveys", "stop sending surveys", "stop messaging me", "stop texting me",
        "remove me", "leave me alone",
        # es
        "baja", "darme de baja", "dame de baja", "dadme de baja", "quiero darme de baja", "para", "parad", "parar",
        "basta", "ya basta", "basta ya", "no mas", "no mas encuestas", "no quiero mas encuestas",
        "cancelar suscripcion",
        # ca
        "prou", "baixa", "donar me de baixa", "doneu me de baixa", "vull donar me de baixa", "no mes",
        "no mes enquestes", "para ja", "atura", "atureu vos",
        # it
        "basta cosi", "disiscriviti", "disiscrivimi", "annulla iscrizione", "cancellami", "smettila", "smettetela",
        "non voglio piu sondaggi", "niente piu sondaggi",
        # pt
        "pare", "parem", "chega", "sair", "cancelar", "descadastrar", "me descadastre", "nao quero mais pesquisas",
        "chega de pesquisas",
        # fr
        "arret", "arrete", "arretez", "arreter", "desabonner", "se desabonner", "me desabonner", "desabonnez moi",
        "desinscrire", "me desinscrire", "desinscrivez moi", "desabonnement", "plus de sondages",
        # de
        "stopp", "abmelden", "abbestellen", "austragen", "aufhoren", "aufhoeren", "hor auf", "hoer auf",
        "horen sie auf", "keine umfragen mehr", "keine umfragen",
    }
)  # fmt: skip
# Courtesy around an opt-out ("stop please", "por favor, baja") does not change what it means.
_POLITE = (
    "please", "pls", "plz", "now", "thanks", "thank you", "por favor", "porfa", "gracias", "si us plau", "sisplau",
    "gracies", "per favore", "grazie", "obrigado", "obrigada", "s il vous plait", "svp", "merci", "bitte", "danke",
)  # fmt: skip


def is_opt_out(text: str) -> bool:
    """True only when the whole reply is an opt-out phrase (punctuation, emoji and courtesy aside), so a comment
    such as "please stop calling me at night" stays a comment."""
    if not isinstance(text, str) or len(text) > MAX_OPT_OUT:
        return False
    norm = unicodedata.normalize("NFKC", text)[:MAX_OPT_OUT]  # a phrase, not a text: see _normalize
    phrase = " ".join(re.findall(r"[^\W\d_]+", _strip_accents(norm.casefold())))
    while phrase and phrase not in _OPT_OUT:
        trimmed = phrase
        for polite in _POLITE:
            if trimmed.startswith(polite + " "):
                trimmed = trimmed[len(polite) + 1 :]
            if trimmed.endswith(" " + polite):
                trimmed = trimmed[: -len(polite) - 1]
        if trimmed == phrase:
            return False
        phrase = trimmed
    return bool(phrase)


def interpret(text: str) -> Interpretation:
    if is_opt_out(text):
        return Interpretation("opt_out")
    score = parse_score(text)
    if score is not None:
        return Interpretation("score", score)
    return Interpretation("unclear")
