"""The digest's words in each built-in language, and numbers written the way each language writes them (a decimal
comma everywhere but English)."""

from __future__ import annotations

from core.messages import LOCALES, language

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "subject": "{brand} NPS digest, {since} – {until}",
        "title": "NPS digest for {brand}: {since} – {until}",
        "nps": "NPS {nps} ± {margin} ({responses} responses)",
        "nps_no_margin": "NPS {nps} ({responses} responses, margin not estimable)",
        "nps_none": "NPS: no responses in this period",
        "change": "Change against the previous period: {change} ({verdict})",
        "change_none": "Change against the previous period: nothing to compare",
        "significant": "significant",
        "not_significant": "not significant",
        "response_rate": "Response rate: {rate} ({responses} of {asked} asked)",
        "response_rate_none": "Response rate: nobody was asked",
        "detractors": "Open detractors: {open}, of which overdue: {overdue}",
        "movers_team": "Top movers by team:",
        "movers_agent": "Top movers by agent:",
        "mover": "{name}: {change} {arrow} (now {nps}, {responses} responses)",
        "no_movers": "no group with enough responses in both periods",
        "benchmark": "Against the benchmark {benchmark}: {difference} ({verdict})",
        "chart_title": "NPS by {bucket}",
        "week": "week",
        "day": "day",
        "margin_band": "95 % margin",
        "benchmark_line": "benchmark",
    },
    "es": {
        "subject": "Resumen NPS de {brand}, {since} – {until}",
        "title": "Resumen NPS de {brand}: {since} – {until}",
        "nps": "NPS {nps} ± {margin} ({responses} respuestas)",
        "nps_no_margin": "NPS {nps} ({responses} respuestas, margen no estimable)",
        "nps_none": "NPS: sin respuestas en este periodo",
        "change": "Cambio frente al periodo anterior: {change} ({verdict})",
        "change_none": "Cambio frente al periodo anterior: nada que comparar",
        "significant": "significativo",
        "not_significant": "no significativo",
        "response_rate": "Tasa de respuesta: {rate} ({responses} de {asked} consultados)",
        "response_rate_none": "Tasa de respuesta: no se consultó a nadie",
        "detractors": "Detractores abiertos: {open}, de ellos vencidos: {overdue}",
        "movers_team": "Mayores cambios por equipo:",
        "movers_agent": "Mayores cambios por agente:",
        "mover": "{name}: {change} {arrow} (ahora {nps}, {responses} respuestas)",
        "no_movers": "ningún grupo con respuestas suficientes en ambos periodos",
        "benchmark": "Frente a la referencia {benchmark}: {difference} ({verdict})",
        "chart_title": "NPS por {bucket}",
        "week": "semana",
        "day": "día",
        "margin_band": "margen del 95 %",
        "benchmark_line": "referencia",
    },
    "ca": {
        "subject": "Resum NPS de {brand}, {since} – {until}",
        "title": "Resum NPS de {brand}: {since} – {until}",
        "nps": "NPS {nps} ± {margin} ({responses} respostes)",
        "nps_no_margin": "NPS {nps} ({responses} respostes, marge no estimable)",
        "nps_none": "NPS: cap resposta en aquest període",
        "change": "Canvi respecte al període anterior: {change} ({verdict})",
        "change_none": "Canvi respecte al període anterior: res a comparar",
        "significant": "significatiu",
        "not_significant": "no significatiu",
        "response_rate": "Taxa de resposta: {rate} ({responses} de {asked} consultats)",
        "response_rate_none": "Taxa de resposta: no s'ha consultat ningú",
        "detractors": "Detractors oberts: {open}, dels quals vençuts: {overdue}",
        "movers_team": "Canvis més grans per equip:",
        "movers_agent": "Canvis més grans per agent:",
        "mover": "{name}: {change} {arrow} (ara {nps}, {responses} respostes)",
        "no_movers": "cap grup amb prou respostes en tots dos períodes",
        "benchmark": "Respecte a la referència {benchmark}: {difference} ({verdict})",
        "chart_title": "NPS per {bucket}",
        "week": "setmana",
        "day": "dia",
        "margin_band": "marge del 95 %",
        "benchmark_line": "referència",
    },
    "it": {
        "subject": "Riepilogo NPS di {brand}, {since} – {until}",
        "title": "Riepilogo NPS di {brand}: {since} – {until}",
        "nps": "NPS {nps} ± {margin} ({responses} risposte)",
        "nps_no_margin": "NPS {nps} ({responses} risposte, margine non stimabile)",
        "nps_none": "NPS: nessuna risposta in questo periodo",
        "change": "Variazione rispetto al periodo precedente: {change} ({verdict})",
        "change_none": "Variazione rispetto al periodo precedente: niente da confrontare",
        "significant": "significativa",
        "not_significant": "non significativa",
        "response_rate": "Tasso di risposta: {rate} ({responses} su {asked} interpellati)",
        "response_rate_none": "Tasso di risposta: nessuno è stato interpellato",
        "detractors": "Detrattori aperti: {open}, di cui scaduti: {overdue}",
        "movers_team": "Maggiori variazioni per team:",
        "movers_agent": "Maggiori variazioni per operatore:",
        "mover": "{name}: {change} {arrow} (ora {nps}, {responses} risposte)",
        "no_movers": "nessun gruppo con abbastanza risposte in entrambi i periodi",
        "benchmark": "Rispetto al riferimento {benchmark}: {difference} ({verdict})",
        "chart_title": "NPS per {bucket}",
        "week": "settimana",
        "day": "giorno",
        "margin_band": "margine al 95 %",
        "benchmark_line": "riferimento",
    },
    "pt": {
        "subject": "Resumo NPS de {brand}, {since} – {until}",
        "title": "Resumo NPS de {brand}: {since} – {until}",
        "nps": "NPS {nps} ± {margin} ({responses} respostas)",
        "nps_no_margin": "NPS {nps} ({responses} respostas, margem não estimável)",
        "nps_none": "NPS: sem respostas neste período",
        "change": "Variação face ao período anterior: {change} ({verdict})",
        "change_none": "Variação face ao período anterior: nada a comparar",
        "significant": "significativa",
        "not_significant": "não significativa",
        "response_rate": "Taxa de resposta: {rate} ({responses} de {asked} inquiridos)",
        "response_rate_none": "Taxa de resposta: ninguém foi inquirido",
        "detractors": "Detratores em aberto: {open}, dos quais em atraso: {overdue}",
        "movers_team": "Maiores variações por equipa:",
        "movers_agent": "Maiores variações por agente:",
        "mover": "{name}: {change} {arrow} (agora {nps}, {responses} respostas)",
        "no_movers": "nenhum grupo com respostas suficientes nos dois períodos",
        "benchmark": "Face à referência {benchmark}: {difference} ({verdict})",
        "chart_title": "NPS por {bucket}",
        "week": "semana",
        "day": "dia",
        "margin_band": "margem de 95 %",
        "benchmark_line": "referência",
    },
    "fr": {
        "subject": "Synthèse NPS de {brand}, {since} – {until}",
        "title": "Synthèse NPS de {brand} : {since} – {until}",
        "nps": "NPS {nps} ± {margin} ({responses} réponses)",
        "nps_no_margin": "NPS {nps} ({responses} réponses, marge non estimable)",
        "nps_none": "NPS : aucune réponse sur cette période",
        "change": "Évolution par rapport à la période précédente : {change} ({verdict})",
        "change_none": "Évolution par rapport à la période précédente : rien à comparer",
        "significant": "significative",
        "not_significant": "non significative",
        "response_rate": "Taux de réponse : {rate} ({responses} sur {asked} sollicités)",
        "response_rate_none": "Taux de réponse : personne n'a été sollicité",
        "detractors": "Détracteurs ouverts : {open}, dont en retard : {overdue}",
        "movers_team": "Plus fortes évolutions par équipe :",
        "movers_agent": "Plus fortes évolutions par conseiller :",
        "mover": "{name} : {change} {arrow} (maintenant {nps}, {responses} réponses)",
        "no_movers": "aucun groupe avec assez de réponses sur les deux périodes",
        "benchmark": "Par rapport à la référence {benchmark} : {difference} ({verdict})",
        "chart_title": "NPS par {bucket}",
        "week": "semaine",
        "day": "jour",
        "margin_band": "marge à 95 %",
        "benchmark_line": "référence",
    },
    "de": {
        "subject": "NPS-Übersicht für {brand}, {since} – {until}",
        "title": "NPS-Übersicht für {brand}: {since} – {until}",
        "nps": "NPS {nps} ± {margin} ({responses} Antworten)",
        "nps_no_margin": "NPS {nps} ({responses} Antworten, Fehlerspanne nicht schätzbar)",
        "nps_none": "NPS: keine Antworten in diesem Zeitraum",
        "change": "Veränderung zum vorigen Zeitraum: {change} ({verdict})",
        "change_none": "Veränderung zum vorigen Zeitraum: nichts zu vergleichen",
        "significant": "signifikant",
        "not_significant": "nicht signifikant",
        "response_rate": "Antwortquote: {rate} ({responses} von {asked} befragt)",
        "response_rate_none": "Antwortquote: niemand wurde befragt",
        "detractors": "Offene Kritiker: {open}, davon überfällig: {overdue}",
        "movers_team": "Größte Veränderungen nach Team:",
        "movers_agent": "Größte Veränderungen nach Mitarbeiter:",
        "mover": "{name}: {change} {arrow} (jetzt {nps}, {responses} Antworten)",
        "no_movers": "keine Gruppe mit genug Antworten in beiden Zeiträumen",
        "benchmark": "Gegenüber dem Richtwert {benchmark}: {difference} ({verdict})",
        "chart_title": "NPS pro {bucket}",
        "week": "Woche",
        "day": "Tag",
        "margin_band": "95-%-Fehlerspanne",
        "benchmark_line": "Richtwert",
    },
}
assert set(TEXTS) == set(LOCALES) and all(set(t) == set(TEXTS["en"]) for t in TEXTS.values())


def lang(locale: str | None) -> str:
    """The built-in language for a locale ("pt-BR" → "pt"); English for one without digest texts."""
    code = language(locale or "en")
    return code if code in TEXTS else "en"


def text(key: str, locale: str | None, **values: object) -> str:
    return TEXTS[lang(locale)][key].format(**values)


def number(value: float, locale: str | None, *, signed: bool = False, digits: int = 1) -> str:
    """1.5 → "1.5" in English, "1,5" elsewhere; `signed` writes "+1,5" / "−1,5" (a true minus sign)."""
    written = f"{abs(value) if signed else value:.{digits}f}"
    if lang(locale) != "en":
        written = written.replace(".", ",")
    if signed:
        written = ("−" if round(value, digits) < 0 else "+") + written
    return written


def percent(fraction: float, locale: str | None) -> str:
    """0.425 → "42.5%" in English, "42,5 %" elsewhere."""
    written = number(100 * fraction, locale)
    return f"{written}%" if lang(locale) == "en" else f"{written}\u00a0%"
