"""The story `npsbot demo` plays: who the customers and agents are, in which language and on which channel, and
what each customer will do. It is data for the demo (bots/demo.py) and its printout (bots/demo_report.py)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from bots.sandbox.customers import Person

LOCALES = ["en", "es", "ca", "it", "pt", "fr", "de"]
SLACK_LOCALES = dict(en="en-US", es="es-ES", ca="ca-ES", it="it-IT", pt="pt-BR", fr="fr-FR", de="de-DE")
CUSTOMERS = {
    "en": ["Olivia", "Harry", "Amelia"], "es": ["Lucía", "Mateo", "Sofía"], "ca": ["Jordi", "Laia", "Pau"],
    "it": ["Giulia", "Marco", "Chiara"], "pt": ["João", "Beatriz", "Tiago"], "fr": ["Camille", "Louis", "Inès"],
    "de": ["Lukas", "Mia", "Jonas"],
}  # fmt: skip
OPENINGS = {
    "en": "My invoice shows the wrong plan", "es": "Mi factura muestra el plan equivocado",
    "ca": "La factura no quadra amb el meu pla", "it": "La fattura riporta il piano sbagliato",
    "pt": "Minha fatura mostra o plano errado", "fr": "Ma facture indique la mauvaise offre",
    "de": "Meine Rechnung zeigt den falschen Tarif",
}  # fmt: skip
WORDS = {
    "en": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"],
    "es": ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez"],
    "ca": ["zero", "u", "dos", "tres", "quatre", "cinc", "sis", "set", "vuit", "nou", "deu"],
    "it": ["zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove", "dieci"],
    "pt": ["zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove", "dez"],
    "fr": ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix"],
    "de": ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn"],
}
# What customers write after the score: a detractor's, a passive's and a promoter's comment in each language.
COMMENTS = {
    "en": ("Three days to fix one invoice", "Fine, but slow to answer", "Quick and friendly help"),
    "es": ("Tardaron tres días en arreglarlo", "Bien, pero lento", "Me resolvieron el problema rápido"),
    "ca": ("Tres dies per arreglar una factura", "Bé, però lent", "Molt amables, gràcies"),
    "it": ("Tre giorni per una fattura", "Risposta lenta ma corretta", "Gentilissimi, grazie"),
    "pt": ("Demoraram três dias", "Bom, mas demorado", "Atendimento excelente"),
    "fr": ("Le délai était trop long", "Correct, mais lent", "Rapide et aimable"),
    "de": ("Drei Tage für eine Rechnung", "Gut, aber langsam", "Sehr hilfreich, danke"),
}
# The story's rising complaint: a double charge (the billing theme only), which detractors write more often week after
# week (a new billing system went live), instead of the waiting they complained about at first. Fourth in each tuple.
DOUBLE_CHARGE = {
    "en": "They charged me twice this month", "es": "Me hicieron un cobro doble", "ca": "M'han fet un cobrament doble",
    "it": "Mi hanno fatto un addebito doppio", "pt": "Fizeram uma cobrança dupla",
    "fr": "On m'a fait un double prélèvement", "de": "Die Abbuchung kam doppelt",
}  # fmt: skip
COMMENTS = {locale: (*texts, DOUBLE_CHARGE[locale]) for locale, texts in COMMENTS.items()}
WEEKS = 12  # the demo's conversations are spread over the last twelve weeks, oldest first
# Dmitri, new on the team, struggles at first and learns: by the last week his customers score like Elena's.
IMPROVING = {"Dmitri": [0, 0, 0, 1, 1, 1, 2, 3, 5, 6, 5]}
# The demo profile's comment themes (profiles.acme.themes): keywords per language, matched on word roots.
THEMES = {
    "billing": {"en": ["invoice", "charge", "refund"], "es": ["factura", "cobro", "reembolso"],
                "ca": ["factura", "cobrament"], "it": ["fattura", "addebito"], "pt": ["fatura", "cobrança", "cobrar"],
                "fr": ["facture", "prélèvement"], "de": ["Rechnung", "Abbuchung"]},
    "wait": {"en": ["slow", "days", "waiting time"], "es": ["lento", "días", "tardar"],
             "ca": ["lent", "dies", "trigar"], "it": ["lento", "giorni", "tempo di attesa"],
             "pt": ["demorado", "demorar", "dias", "lento"],
             "fr": ["lent", "délai", "jours"], "de": ["langsam", "Tage", "Wartezeit"]},
    "staff": {"en": ["friendly", "helpful", "kind"], "es": ["amable", "atento"], "ca": ["amable"],
              "it": ["gentile", "gentilissimo"], "pt": ["atendimento", "simpático"], "fr": ["aimable", "sympathique"],
              "de": ["hilfreich", "freundlich"]},
}  # fmt: skip
JUNK = ["hmm", "7 or 8", "what?", "78", "not sure", "🤷"]
OPT_OUTS = {"en": "STOP", "es": "Baja", "ca": "prou", "it": "basta", "pt": "pare", "fr": "stop", "de": "Stopp"}
# Length 10, prime to the 3 channels and the 7 languages, so every channel sees every behaviour.
BEHAVIOURS = ["button", "words", "digits", "junk_then_score", "button", "keycap", "junk_twice", "fullwidth", "silent",
              "opt_out"]  # fmt: skip
CHANNELS = ["telegram", "slack", "webhook"]
# Who closes conversations on each channel; every channel records the agent by name (Slack's from users.info).
AGENTS = {
    "telegram": [Person(101, "Ana", team="billing"), Person(102, "Ben", team="billing")],
    "slack": [Person("U0ELENA01", "Elena", team="accounts"), Person("U0FARID01", "Farid", team="accounts")],
    "webhook": [Person("carla", "Carla", team="tech"), Person("dmitri", "Dmitri", team="tech"),
                Person("ana", "Ana", team="billing")],
    "whatsapp": [Person("gabriela", "Gabriela", team="social")],
    "instagram": [Person("hugo", "Hugo", team="social")],
}  # fmt: skip
# How each agent's customers score 0..10 in this story: Carla delights, Dmitri struggles, so the breakdown differs.
SCORE_WEIGHTS = {
    "Ana": [1, 1, 1, 1, 1, 2, 3, 4, 5, 4, 3],
    "Ben": [1, 1, 1, 1, 1, 2, 2, 3, 4, 5, 5],
    "Carla": [0, 0, 0, 0, 1, 1, 1, 2, 4, 8, 9],
    "Dmitri": [3, 2, 3, 3, 3, 3, 3, 3, 2, 1, 1],
    "Elena": [0, 0, 0, 1, 1, 1, 2, 3, 5, 6, 5],
    "Farid": [1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 2],
    "Gabriela": [0, 1, 1, 0, 1, 1, 1, 2, 4, 7, 8],
    "Hugo": [0, 1, 1, 1, 1, 2, 2, 3, 4, 4, 4],
}
# WhatsApp and Instagram conversations, after the others: taps on the list (scores 1 and 2 through its second step)
# or the quick replies, typed scores, and on WhatsApp a customer who last wrote a day ago, reached by the template.
META_BEHAVIOURS = {
    "whatsapp": ["button", "late", "words", "button", "digits", "late", "junk_then_score"],
    "instagram": ["button", "digits", "words"],
}


@dataclass
class Plan:
    """One simulated conversation and what its customer will do: a step is a button tap (int) or text (str)."""

    conversation: str
    channel: str
    locale: str
    customer: Person
    agent: Person
    behaviour: str  # button | words | digits | keycap | fullwidth | junk_then_score | junk_twice | silent | opt_out
    score: int | None
    steps: list[int | str] = field(default_factory=list)
    week: int | None = None  # 0 … WEEKS - 1; None: spread over the weeks by its place among the plans

    @property
    def agent_key(self) -> str:
        """The agent as the report groups it."""
        return self.agent.name


def _typed(score: int, behaviour: str, locale: str, rng: random.Random) -> int | str:
    if behaviour == "button":
        return score
    if behaviour == "words":
        return WORDS[locale][score].capitalize() + "!"
    if behaviour == "keycap":
        return "🔟" if score == 10 else f"{score}\ufe0f\u20e3"
    if behaviour == "fullwidth":
        return "".join(chr(0xFF10 + int(d)) for d in str(score))
    return rng.choice([f"{score}", f"{score}/10", f"I'd say {score}", f"{score}!!", f"nota: {score}"])


def make_plans(n: int, rng: random.Random) -> list[Plan]:
    plans = []
    for i in range(n):
        locale, channel, behaviour = LOCALES[i % 7], CHANNELS[i % 3], BEHAVIOURS[i % 10]
        agent, week = rng.choice(AGENTS[channel]), i * WEEKS // n
        score = rng.choices(range(11), weights=weights(agent.name, week))[0]
        comments = rng.random() < 0.75
        name = CUSTOMERS[locale][i // 7 % 3]
        if channel == "telegram":
            conversation, customer = str(-(1001700000000 + i)), Person(7000000 + i, name, locale)
        elif channel == "slack":
            conversation, customer = f"C0SHARED{i:03d}", Person(f"U0CUST{i:03d}", name, SLACK_LOCALES[locale])
        else:
            conversation, customer = f"wa-{i:03d}", Person(f"wa:+3460000{i:04d}", name, locale)
        steps: list[int | str]
        if behaviour == "junk_twice":
            steps, score = ["7 or 8", "depends on the day"], None
        elif behaviour == "opt_out":
            steps, score = [OPT_OUTS[locale]], None
        elif behaviour == "silent":
            steps, score = [], None
        elif behaviour == "junk_then_score":
            steps = [rng.choice(JUNK), _typed(score, "digits", locale, rng)]
        else:
            steps = [_typed(score, behaviour, locale, rng)]
        if score is not None and comments:
            double_charge = score <= 6 and rng.random() < week / (WEEKS - 1)
            steps.append(COMMENTS[locale][3 if double_charge else 0 if score <= 6 else 1 if score <= 8 else 2])
        plans.append(Plan(conversation, channel, locale, customer, agent, behaviour, score, steps, week))
    return plans


def weights(agent: str, week: int) -> list[float]:
    """How the agent's customers score 0..10 in that week: fixed, or moving from the first week's to IMPROVING's."""
    first, last = SCORE_WEIGHTS[agent], IMPROVING.get(agent)
    if last is None:
        return list(first)
    t = week / (WEEKS - 1)
    return [(1 - t) * a + t * b for a, b in zip(first, last, strict=True)]


def by_week(plans: list[Plan]) -> list[list[Plan]]:
    """The plans of each week, in order; plans without a week are dealt over the weeks in turn."""
    weeks: list[list[Plan]] = [[] for _ in range(WEEKS)]
    unset = [p for p in plans if p.week is None]
    for p in plans:
        if p.week is not None:
            weeks[p.week].append(p)
    for i, p in enumerate(unset):
        p.week = i * WEEKS // len(unset)
        weeks[p.week].append(p)
    return weeks


def meta_plans(start: int, rng: random.Random) -> list[Plan]:
    """WhatsApp conversations in each language, then a few on Instagram; `start` numbers them after the others."""
    plans = []
    for channel, behaviours in META_BEHAVIOURS.items():
        for j, behaviour in enumerate(behaviours):
            i = start + len(plans)
            locale, agent = LOCALES[j % 7], AGENTS[channel][0]
            score = rng.choices(range(11), weights=SCORE_WEIGHTS[agent.name])[0]
            if behaviour == "late" and j == 1:
                score = 2  # the transcript shown: the template, its quick reply, the list's "1 – 2" row, then 2
            key = f"3460055{i:04d}" if channel == "whatsapp" else f"17841400{i:07d}"  # wa_id / IGSID
            customer = Person(key, CUSTOMERS[locale][(i // 7 + 1) % 3], locale)
            steps: list[int | str]
            if behaviour == "junk_then_score":
                steps = [rng.choice(JUNK), _typed(score, "digits", locale, rng)]
            else:  # a late customer taps too, once the template's quick reply has brought the list
                steps = [_typed(score, "button" if behaviour == "late" else behaviour, locale, rng)]
            if rng.random() < 0.75:
                steps.append(COMMENTS[locale][0 if score <= 6 else 1 if score <= 8 else 2])
            plans.append(Plan(key, channel, locale, customer, agent, behaviour, score, steps))
    return plans


def shown(plans: list[Plan]) -> list[Plan]:
    """One transcript per channel: a tap on Telegram, junk then a score on Slack, a keycap through the bridge, the
    template then the list on WhatsApp."""
    wanted = [("telegram", "button"), ("slack", "junk_then_score"), ("webhook", "keycap"), ("whatsapp", "late")]
    shown = []
    for channel, behaviour in wanted:
        mine = [p for p in plans if p.channel == channel]
        best = [p for p in mine if p.behaviour == behaviour and p.locale != "en"] or mine
        if best:
            shown.append(best[0])
    return shown
