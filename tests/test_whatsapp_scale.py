"""The WhatsApp scale by itself: one list of ten rows within Meta's limits in every shipped language, every score
reachable in at most two picks, and row / button ids read back strictly whatever the client sends."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from adapters.whatsapp.scale import GROUPED, MORE, parse_reply, reply_id, score_list, step_buttons
from adapters.whatsapp.texts import BUILT_IN
from core.followup import MAX_SURVEY_ID
from core.messages import LOCALES, MessageCatalog

CATALOG = MessageCatalog()


def question(locale: str, survey_id: int = 42) -> dict[str, Any]:
    text = CATALOG.text("question", locale, brand="A brand with a rather long name, Inc.")
    low, high = CATALOG.text("scale_low", locale), CATALOG.text("scale_high", locale)
    return score_list("16505551234", survey_id, text, low, high, BUILT_IN[locale].choose)


def test_the_list_fits_metas_limits_in_every_language() -> None:
    for locale in LOCALES:
        interactive = question(locale)["interactive"]
        [section] = interactive["action"]["sections"]
        rows = section["rows"]
        assert len(rows) == 10  # Meta's maximum for a list message
        assert len(interactive["body"]["text"]) <= 1024 and len(interactive["action"]["button"]) <= 20
        assert len(section["title"]) <= 24
        for row in rows:
            assert len(row["title"]) <= 24 and len(row.get("description", "")) <= 72 and len(row["id"]) <= 200
        assert len({row["id"] for row in rows}) == 10


def test_a_long_label_is_cut_to_the_row_description() -> None:
    rows = score_list("1", 7, "q", "x" * 100, "y" * 100, "Choose")["interactive"]["action"]["sections"][0]["rows"]
    assert len(rows[0]["description"]) == 72 and rows[0]["description"].endswith("…")


def test_every_score_is_one_or_two_picks_away() -> None:
    """Walk the design: pick a row; a row asking for more brings the second step's buttons, pick one of those."""
    rows = question("en")["interactive"]["action"]["sections"][0]["rows"]
    reached: dict[int, int] = {}
    for row in rows:
        first = parse_reply(row["id"])
        assert first is not None and first.survey_id == 42
        if first.score is not None:
            reached[first.score] = 1
            continue
        assert first.wants == MORE
        for button in step_buttons("1", 42, "?")["interactive"]["action"]["buttons"]:
            second = parse_reply(button["reply"]["id"])
            assert second is not None and second.score is not None
            reached[second.score] = 2
    assert sorted(reached) == list(range(11))
    assert {s for s, picks in reached.items() if picks == 2} == set(GROUPED)
    assert len(step_buttons("1", 42, "?")["interactive"]["action"]["buttons"]) <= 3  # Meta's maximum


@given(st.integers(1, MAX_SURVEY_ID), st.sampled_from([*range(11), "more", "ask"]))
def test_ids_read_back_as_written(survey_id: int, what: int | str) -> None:
    reply = parse_reply(reply_id(survey_id, what))
    assert reply is not None and reply.survey_id == survey_id
    assert (reply.score, reply.wants) == ((what, None) if isinstance(what, int) else (None, what))


@given(st.one_of(st.text(max_size=80), st.integers(), st.none(), st.binary(max_size=20)))
def test_anything_else_reads_as_nothing_or_a_bounded_score(value: object) -> None:
    reply = parse_reply(value)
    if reply is not None:
        assert 1 <= reply.survey_id <= MAX_SURVEY_ID
        assert reply.score is None or 0 <= reply.score <= 10


def test_ids_out_of_bounds_are_refused() -> None:
    for bad in ("nps:0:5", "nps:1:11", f"nps:{MAX_SURVEY_ID + 1}:5", "nps:-3:5", "nps:1:5 ", "NPS:1:5", "nps:01:5"):
        assert parse_reply(bad) is None, bad
