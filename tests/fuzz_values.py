"""Hypothesis strategies for the inbound fuzz suite: odd values (64-bit edges, NUL and odd unicode, extreme dates,
deep nesting) and mutations of near-valid payloads (a value swapped for an odd one or one of the wrong type, a key
dropped or added, a node buried deep), so generated requests reach past validation into the handlers."""

from __future__ import annotations

import copy
import itertools
import json
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from core.jsonbody import MAX_DEPTH

# Most dangerous first: hypothesis leans towards the start of a list when it generates (and shrinks towards it).
EDGE_INTS = [2**63, -(2**63) - 1, 2**64, 2**63 - 1, -(2**63), 2**62 + 1, 10**30, 2**53 + 1, 2**31, -(2**31), 2**32,
             2**31 - 1, 2**62, -(2**64), 10**100, 0, -1, 1, 10, 11, 255, 256]  # fmt: skip
ODD_STRINGS = [
    "\x00", "a\x00b", "y" * 257, "x" * 192, "é" * 129, "z" * 5000, "🏳️‍🌈" * 40, "\U0010ffff", "\ufeff", "\uffff",
    "\u202eevil", "\u0301", "", " ", "null", "true", "0", "-1", "1e400", "NaN", "Infinity", "9" * 25, "٣", "１０",
    "10/10", "nine", "<@U123|x>", "%00", "\\u0000", "'; DROP TABLE surveys; --", "\r\n", "\t", "🙂",
]  # fmt: skip
ODD_DATES = [
    "0001-01-01", "9999-12-31", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "0000-01-01",
    "10000-01-01", "2026-02-30", "2026-13-01", "1970-01-01T00:00:00Z", "2026-03-02T09:00:00.999999999",
    "-0001-01-01", "2026-03-02T25:00", "2026-W10", "20260302", "9999-12-31T23:59:59.999999+00:00",
    "0001-01-01T00:00:00-00:01", "2026-03-02T09:00:00+99:00", "1e20", "-62135596800", "253402300800",
]  # fmt: skip
# A branch taken about one time in eight. Hypothesis leans towards zero when it generates (and shrinks towards it),
# so the rare branch is the top value, not the bottom one.
RARELY = st.integers(0, 7).map(lambda n: n == 7)
# Header values a client can send (aiohttp refuses control characters itself) that are still odd.
HEADER_TEXT = st.text(st.characters(codec="latin-1", exclude_categories=("Cc",)), max_size=40)


_fresh = itertools.count(1)


def fresh() -> int:
    """A delivery id no earlier request used (update_id, event_id, webhook-id…). Not drawn: hypothesis leans to
    small numbers, and a repeated id is only ever acknowledged as a duplicate, never processed."""
    return next(_fresh)


def odd_ints() -> st.SearchStrategy[int]:
    """64-bit edges, numbers past them either way (hypothesis would mostly draw small ones from a wide range), any."""
    past = st.one_of(st.integers(2**63, 2**70), st.integers(-(2**70), -(2**63) - 1))
    return st.one_of(st.sampled_from(EDGE_INTS), past, st.integers())


def odd_text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(ODD_STRINGS), st.text(max_size=30), odd_ints().map(str))


def mostly(valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`valid` three times in four, else `odd` (one_of would take each about as often)."""
    return st.integers(0, 3).flatmap(lambda n: odd if n == 3 else valid)


def either(known: list[str]) -> st.SearchStrategy[str]:
    """One of the values the route knows, or odd text."""
    return st.one_of(st.sampled_from(known), odd_text())


def number(low: int, high: int) -> st.SearchStrategy[str]:
    """A number as query text: in range, or at the 64-bit edges and past them."""
    return st.one_of(st.integers(low, high), odd_ints()).map(str)


def instants() -> st.SearchStrategy[datetime]:
    zones = st.integers(-1439, 1439).map(lambda m: timezone(timedelta(minutes=m)))
    return st.datetimes(timezones=st.one_of(st.none(), st.just(UTC), zones))


def odd_dates() -> st.SearchStrategy[str]:
    """ISO dates and times at and past the calendar's ends, off by a zone, or not dates at all."""
    return st.one_of(
        st.sampled_from(ODD_DATES), instants().map(datetime.isoformat), st.dates().map(lambda d: d.isoformat())
    )


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.booleans(), odd_ints(), st.floats(), odd_text(), odd_dates(), st.sampled_from([[], {}])
    )


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(odd_text(), inner, max_size=3)


def any_json() -> st.SearchStrategy[Any]:
    return st.recursive(scalars(), _containers, max_leaves=8)


def nested(value: Any, depth: int, as_dict: bool = False) -> Any:
    for _ in range(depth):
        value = {"a": value} if as_dict else [value]
    return value


DEPTHS = st.sampled_from([MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 100])  # json.dumps recurses


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every node's path, leaves before their parents and the root last (generation leans to the first ones)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))
    yield prefix


def _get(value: Any, path: tuple) -> Any:
    for step in path:
        value = value[step]
    return value


def _like(draw: st.DrawFn, old: Any) -> Any:
    """A replacement: mostly odd values of the same kind, sometimes of another kind altogether."""
    if draw(st.integers(0, 3)) == 0:
        return draw(any_json())
    if isinstance(old, bool):
        return draw(st.one_of(st.integers(0, 2), st.just(None), st.just("true")))
    if isinstance(old, int):
        return draw(st.one_of(odd_ints(), odd_ints().map(str), st.floats()))
    if isinstance(old, str):
        return draw(st.one_of(odd_text(), odd_dates(), st.just(old + "\x00"), st.just(old * 60)))
    return draw(any_json())


@st.composite
def mutated(draw: st.DrawFn, payload: Any, max_changes: int = 3) -> Any:
    """`payload` with up to `max_changes` mutations; none at all is a valid (often accepted) request."""
    value = copy.deepcopy(payload)
    for _ in range(draw(st.one_of(st.just(0), st.integers(1, max_changes)))):
        path = draw(st.sampled_from(list(_paths(value))))
        op = draw(st.sampled_from(["replace", "drop", "add", "bury"]))
        old = _get(value, path)
        if op == "replace":
            new = _like(draw, old)
        elif op == "bury":
            new = nested(old, draw(DEPTHS), as_dict=draw(st.booleans()))
        elif op == "add" and isinstance(old, dict):
            new = {**old, draw(odd_text()): draw(any_json())}
        elif op == "add" and isinstance(old, list):
            new = [*old, draw(any_json())]
        elif op == "drop" and path:
            parent = _get(value, path[:-1])
            if isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent.pop(path[-1])
            continue
        else:
            new = _like(draw, old)
        if not path:
            value = new
        else:
            _get(value, path[:-1])[path[-1]] = new
    return value


# Bodies no serialiser writes but a sender can: empty, a BOM, nesting past the stack, NaN, numbers past a double or
# past Python's digit limit, a lone surrogate, duplicate keys, bytes that are not UTF-8.
RAW_BODIES = [
    b"", b" ", b"null", b"[]", b"{}", b"\xef\xbb\xbf{}", b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 5000 + b"1" + b"}" * 5000, b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
    b'{"x": NaN}', b'{"x": -Infinity}', b'{"x": 1e400}', b'{"x": ' + b"9" * 5000 + b"}", b'"\\ud800"',
    b'{"a": 1, "a": {"b": 2}}', b"\xff\xfe", b"\x00", b'{"\x00": 1}',
]  # fmt: skip


@st.composite
def json_bytes(draw: st.DrawFn, value: Any) -> bytes:
    """`value` serialised as a client might (escaped or raw UTF-8); now and then cut short, with a byte changed,
    wrapped in arrays deeper than any parser's stack, or replaced by one of RAW_BODIES."""
    if draw(RARELY):
        return draw(st.sampled_from(RAW_BODIES))
    body = json.dumps(value, ensure_ascii=draw(st.booleans())).encode()
    if not draw(RARELY):
        return body
    spoil = draw(st.sampled_from(["cut", "byte", "deep"]))
    if spoil == "cut" and body:
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif spoil == "byte" and body:
        at = draw(st.integers(0, len(body) - 1))
        body = body[:at] + draw(st.sampled_from([b"\xff", b"\x00", b"\xc3", b"}", b'"'])) + body[at + 1 :]
    elif spoil == "deep":
        depth = draw(st.sampled_from([MAX_DEPTH, 5000]))
        body = b"[" * depth + body + b"]" * depth
    return body


def form(fields: dict[str, Any]) -> str:
    """application/x-www-form-urlencoded, any value turned into text as a sender would."""
    pairs = [(str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in fields.items()]
    return urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)


@st.composite
def query_strings(draw: st.DrawFn, known: dict[str, st.SearchStrategy[Any]]) -> str:
    """A query string over the route's own parameters (and a few it does not know), repeated or odd."""
    pairs: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(0, 4))):
        name = draw(odd_text()) if not known or draw(RARELY) else draw(st.sampled_from(sorted(known)))
        value = draw(scalars()) if name not in known or draw(RARELY) else draw(known[name])
        pairs.append((name, value if isinstance(value, str) else json.dumps(value)))
    text = urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)
    if draw(RARELY):  # raw escapes a client would not produce: not UTF-8, cut short, not hex
        text += "&" + draw(st.sampled_from(["x=%ff%fe", "since=%", "until=%zz", "%00=%00", "a=%c3", "=&&=", ";"]))
    return text


READ_HEADERS = ["Accept", "Accept-Encoding", "Accept-Language", "Range", "If-Modified-Since", "X-Forwarded-For",
                "Cookie"]  # fmt: skip


def extra_headers(names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    """Headers a route reads or might trip over, with odd values."""
    values = st.one_of(
        HEADER_TEXT, odd_ints().map(str), st.sampled_from(["", " ", "application/json; charset=latin-1"])
    )
    return st.dictionaries(st.sampled_from(names), values, max_size=2)
