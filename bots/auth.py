"""Bearer tokens for the operator API and the dashboard: admin tokens see every profile, a profile's own tokens
see only that profile. A browser signs in with a token once and then holds an opaque session (bots/sessions.py)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web

from bots.config import Config
from bots.throttle import THROTTLE, client_address

SESSION_COOKIE = "npsbot_session"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: `profiles` is None for an admin (all profiles)."""

    profiles: frozenset[str] | None

    def can(self, profile: str) -> bool:
        return self.profiles is None or profile in self.profiles

    def visible(self, all_profiles: list[str]) -> list[str]:
        return [p for p in all_profiles if self.can(p)]


SESSION_PRINCIPAL = web.RequestKey("session_principal", Principal)


def principal_for_token(config: Config, token: str) -> Principal | None:
    """Compare in constant time against every configured token."""
    if not token:
        return None
    given = token.encode("utf-8", "surrogateescape")  # a header that was not UTF-8 is compared as its raw bytes
    found: Principal | None = None
    for admin in config.admin_tokens:
        if admin and hmac.compare_digest(admin.encode(), given):
            found = Principal(None)
    if found is not None:
        return found
    names = [
        name
        for name, p in config.profiles.items()
        if any(t and hmac.compare_digest(t.encode(), given) for t in p.api_tokens)
    ]
    return Principal(frozenset(names)) if names else None


def bearer_token(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer` header, or None when the request has no such header."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def identify(request: web.Request, config: Config) -> Principal | None:
    """Who the request speaks for: its bearer token when it has one (never the cookie then), else the session
    the cookie names (looked up by the session middleware). A presented token that is wrong counts as a failed
    sign-in for the client's address: the API's tokens are the dashboard's, so guessing them here must cost the
    same; an address over the limit gets 429 before its token is even compared."""
    token = bearer_token(request)
    if token is None:
        return request.get(SESSION_PRINCIPAL)
    throttle = request.app.get(THROTTLE)
    address = client_address(request)
    if throttle is not None and (wait := throttle.retry_after(address)):
        raise too_many_failures(wait)
    principal = principal_for_token(config, token)
    if principal is None and token and throttle is not None:
        throttle.fail(address)
    return principal


def too_many_failures(wait: int) -> web.HTTPTooManyRequests:
    return web.HTTPTooManyRequests(
        text=web.json_response({"error": f"too many failed sign-ins from this address: retry in {wait} s"}).text,
        content_type="application/json",
        headers={"Retry-After": str(wait)},
    )


def authenticate(request: web.Request, config: Config) -> Principal:
    """401 with a JSON body when the token (or session) is missing or unknown."""
    principal = identify(request, config)
    if principal is None:
        raise web.HTTPUnauthorized(
            text='{"error": "missing or invalid bearer token"}',
            content_type="application/json",
            headers={"WWW-Authenticate": 'Bearer realm="npsbot"'},
        )
    return principal


def require_profile(principal: Principal, profile: str, config: Config) -> None:
    """404 for a profile that doesn't exist, 403 for one this token may not touch."""
    if profile not in config.profiles:
        raise web.HTTPNotFound(text=f'{{"error": "unknown profile {profile!r}"}}', content_type="application/json")
    if not principal.can(profile):
        raise web.HTTPForbidden(
            text='{"error": "this token may not access that profile"}', content_type="application/json"
        )
