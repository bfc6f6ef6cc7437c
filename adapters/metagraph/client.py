"""The Graph API as the channels call it: JSON to `{api_base}/{id}/{edge}` with the access token in the
Authorization header (never in the URL, where proxies and logs keep it), every path segment validated, no redirect
followed, and an error envelope turned into `GraphError` carrying Meta's codes but none of its message text."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from yarl import URL

from adapters.http import read_capped, request_origin, retry_after, status_text
from core.delivery import DeliveryError, PermanentFailure, RetryLater

SEGMENT = re.compile(r"[A-Za-z0-9_.-]{1,128}")  # ids (digits), `me`, `messages`, a version such as v21.0
TYPE = re.compile(r"[A-Za-z0-9_]{1,64}")  # an error type as Meta names them (OAuthException, GraphMethodException)
MAX_ANSWER = 64 * 1024  # bytes of an answer read: a message id, or an error envelope
USAGE_HEADER = "X-Business-Use-Case-Usage"  # Graph's rate-limit usage per business object, with a wait in minutes
MAX_USAGE_HEADER = 8 * 1024
DEFAULT_API_BASE = "https://graph.facebook.com/v21.0"


class BadSegment(PermanentFailure):
    """A value that may not go into a Graph URL path (a stored id that is not one): nothing was sent."""


class GraphError(DeliveryError):
    """An answer carrying Graph's error envelope. str() holds the HTTP status and Meta's code, subcode and type,
    never its `message` (which may quote what we sent, or anything a host at api_base chose to say)."""

    def __init__(
        self,
        status: int,
        code: int | None,
        subcode: int | None = None,
        type: str | None = None,  # Meta's own name for it
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.subcode = subcode
        self.type = type
        self.retry_after = retry_after
        parts = [f"Graph API error {code if code is not None else 'without a code'}"]
        if subcode is not None:
            parts.append(f"subcode {subcode}")
        if type:
            parts.append(type)
        super().__init__(f"{', '.join(parts)} (HTTP {status})")


def segment(value: str) -> str:
    """One path segment as it may go into a Graph URL: letters, digits, `_`, `.`, `-`, never `.` or `..`
    (which would climb out of the path), percent-encoded for good measure. Anything else raises BadSegment."""
    if not isinstance(value, str) or not SEGMENT.fullmatch(value) or value in (".", ".."):
        raise BadSegment("a Graph path segment is refused: not an id; nothing sent")
    return urllib.parse.quote(value, safe="")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_error(status: int, body: bytes, wait: float | None = None) -> GraphError | None:
    """The GraphError an answer's body describes, or None when it holds no Graph error envelope."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    kind = error.get("type")
    kind = kind if isinstance(kind, str) and TYPE.fullmatch(kind) else None
    return GraphError(status, _int(error.get("code")), _int(error.get("error_subcode")), kind, wait)


def regain_after(resp: aiohttp.ClientResponse) -> float | None:
    """Seconds until Graph lets this app call again: Retry-After when a proxy sends it, else the largest
    `estimated_time_to_regain_access` (minutes) in X-Business-Use-Case-Usage, which Meta sends with its rate-limit
    errors (Messenger's and Instagram's rate limits); None when neither says."""
    wait = retry_after(resp)
    if wait is not None:
        return wait
    raw = resp.headers.get(USAGE_HEADER, "")
    if not raw or len(raw) > MAX_USAGE_HEADER:
        return None
    try:
        usage = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    minutes = [
        entry.get("estimated_time_to_regain_access")
        for entries in (usage.values() if isinstance(usage, dict) else ())
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]
    longest = max((m for m in minutes if isinstance(m, int | float) and not isinstance(m, bool) and m > 0), default=0)
    return float(min(longest, 24 * 60) * 60) if longest else None


class GraphClient:
    """One access token against one Graph base (`https://graph.facebook.com/v21.0`, or a fake's URL in tests).
    The session is the channel's (adapters.http, which refuses redirects); this class never closes it."""

    def __init__(self, session: aiohttp.ClientSession, api_base: str, access_token: str) -> None:
        if request_origin(api_base) is None:
            raise ValueError("api_base must be an absolute http(s) URL")
        self.session = session
        self.api_base = api_base.rstrip("/")
        self.access_token = access_token

    def url(self, segments: Sequence[str]) -> URL:
        if not segments:
            raise BadSegment("a Graph call names at least one path segment")
        return URL(f"{self.api_base}/{'/'.join(segment(s) for s in segments)}", encoded=True)

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}", "Accept": "application/json"}

    async def post(self, segments: Sequence[str], payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST JSON; the answer's JSON object (empty when a 2xx answer holds none: the message went out, and a
        retry would send it twice)."""
        url = self.url(segments)
        try:
            async with self.session.post(url, json=dict(payload), headers=self._headers, allow_redirects=False) as r:
                return await self._answer(r)
        except aiohttp.ClientError as exc:
            if isinstance(exc, DeliveryError):  # adapters.http.RedirectRefused
                raise
            raise DeliveryError(f"Graph API unreachable ({type(exc).__name__})") from exc

    async def get(self, segments: Sequence[str], params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """GET with query parameters (e.g. `fields`); the answer's JSON object."""
        url = self.url(segments)
        query = dict(params or {})
        try:
            async with self.session.get(url, params=query, headers=self._headers, allow_redirects=False) as r:
                return await self._answer(r)
        except aiohttp.ClientError as exc:
            if isinstance(exc, DeliveryError):
                raise
            raise DeliveryError(f"Graph API unreachable ({type(exc).__name__})") from exc

    async def _answer(self, resp: aiohttp.ClientResponse) -> dict[str, Any]:
        body = await read_capped(resp, MAX_ANSWER)
        if 200 <= resp.status < 300:
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError, RecursionError):
                return {}
            return data if isinstance(data, dict) else {}
        wait = regain_after(resp)
        error = parse_error(resp.status, body, wait)
        if error is not None:
            raise error
        if resp.status == 429:
            raise RetryLater(status_text(429), wait)
        if resp.status >= 500 or resp.status == 408:
            raise DeliveryError(status_text(resp.status))
        raise PermanentFailure(status_text(resp.status))
