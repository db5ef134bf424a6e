"""The overview, the jobs list, a job's page, and the JSON API that serves the same data."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.artefacts import JobArtefacts
from app.dashboard.audit_view import fetch_job_audit
from app.dashboard.auth import Viewer
from app.dashboard.charts import render_bar_chart
from app.dashboard.context import Dashboard, redis_of
from app.dashboard.jobs_view import filter_records, job_detail, job_row
from app.dashboard.overview import build_overview
from app.dashboard.reads import fetch_overview_facts, fetch_recent_records
from app.github.urls import github_web_root
from app.job_records import JobStore

JOBS_SHOWN = 200


async def fetch_overview(dash: Dashboard, request: Request) -> dict[str, Any]:
    facts = await fetch_overview_facts(redis_of(request), now=time.time(), budgets=dash.budgets())
    return build_overview(facts)


def render_charts(overview: dict[str, Any]) -> dict[str, str]:
    jobs, spend = overview["charts"]["jobs"], overview["charts"]["spend"]
    days = [d["day"] for d in jobs]
    return {
        "jobs": render_bar_chart(
            "chart-jobs", "Jobs per day by outcome", days, [d["outcomes"] for d in jobs]
        ),
        "spend": render_bar_chart(
            "chart-spend", "Model dollars per day", days, [{"dollars": d["dollars"]} for d in spend]
        ),
    }


async def overview_page(dash: Dashboard, request: Request, viewer: Viewer) -> Response:
    data = await fetch_overview(dash, request)
    return dash.render(request, "overview.html", viewer, o=data, charts=render_charts(data))


async def overview_api(dash: Dashboard, request: Request, viewer: Viewer) -> Response:
    return JSONResponse(await fetch_overview(dash, request))


async def _jobs(request: Request) -> tuple[list[dict[str, Any]], dict[str, str]]:
    filters = {k: request.query_params.get(k, "").strip() for k in ("repo", "kind", "outcome")}
    records = filter_records(await fetch_recent_records(redis_of(request)), **filters)
    return [job_row(r) for r in records[:JOBS_SHOWN]], filters


async def jobs_page(dash: Dashboard, request: Request, viewer: Viewer) -> Response:
    rows, filters = await _jobs(request)
    return dash.render(request, "jobs.html", viewer, jobs=rows, filters=filters)


async def jobs_api(dash: Dashboard, request: Request, viewer: Viewer) -> Response:
    rows, filters = await _jobs(request)
    return JSONResponse({"jobs": rows, "filters": filters})


async def fetch_job(dash: Dashboard, request: Request) -> dict[str, Any] | None:
    redis = redis_of(request)
    record = await JobStore(redis).get(request.path_params["job_id"])
    if record is None:
        return None
    artefacts = await JobArtefacts(redis).get(record.job_id)
    audit = await fetch_job_audit(redis, record)
    return job_detail(record, artefacts, audit, github_web_root(dash.settings.github_api_url))


async def job_page(dash: Dashboard, request: Request, viewer: Viewer) -> Response:
    job = await fetch_job(dash, request)
    if job is None:
        return dash.render(
            request, "refused.html", viewer, status=404, message="No such job (or it expired)."
        )
    return dash.render(request, "job.html", viewer, job=job)


async def job_api(dash: Dashboard, request: Request, viewer: Viewer) -> Response:
    job = await fetch_job(dash, request)
    if job is None:
        return JSONResponse({"error": "no such job"}, status_code=404)
    return JSONResponse(job)
