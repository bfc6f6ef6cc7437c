"""Contacts from a CSV file (`npsbot contacts import`), streamed: a file of any size is read a batch at a time and
never held whole. Each row is validated on its own (core/contacts.py); a bad row is reported with its line number
and reason and the good rows are kept, saved a batch per transaction (core/contact_batches.py).

The file: UTF-8 (a byte-order mark is skipped), fields separated by `,` or `;` (whichever the start of the file
uses), quoted as spreadsheets quote. The header names the columns:

- `channel`, `id`, `locale`, `timezone`, `name`, `consent`, `external_id`, `conversation_id`, `workspace` are the
  contact's fields (any letter case); `channel` may be left out when the whole file is one channel (`--channel`);
- every other column is an attribute of that name; `attr.<name>` names an attribute whose name is one of the
  fields above; a type suffix reads the text as a number or a flag: `seats:int`, `score:float`, `vip:bool`
  (true/false, yes/no, 1/0); without one the value is kept as text.

An empty cell sets nothing: the stored value stays (clearing a field or removing an attribute is the API's null)."""

from __future__ import annotations

import codecs
import csv
import io
import math
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core.contact_batches import MAX_BATCH, save_batch
from core.contacts import MAX_INT, TEXT_FIELDS, ContactChange, InvalidContact, attribute_key, change
from core.messages import LOCALES
from core.store import Store
from core.suppression import SuppressionKeys

FIELD_COLUMNS = ("channel", "id", *TEXT_FIELDS, "consent")
ATTRIBUTE_PREFIX = "attr."
TYPES = ("text", "int", "float", "bool")
SAMPLE = 64 * 1024  # bytes read to tell the delimiter
TRUE, FALSE = ("true", "yes", "1"), ("false", "no", "0")
LISTED = 20  # bad rows kept with their reason; the rest are counted
Progress = Callable[[int, int], None]  # (bytes read, file size)


class UnreadableFile(Exception):
    """The file cannot be read as contacts (missing, no usable header) or not past a line (not UTF-8): one line.
    `imported`: what was done before that line, when the import had begun."""

    imported: Imported | None = None


@dataclass(frozen=True, slots=True)
class Column:
    field: str | None  # a contact field, or None for an attribute
    attribute: str | None = None
    kind: str = "text"


@dataclass
class Imported:
    """What an import did. `bad` lists (line, reason) for the first `keep` bad rows; `bad_rows` counts them all."""

    rows: int = 0
    saved: int = 0
    bad_rows: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)
    suppressed: list[int] = field(default_factory=list)  # lines of people erased on request, left out
    keep: int = LISTED

    def reject(self, line: int, reason: str) -> None:
        self.bad_rows += 1
        if len(self.bad) < self.keep:
            self.bad.append((line, reason))


def _column(name: str) -> Column:
    written = name.strip()
    if written.lower() in FIELD_COLUMNS:
        return Column(written.lower())
    base, _, kind = written.rpartition(":") if ":" in written else (written, "", "text")
    kind = kind.strip().lower()
    if kind not in TYPES:
        raise UnreadableFile(f"column {written!r}: the type after ':' is one of {', '.join(TYPES)}")
    base = base.strip()
    if base.lower().startswith(ATTRIBUTE_PREFIX):
        base = base[len(ATTRIBUTE_PREFIX) :]
    try:
        return Column(None, attribute_key(base), kind)
    except InvalidContact as exc:
        raise UnreadableFile(f"column {written!r}: {str(exc).split(': ', 1)[1]}") from None


def columns(header: list[str], channel: str | None) -> list[Column]:
    """The header read; UnreadableFile when it cannot name contacts (no id, no channel, a name used twice)."""
    found = [_column(h) for h in header]
    names = [c.field or f"attribute {c.attribute}" for c in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UnreadableFile(f"the header names {twice[0]!r} twice")
    if "id" not in names:
        raise UnreadableFile("the header has no 'id' column (the contact's user id on its channel)")
    if "channel" not in names and channel is None:
        raise UnreadableFile("the header has no 'channel' column: add one or name the channel with --channel")
    return found


def typed(column: Column, text: str) -> Any:
    where = f"attributes.{column.attribute}"
    value = text.strip()
    if column.kind == "text":
        return text
    if column.kind == "bool":
        if value.lower() not in (*TRUE, *FALSE):
            raise InvalidContact(where, f"{value[:40]!r} is not true/false, yes/no or 1/0")
        return value.lower() in TRUE
    try:
        number = int(value) if column.kind == "int" else float(value)
    except ValueError:
        what = "a whole number" if column.kind == "int" else "a number"
        raise InvalidContact(where, f"{value[:40]!r} is not {what}") from None
    if not math.isfinite(number) or abs(number) > MAX_INT:
        raise InvalidContact(where, f"a number between -{MAX_INT} and {MAX_INT}")
    return number


def row_change(
    cols: list[Column],
    values: list[str],
    *,
    profile: str,
    channel: str | None,
    channels: Collection[str],
    locales: Collection[str] = LOCALES,
) -> ContactChange:
    """One row's change; InvalidContact naming the first problem."""
    if len(values) != len(cols):
        raise InvalidContact("row", f"{len(values)} fields where the header has {len(cols)}")
    given: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for col, text in zip(cols, values, strict=True):
        if text.strip() == "":
            continue
        if col.field is None:
            attributes[str(col.attribute)] = typed(col, text)
        else:
            given[col.field] = text
    if attributes:
        given["attributes"] = attributes
    where = given.pop("channel", None) or channel
    if where is not None and where not in channels:
        raise InvalidContact("channel", f"profile {profile!r} has no {where[:32]!r} channel")
    return change(profile, where, given.pop("id", None), given, locales=locales)


class _Counted(io.RawIOBase):
    """The file's bytes, counting how many were read (the progress bar's position)."""

    def __init__(self, raw: Any) -> None:
        self.raw, self.count = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)
        self.count += n or 0
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def _dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;")
    except csv.Error:  # one column, or nothing to tell by: the default
        return csv.excel


def _decoded(stream: Any) -> Iterator[str]:
    """The file's lines as text, each decoded on its own so one that is not UTF-8 is named by its number."""
    for number, raw in enumerate(stream, 1):
        try:
            yield (raw[len(codecs.BOM_UTF8) :] if number == 1 and raw.startswith(codecs.BOM_UTF8) else raw).decode()
        except UnicodeDecodeError:
            raise UnreadableFile(f"line {number}: not UTF-8 text") from None


def records(path: Path) -> tuple[Iterator[tuple[int, list[str]]], _Counted, int]:
    """(line, fields) for each record — the line a record starts on, quoted line breaks counted, the header being
    line 1 — plus the counting stream and the file's size."""
    try:
        size = path.stat().st_size
        with path.open("rb") as head:
            sample = head.read(SAMPLE)
        counted = _Counted(path.open("rb", buffering=0))
    except OSError as exc:
        raise UnreadableFile(f"{path}: {exc.strerror or exc}") from None
    # Whole lines only; a character cut at the sample's end is not the file's fault (each line is checked later).
    shown = sample[: sample.rfind(b"\n") + 1] or sample
    stream = io.BufferedReader(counted)
    reader = csv.reader(_decoded(stream), _dialect(shown.decode("utf-8-sig", errors="replace")))

    def numbered() -> Iterator[tuple[int, list[str]]]:
        start = 1
        try:
            for fields in reader:
                yield start, fields
                start = reader.line_num + 1
        except csv.Error as exc:
            raise UnreadableFile(f"line {start}: {exc}") from None
        finally:
            stream.close()

    return numbered(), counted, size


async def import_csv(
    store: Store,
    keys: SuppressionKeys,
    path: Path,
    *,
    profile: str,
    channels: Collection[str],
    clock: Callable[[], datetime],
    locales: Collection[str] = LOCALES,
    channel: str | None = None,
    dry_run: bool = False,
    batch: int = MAX_BATCH,
    progress: Progress | None = None,
) -> Imported:
    """Read, validate and save the file's contacts into `profile`. `dry_run` validates every row and saves none
    (so whether someone was erased is not checked). UnreadableFile when the file cannot be read; at a line that
    cannot be read the import stops, and the good rows before it are saved."""
    done = Imported()
    rows, counted, size = records(path)
    first = next(rows, None)
    if first is None:
        raise UnreadableFile(f"{path}: empty file (a header line is expected)")
    cols = columns(first[1], channel)
    pending: list[ContactChange] = []
    lines: list[int] = []

    async def flush() -> None:
        if pending and not dry_run:
            saved = await save_batch(store, keys, pending, clock())
            done.saved += saved.saved
            done.suppressed += [lines[i] for i in saved.suppressed]
        elif dry_run:
            done.saved += len(pending)
        pending.clear()
        lines.clear()
        if progress is not None:
            progress(counted.count, size)

    try:
        for line, values in rows:
            if values == []:  # a blank line
                continue
            done.rows += 1
            try:
                pending.append(
                    row_change(cols, values, profile=profile, channel=channel, channels=channels, locales=locales)
                )
                lines.append(line)
            except InvalidContact as exc:
                done.reject(line, str(exc))
            if len(pending) >= batch:
                await flush()
    except UnreadableFile as exc:  # the import stops there; the good rows before it are kept
        await flush()
        exc.imported = done
        raise
    await flush()
    return done
