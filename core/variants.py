"""Variants of the question as an experiment: a profile or a campaign lists two or more wordings or send delays,
and each contact gets one, chosen by a hash of who they are so they get the same one every time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from hashlib import blake2b

from core.messages import language, placeholders

PLACEHOLDERS = frozenset({"brand"})  # what a variant's wording may fill in, as the catalogue's question does


@dataclass(frozen=True, slots=True)
class Variant:
    """One arm of the experiment: its wording per locale (may use {brand}; a locale it leaves out reads the
    catalogue's question) and its send delay (None: the policy's)."""

    name: str
    question: Mapping[str, str] = field(default_factory=dict, hash=False)
    send_delay: timedelta | None = None

    def wording(self, locale: str) -> str | None:
        """The question in `locale`, else in another form of its language ('pt' finds 'pt-BR'); None when the
        variant has none for it."""
        if self.question.get(locale):
            return self.question[locale]
        lang = language(locale)
        return next((text for code, text in self.question.items() if text and language(code) == lang), None)


def experiment_problems(variants: Sequence[Variant]) -> list[str]:
    """What makes a list of variants no experiment: one alone, a name used twice, a wording that cannot be filled."""
    names = [v.name for v in variants]
    problems = []
    if len(variants) == 1:
        problems.append("an experiment needs two or more variants (or none)")
    if len(set(names)) != len(names):
        problems.append(f"variant names must be unique: {names}")
    return problems + [line for v in variants for line in wording_problems(v)]


def wording_problems(variant: Variant) -> list[str]:
    """One line per wording that could not be filled in: a placeholder other than {brand}, or broken braces."""
    problems = []
    for locale, text in variant.question.items():
        try:
            unknown = sorted(placeholders(text) - PLACEHOLDERS)
        except ValueError as exc:
            problems.append(f"{variant.name}: question.{locale}: {exc}")
            continue
        problems += [f"{variant.name}: question.{locale}: unknown placeholder {{{name}}}" for name in unknown]
    return problems


def contact_key(profile: str, channel: str, user_id: str, experiment: str = "") -> str:
    """The key `choose` reads for a contact; `experiment` is "" for the profile's own variants, else the campaign."""
    return f"{profile}\x1f{channel}\x1f{user_id}" + experiment


def choose(variants: Sequence[Variant], key: str) -> Variant | None:
    """The contact's variant, evenly spread over the list; None when there is no experiment."""
    if not variants:
        return None
    digest = blake2b(key.encode(), digest_size=8).digest()
    return variants[int.from_bytes(digest, "big") % len(variants)]


def named(variants: Sequence[Variant], name: str | None) -> Variant | None:
    """The variant of that name, None when it is not (or no longer) in the list."""
    return next((v for v in variants if v.name == name), None) if name is not None else None
