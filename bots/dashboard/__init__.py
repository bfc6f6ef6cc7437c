"""The `/report` dashboard: one page, its assets shipped in the package (no CDN), data from /report/data.json."""

from bots.dashboard.routes import dashboard_routes

__all__ = ["dashboard_routes"]
