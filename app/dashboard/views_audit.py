"""The audit log page: newest first, 50 a page, with a substring search."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.dashboard.audit_view import fetch_audit_page
from app.dashboard.auth import Viewer
from app.dashboard.context import Dashboard, redis_of
from app.dashboard.reads import AUDIT_SCAN


async def audit_page(dash: Dashboard, request: Request, viewer: Viewer) -> Response:
    q = request.query_params.get("q", "").strip()[:200]
    before = request.query_params.get("before") or None
    if before is not None and not all(part.isdigit() for part in before.split("-", 1)):
        before = None  # not a stream id: start from the newest
    page = await fetch_audit_page(redis_of(request), q, before)
    return dash.render(request, "audit.html", viewer, q=q, page=page, scan=AUDIT_SCAN)
