"""`npsbot contacts import` on SQLite and PostgreSQL: rows validated one by one, bad ones reported on standard error
with their line numbers (quoted line breaks counted) and the good ones kept, a byte-order mark and `;` files read
as spreadsheets write them, typed attribute columns, people erased on request left out, and the exit status
telling all good (0), some bad (1) and unreadable (2) apart."""

from __future__ import annotations

import asyncio
import codecs
from pathlib import Path
from typing import Any

import pytest
import yaml

from bots.cli import main
from core import contact_batches, privacy
from core.contacts import Contact
from core.store import Store
from core.suppression import SuppressionKeys

HASH_KEY = "contacts-import-hash-key-0123456789"


@pytest.fixture
def config(store: Store, tmp_path: Path) -> Path:
    cfg = {
        "database_url": store.url,
        "privacy": {"hash_key": HASH_KEY},
        "profiles": {
            "acme": {
                "brand": "Acme",
                "channels": {"memory": {}, "webhook": {"secrets": ["whsec_contacts_import_test_0123456789"]}},
            },
            "tapas": {"brand": "Tapas", "channels": {"memory": {}}},
        },
    }
    path = tmp_path / "npsbot.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def run(capsys: pytest.CaptureFixture[str], config: Path, file: Path, *extra: str) -> tuple[int, str, str]:
    code = main(["contacts", "import", str(file), "-c", str(config), "--profile", "acme", *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def contact(store: Store, user: str, channel: str = "memory") -> Contact | None:
    async def read() -> Contact | None:
        fresh = Store(store.url)
        try:
            return await contact_batches.read(fresh, "acme", channel, user)
        finally:
            await fresh.dispose()

    return asyncio.run(read())


def write(tmp_path: Path, text: str, encoding: str = "utf-8", bom: bool = False) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + text.encode(encoding))
    return path


def test_a_spreadsheet_export_with_a_bom_and_semicolons(store, config, tmp_path, capsys) -> None:
    text = (
        "Channel;ID;Name;Locale;Timezone;plan;seats:int;vip:bool;attr.name;Consent\r\n"
        'memory;u-1;"Pérez; Ana";es-ES;Europe/Madrid;pro;12;yes;nick;granted\r\n'
        'webhook;u-2;"Line\r\nBreak";;America/Lima;free;3;no;;\r\n'
    )
    code, out, err = run(capsys, config, write(tmp_path, text, bom=True))
    assert (code, err) == (0, "")
    assert out.strip() == "2 rows: saved 2, 0 bad"
    first, second = contact(store, "u-1"), contact(store, "u-2", "webhook")
    assert first is not None and second is not None
    assert (first.name, first.locale, first.timezone, first.consent) == ("Pérez; Ana", "es", "Europe/Madrid", "granted")
    assert first.attributes == {"plan": "pro", "seats": 12, "vip": True, "name": "nick"}
    assert (second.name, second.timezone, second.locale) == ("Line\r\nBreak", "America/Lima", None)
    assert second.attributes == {"plan": "free", "seats": 3, "vip": False}


def test_bad_rows_are_reported_with_their_lines_and_the_good_ones_kept(store, config, tmp_path, capsys) -> None:
    text = (
        "channel,id,timezone,seats:int,name\n"
        "memory,g-1,Europe/Paris,1,One\n"  # line 2
        "memory,b-1,Moon/Base,2,Two\n"  # line 3
        'memory,g-2,,3,"multi\nline"\n'  # lines 4-5
        "memory,b-2,,many,Four\n"  # line 6
        "\n"  # line 7: blank, skipped
        "telegram,b-3,,,Five\n"  # line 8
        "memory,,,,Six\n"  # line 9
        "memory,b-5,UTC\n"  # line 10: short row
        "memory,g-3,,,Seven\n"  # line 11
    )
    code, out, err = run(capsys, config, write(tmp_path, text))
    assert code == 1
    assert err.splitlines() == [
        "line 3: timezone: unknown time zone 'Moon/Base': use an IANA name such as Europe/Madrid",
        "line 6: attributes.seats: 'many' is not a whole number",
        "line 8: channel: profile 'acme' has no 'telegram' channel",
        "line 9: id: required (text)",
        "line 10: row: 3 fields where the header has 5",
    ]
    assert out.strip() == "8 rows: saved 3, 5 bad"
    assert [u for u in ("g-1", "g-2", "g-3", "b-1", "b-2") if contact(store, u)] == ["g-1", "g-2", "g-3"]


def test_past_twenty_bad_rows_the_rest_are_counted(store, config, tmp_path, capsys) -> None:
    rows = "".join(f"memory,u-{i},{'Nowhere/' + str(i) if i % 2 else 'UTC'}\n" for i in range(60))
    code, out, err = run(capsys, config, write(tmp_path, "channel,id,timezone\n" + rows), "--batch", "7")
    lines = err.splitlines()
    assert code == 1 and len(lines) == 21 and lines[0].startswith("line 3: timezone:")
    assert lines[-1] == "… and 10 more bad rows"
    assert out.strip() == "60 rows: saved 30, 30 bad"
    assert contact(store, "u-58") is not None and contact(store, "u-59") is None


def test_the_channel_option_and_a_dry_run(store, config, tmp_path, capsys) -> None:
    path = write(tmp_path, "id,name\nd-1,Dee\nd-2,\n")
    code, out, _ = run(capsys, config, path, "--channel", "memory", "--dry-run")
    assert (code, out.strip()) == (0, "2 rows: would save 2, 0 bad")
    assert contact(store, "d-1") is None
    code, out, _ = run(capsys, config, path, "--channel", "memory")
    dee = contact(store, "d-1")
    assert code == 0 and dee is not None and dee.name == "Dee"


def test_an_empty_cell_keeps_what_is_stored(store, config, tmp_path, capsys) -> None:
    run(capsys, config, write(tmp_path, "channel,id,name,timezone,plan\nmemory,k-1,Kay,Asia/Seoul,pro\n"))
    code, _, _ = run(capsys, config, write(tmp_path, "channel,id,name,timezone,plan,seg\nmemory,k-1,,,,b2b\n"))
    kay = contact(store, "k-1")
    assert code == 0 and kay is not None
    assert (kay.name, kay.timezone, kay.attributes) == ("Kay", "Asia/Seoul", {"plan": "pro", "seg": "b2b"})


def test_people_erased_on_request_are_left_out(store, config, tmp_path, capsys) -> None:
    async def erase() -> None:
        fresh = Store(store.url)
        keys = SuppressionKeys([HASH_KEY.encode()])
        try:
            await contact_batches.save_batch(fresh, keys, [_change("e-1")], _now())
            scope = privacy.Scope(frozenset({"acme"}))
            await privacy.erase(fresh, keys, channel="memory", user_id="e-1", scope=scope, actor="test", now=_now())
        finally:
            await fresh.dispose()

    asyncio.run(erase())
    code, out, err = run(capsys, config, write(tmp_path, "channel,id,name\nmemory,e-0,Zero\nmemory,e-1,Gone\n"))
    assert (code, err) == (0, "")
    assert out.strip() == "2 rows: saved 1, 0 bad, 1 left out as erased on request (lines 3)"
    assert contact(store, "e-1") is None and contact(store, "e-0") is not None


@pytest.mark.parametrize(
    ("content", "extra", "says"),
    [
        (None, (), "No such file"),
        (b"", (), "empty file"),
        (b"channel,name\nmemory,x\n", (), "no 'id' column"),
        (b"id,name\nx,y\n", (), "no 'channel' column"),
        (b"channel,id,plan,plan\n", (), "names 'attribute plan' twice"),
        (b"channel,id,bad key\n", (), "column 'bad key'"),
        (b"channel,id,seats:integer\n", (), "column 'seats:integer'"),
        (b"id\nx\n", ("--channel", "telegram"), "no 'telegram' channel"),
        (b"id\nx\n", ("--profile", "nowhere", "--channel", "memory"), "unknown profile 'nowhere'"),
    ],
)
def test_a_file_that_cannot_be_read_as_contacts_is_status_2(
    store, config, tmp_path, capsys, content: bytes | None, extra: tuple[str, ...], says: str
) -> None:
    path = tmp_path / "contacts.csv"
    if content is not None:
        path.write_bytes(content)
    code, out, err = run(capsys, config, path, *extra)
    assert code == 2 and out == "" and says in err and err.startswith("npsbot contacts import: ")


def test_a_line_that_is_not_utf8_stops_the_import_there(store, config, tmp_path, capsys) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"channel,id\nmemory,ok\nmemory,caf\xe9\nmemory,after\n")  # Latin-1, not UTF-8
    code, out, err = run(capsys, config, path)
    assert (code, out.strip()) == (2, "1 rows: saved 1, 0 bad")
    assert err.strip() == "npsbot contacts import: line 3: not UTF-8 text (the import stopped there)"
    assert contact(store, "ok") is not None and contact(store, "after") is None


def test_a_terminal_gets_a_progress_bar(store, config, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    rows = "".join(f"memory,p-{i}\n" for i in range(50))
    code, out, err = run(capsys, config, write(tmp_path, "channel,id\n" + rows), "--batch", "10")
    assert code == 0 and out.strip() == "50 rows: saved 50, 0 bad"
    assert "importing" in err


def _change(user: str) -> Any:
    from core.contacts import change

    return change("acme", "memory", user, {"name": "Gone"})


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 3, 1, tzinfo=UTC)
