"""The survey programme in the report surfaces, on SQLite and PostgreSQL: the kind, campaign and variant filters and
breakdowns, the kind comparison, the variants endpoint, the benchmark and the sampled count, through the operator
API (with admin and profile tokens), `npsbot report` and the responses export. Figures worked out by hand.

acme: variant a, 40 transactional surveys asked, 30 answered (15 P, 9 Pa, 6 D); variant b, 40 asked, 12 answered
(2 P, 4 Pa, 6 D); campaign q4, 50 relational asked, 20 answered (4 P, 6 Pa, 10 D); 12 closed conversations the
sample rate left out and 3 throttled. tapas: 10 transactional detractors. acme's benchmark is +10."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
import yaml
from aiohttp.test_utils import TestClient
from rich.console import Console

from bots.cli import main
from bots.report_cli import run_report
from core.profiles import ProfileSettings
from core.reports import Filters, summary
from core.reports.programme import variant_order
from core.reports.sampled import sampled_conversations
from core.store import Store
from core.survey import Policy
from core.variants import Variant
from tests.live import served
from tests.test_report_variants import surveys
from tests.test_reports import START, insert

ADMIN, ACME, TAPAS = "programme-admin-token", "programme-acme-token", "programme-tapas-token"
MINIMUM = 10
BENCHMARK = 10.0


def skipped(n: int, reason: str) -> list[dict]:
    """Conversations closed at START whose survey was never asked."""
    return [{"asked_at": None, "created_at": START, "state": "skipped", "skip_reason": reason} for _ in range(n)]


ROWS = [
    *surveys(40, 15, 9, 6, variant="a"),
    *surveys(40, 2, 4, 6, variant="b"),
    *surveys(50, 4, 6, 10, kind="relational", campaign="q4"),
    *skipped(12, "not_sampled"),
    *skipped(3, "throttled"),
    *surveys(10, 0, 0, 10, profile="tapas"),
]


def margin(p: int, pa: int, d: int) -> float:
    """The 95 % margin of an NPS, as core.scoring computes it."""
    n = p + pa + d
    return 1.96 * 100 * math.sqrt((p / n + d / n - (p / n - d / n) ** 2) / n)


def config(url: str) -> dict:
    return {
        "database_url": url,
        "admin_tokens": [ADMIN],
        "report": {"min_responses": MINIMUM},
        "profiles": {
            "acme": {"brand": "Acme", "api_tokens": [ACME], "benchmark": BENCHMARK, "channels": {"memory": {}}},
            "tapas": {"brand": "Tapas", "api_tokens": [TAPAS], "channels": {"memory": {}}},
        },
    }


async def insert_programme(store: Store) -> None:
    every = {"kind": "transactional", "campaign": None, "variant": None, "skip_reason": None}  # one statement's keys
    await insert(store, *(every | row for row in ROWS))


@pytest.fixture
async def programme(store: Store) -> Store:
    await insert_programme(store)
    return store


async def test_not_sampled_conversations_do_not_lower_the_response_rate(store: Store) -> None:
    await insert(store, *surveys(40, 15, 9, 6, skip_reason=None), *skipped(3, "throttled"))
    before = await summary(store, Filters(profile="acme"))
    await insert(store, *skipped(12, "not_sampled"))
    after = await summary(store, Filters(profile="acme"))
    assert (
        (after.asked, after.responses, after.response_rate)
        == (40, 30, 0.75)
        == (
            before.asked,
            before.responses,
            before.response_rate,
        )
    )
    sampled = await sampled_conversations(store, Filters(profile="acme"))
    assert sampled is not None and sampled.as_dict() == {"closed": 55, "sampled": 43, "sampled_out": 12}
    assert sampled.line() == "sampled 43 of 55 closed conversations"


async def test_sampled_counts_closed_conversations_only(programme: Store) -> None:
    acme = await sampled_conversations(programme, Filters(profile="acme"))
    assert acme is not None and acme.as_dict() == {"closed": 95, "sampled": 83, "sampled_out": 12}  # 80 asked + 15
    assert (await sampled_conversations(programme, Filters(profiles=("tapas",)))).as_dict() == {  # type: ignore[union-attr]
        "closed": 10,
        "sampled": 10,
        "sampled_out": 0,
    }
    assert await sampled_conversations(programme, Filters(kind="relational")) is None
    assert await sampled_conversations(programme, Filters(campaign="q4")) is None


def test_variant_order_comes_from_the_profile_or_the_campaign() -> None:
    policy = Policy(
        variants=(Variant("short"), Variant("long")), campaign_variants={"q4": (Variant("x"), Variant("y"))}
    )
    settings = ProfileSettings("acme", policy)
    assert variant_order(settings, None) == ["short", "long"]
    assert variant_order(settings, "q4") == ["x", "y"] and variant_order(settings, "q1") == []
    assert variant_order(None, None) == []


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(programme: Store):
    async def nothing(_runtime) -> None:
        return None

    async with served(config(programme.url), nothing) as c:
        yield c


async def get(client: TestClient, path: str, token: str = ADMIN, status: int = 200) -> dict:
    resp = await client.get(path, headers=bearer(token))
    assert resp.status == status, await resp.text()
    return await resp.json()


async def test_nps_filters_breakdowns_benchmark_and_sampling(client: TestClient) -> None:
    body = await get(client, "/api/v1/nps?profile=acme")
    s = body["summary"]
    # 21 P, 19 Pa, 22 D of 62 answered, 130 asked: NPS −1.61 ± 20.7, so +10 lies inside the interval
    assert (s["asked"], s["responses"], s["nps"]) == (130, 62, round(100 * (21 - 22) / 62, 2))
    assert s["margin"] == round(margin(21, 19, 22), 2)
    assert s["benchmark"] == {"benchmark": 10.0, "difference": round(-100 / 62 - 10, 2), "significant": False}
    assert body["sampling"] == {"closed": 95, "sampled": 83, "sampled_out": 12}
    assert body["skipped"] == {"not_sampled": 12, "throttled": 3}
    relational = await get(client, "/api/v1/nps?profile=acme&kind=relational")
    r = relational["summary"]
    # NPS −30 ± 34.2: +10 is 40 points away, outside the interval
    assert (r["asked"], r["responses"], r["nps"], r["margin"]) == (50, 20, -30.0, round(margin(4, 6, 10), 2))
    assert r["benchmark"] == {"benchmark": 10.0, "difference": -40.0, "significant": True}
    assert relational["sampling"] is None and relational["distribution"][0] == 10
    assert (await get(client, "/api/v1/nps?campaign=q4"))["summary"]["responses"] == 20
    b = (await get(client, "/api/v1/nps?variant=b"))["summary"]
    assert (b["asked"], b["responses"]) == (40, 12)
    transactional = (await get(client, "/api/v1/nps?kind=transactional"))["summary"]
    assert (transactional["asked"], transactional["responses"]) == (90, 52)  # tapas' 10 detractors too
    assert transactional["benchmark"] is None  # two profiles: no one benchmark applies
    mine = await get(client, "/api/v1/nps?by=kind", token=ACME)  # the token's only profile: its benchmark
    assert mine["summary"]["benchmark"]["benchmark"] == 10.0 and mine["summary"]["asked"] == 130
    assert {row["key"]: (row["asked"], row["responses"]) for row in mine["breakdown"]} == {
        "transactional": (80, 42),
        "relational": (50, 20),
    }
    by_variant = await get(client, "/api/v1/nps?profile=acme&by=variant")
    assert {row["key"]: row["responses"] for row in by_variant["breakdown"]} == {"a": 30, "b": 12, None: 20}
    by_campaign = await get(client, "/api/v1/nps?by=campaign")
    assert {row["key"]: row["asked"] for row in by_campaign["breakdown"]} == {"q4": 50, None: 90}
    tapas = await get(client, "/api/v1/nps", token=TAPAS)
    assert tapas["summary"]["asked"] == 10 and tapas["summary"]["benchmark"] is None  # tapas has none
    assert tapas["sampling"] == {"closed": 10, "sampled": 10, "sampled_out": 0}
    await get(client, "/api/v1/nps?profile=acme", token=TAPAS, status=403)
    assert "kind" in (await get(client, "/api/v1/nps?kind=nps", status=422))["error"]
    assert "by" in (await get(client, "/api/v1/nps?by=mood", status=422))["error"]


async def test_kind_comparison(client: TestClient) -> None:
    body = await get(client, "/api/v1/nps?profile=acme&compare=kind")
    cmp = body["comparison"]
    assert cmp["by"] == "kind" and cmp["difference_of"] == "relational - transactional"
    assert (cmp["transactional"]["nps"], cmp["relational"]["nps"]) == (round(100 * 5 / 42, 2), -30.0)
    # pooled 21 P, 19 Pa, 22 D of 62: SE = 100·sqrt(.6933·(1/42 + 1/20)) = 22.6; 41.9 < 1.96·SE = 44.3
    assert cmp["nps"] == {
        "difference": round(-30 - 100 * 5 / 42, 2),
        "significant": False,
        "verdict": "not significant",
    }
    # 20 of 50 against 42 of 80: pooled 62/130, 1.96·SE = 0.177 > 0.125
    assert cmp["response_rate"] == {"difference": -0.125, "significant": False, "verdict": "not significant"}
    assert "comparison" not in await get(client, "/api/v1/nps?profile=acme")
    assert "compare" in (await get(client, "/api/v1/nps?compare=agent", status=422))["error"]


async def test_variants_endpoint(client: TestClient) -> None:
    body = await get(client, "/api/v1/variants?profile=acme", token=ACME)
    assert (body["profile"], body["control"], body["min_responses"]) == ("acme", "a", MINIMUM)
    rows = {v["variant"]: v for v in body["variants"]}
    assert set(rows) == {"a", "b"} and rows["a"]["versus_control"] is None
    assert (rows["b"]["asked"], rows["b"]["responses"], rows["b"]["response_rate"]) == (40, 12, 0.3)
    assert rows["b"]["versus_control"] == {
        "response_rate": {"difference": -0.45, "significant": True, "verdict": "significant"},
        "nps": {"difference": -63.33, "significant": True, "verdict": "significant"},
    }
    named = await get(client, "/api/v1/variants?profile=acme&control=b")
    assert named["control"] == "b" and named["variants"][0]["versus_control"]["nps"]["difference"] == 63.33
    q4 = await get(client, "/api/v1/variants?profile=acme&campaign=q4&kind=relational")
    assert (q4["control"], q4["variants"], q4["campaign"], q4["kind"]) == (None, [], "q4", "relational")
    assert "no variant 'z'" in (await get(client, "/api/v1/variants?profile=acme&control=z", status=404))["error"]
    await get(client, "/api/v1/variants?profile=tapas", token=ACME, status=403)
    await get(client, "/api/v1/variants?profile=acme", token=TAPAS, status=403)
    await get(client, "/api/v1/variants?profile=nope", status=404)
    assert "profile: required" in (await get(client, "/api/v1/variants", token=ACME, status=422))["error"]
    assert (await client.get("/api/v1/variants?profile=acme")).status == 401


async def test_responses_carry_kind_campaign_and_variant(client: TestClient) -> None:
    page = await get(client, "/api/v1/responses?profile=acme&kind=relational&limit=500")
    assert len(page["items"]) == 50
    assert {(i["kind"], i["campaign"], i["variant"]) for i in page["items"]} == {("relational", "q4", None)}
    b = await get(client, "/api/v1/responses?variant=b&limit=500")
    assert len(b["items"]) == 40 and {i["kind"] for i in b["items"]} == {"transactional"}
    one = await get(client, f"/api/v1/responses/{b['items'][0]['id']}")
    assert (one["kind"], one["campaign"], one["variant"]) == ("transactional", None, "b")
    text = await (await client.get("/api/v1/responses.csv?campaign=q4", headers=bearer(ACME))).text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 50 and {(r["kind"], r["campaign"], r["variant"]) for r in rows} == {("relational", "q4", "")}


async def test_openapi_documents_the_programme(client: TestClient) -> None:
    doc = await get(client, "/api/v1/openapi.json")
    nps = {p["name"]: p for p in doc["paths"]["/api/v1/nps"]["get"]["parameters"]}
    assert nps["kind"]["schema"]["enum"] == ["transactional", "relational"]
    assert {"campaign", "variant"} <= set(nps) and nps["compare"]["schema"]["enum"] == ["kind"]
    assert {"kind", "campaign", "variant"} <= set(nps["by"]["schema"]["enum"])
    responses = {p["name"] for p in doc["paths"]["/api/v1/responses"]["get"]["parameters"]}
    assert {"kind", "campaign", "variant"} <= responses
    variants = {p["name"]: p for p in doc["paths"]["/api/v1/variants"]["get"]["parameters"]}
    assert variants["profile"]["required"] is True and {"control", "campaign", "kind"} <= set(variants)
    assert {"kind", "campaign", "variant"} <= set(doc["components"]["schemas"]["ResponseOut"]["properties"])


async def test_report_cli_programme_sections(programme: Store) -> None:
    settings = {"acme": ProfileSettings("acme", benchmark=BENCHMARK), "tapas": ProfileSettings("tapas")}
    common = {"since": None, "until": None, "bucket": "week", "minimum": MINIMUM, "settings": settings}
    data = json.loads(
        await run_report(programme.url, profile="acme", by=["kind", "campaign", "variant"], fmt="json", **common)
    )
    assert data["filters"]["kind"] is None and data["sampling"] == {"closed": 95, "sampled": 83, "sampled_out": 12}
    assert data["summary"]["benchmark"]["significant"] is False
    assert {r["key"]: r["asked"] for r in data["breakdowns"]["kind"]} == {"transactional": 80, "relational": 50}
    assert {r["key"]: r["responses"] for r in data["breakdowns"]["campaign"]} == {"q4": 20, None: 42}
    assert [v["variant"] for v in data["variants"]["variants"]] == ["a", "b"]
    relational = json.loads(
        await run_report(programme.url, profile="acme", kind="relational", by=[], fmt="json", **common)
    )
    assert relational["summary"]["asked"] == 50 and relational["sampling"] is None
    assert relational["filters"]["kind"] == "relational" and relational["variants"]["variants"] == []
    console = Console(record=True, width=220)
    assert await run_report(programme.url, profile="acme", by=["kind"], fmt="table", console=console, **common) == ""
    text = console.export_text()
    assert "benchmark +10.0: -11.6 (within the margin of error)" in text
    assert "sampled 83 of 95 closed conversations" in text
    assert "variants of acme (control a)" in text
    [b_row] = [line for line in text.splitlines() if line.strip(" │┃|").startswith("b ")]
    assert "30%" in b_row and "-45.0% · significant" in b_row and "-63.3 · significant" in b_row
    assert "by kind" in text and "relational" in text
    exported = await run_report(programme.url, profile="acme", variant="b", by=[], fmt="csv", **common)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert len(rows) == 40 and {(r["kind"], r["variant"]) for r in rows} == {("transactional", "b")}


def test_npsbot_report_takes_the_programme_options(programme: Store, tmp_path, capsys) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config(programme.url)), encoding="utf-8")
    argv = ["report", "-c", str(path), "--profile", "acme", "--kind", "relational", "--campaign", "q4"]
    assert main([*argv, "--by", "variant,campaign", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["benchmark"] == {"benchmark": 10.0, "difference": -40.0, "significant": True}
    assert data["breakdowns"]["campaign"][0]["key"] == "q4" and data["breakdowns"]["variant"][0]["key"] is None
    with pytest.raises(SystemExit) as refused:
        main(["report", "-c", str(path), "--kind", "nps"])
    assert refused.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main(["report", "-c", str(path), "--variant", "b", "--by", "variant", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["responses"] == 12
