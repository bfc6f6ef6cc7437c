"""Bearer tokens for the operator API and the dashboard: admin tokens see every profile, a profile's own tokens
see only that profile."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web

from bots.config import Config

SESSION_COOKIE = "npsbot_session"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: `profiles` is None for an admin (all profiles)."""

    profiles: frozenset[str] | None

    def can(self, profile: str) -> bool:
        return self.profiles is None or profile in self.profiles

    def visible(self, all_profiles: list[str]) -> list[str]:
        return [p for p in all_profiles if self.can(p)]


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


def request_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.cookies.get(SESSION_COOKIE, "")


def authenticate(request: web.Request, config: Config) -> Principal:
    """401 with a JSON body when the token is missing or unknown."""
    principal = principal_for_token(config, request_token(request))
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
