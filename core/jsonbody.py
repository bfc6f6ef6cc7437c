"""Strict JSON for request bodies. Python's parser accepts things the database or a later `json.dumps` rejects
(NaN, 1e400, lone surrogates, nesting deep enough to exhaust the stack); refusing them here turns odd input into
a 400 with a reason instead of a 500 further down."""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadJson(ValueError):
    """The message is safe to return to the caller."""


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise BadJson(f"malformed JSON: number {text[:40]} is out of range")
    return value


def _constant(name: str) -> Any:
    raise BadJson(f"malformed JSON: {name} is not a JSON value")


def parse(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJson(f"malformed JSON: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        value = json.loads(text, parse_float=_finite, parse_constant=_constant)
    except BadJson:
        raise
    except json.JSONDecodeError as exc:
        raise BadJson(f"malformed JSON: {exc.msg} at position {exc.pos}") from None
    except RecursionError:
        raise BadJson(f"malformed JSON: nested deeper than {max_depth} levels") from None
    except ValueError as exc:  # e.g. an integer longer than Python converts (4300 digits)
        raise BadJson(f"malformed JSON: {exc}") from None
    _check(value, max_depth)
    return value


def _check(value: Any, max_depth: int) -> None:
    """Walk without recursion: no deeper than max_depth, and every string encodable as UTF-8."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise BadJson("malformed JSON: a string holds an unpaired UTF-16 surrogate")
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise BadJson(f"malformed JSON: nested deeper than {max_depth} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
