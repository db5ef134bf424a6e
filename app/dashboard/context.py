"""What every dashboard view shares: the settings, the templates, caches and the stream limit, built
once in `build_dashboard`; and the request's Redis clients, opened by the web app's lifespan."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.dashboard.auth import Viewer
from app.dashboard.overview import render_duration
from app.dashboard.repos import InstalledCache
from app.pipelined_redis import PipelinedRedis
from app.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"
MAX_STREAMS = 50  # concurrent live-update connections per process
KEEPALIVE_S = 15.0


def _when(ts: float | str | None) -> str:
    if ts in (None, ""):
        return "—"
    return dt.datetime.fromtimestamp(float(ts or 0), dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.2f}"


def build_templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every value is escaped unless a template says otherwise: the XSS defence
        undefined=jinja2.ChainableUndefined,  # artefact sections are optional, key by key
    )
    env.filters |= {"when": _when, "money": _money, "duration": render_duration,
                    "tojson_pretty": lambda v: json.dumps(v, indent=2, default=str)}  # fmt: skip
    return env


@dataclass
class Dashboard:
    settings: Settings
    templates: jinja2.Environment = field(default_factory=build_templates)
    installed: InstalledCache = field(default_factory=InstalledCache)
    max_streams: int = MAX_STREAMS
    keepalive_s: float = KEEPALIVE_S
    streams: int = 0  # live-update connections open now
    known_budgets: dict[int, tuple[float, float]] = field(default_factory=dict)  # repo id -> (day, month)

    def render(
        self, request: Request, name: str, viewer: Viewer | None, status: int = 200, **values: Any
    ) -> HTMLResponse:
        csrf = viewer.csrf if viewer else str(request.session.get("csrf", ""))
        html = self.templates.get_template(name).render(viewer=viewer, csrf=csrf, request=request, **values)
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})

    def budgets(self) -> tuple[float | None, float | None]:
        """The sum of the dollar budgets of the repos whose config this process has read, if any."""
        if not self.known_budgets:
            return None, None
        return (
            sum(d for d, _ in self.known_budgets.values()),
            sum(m for _, m in self.known_budgets.values()),
        )


def redis_of(request: Request) -> Redis:
    redis: Redis = request.state.dashboard_redis
    return redis


def pipelined_of(request: Request) -> PipelinedRedis:
    redis: PipelinedRedis = request.state.redis
    return redis
