"""Repositories: the list with pause state, one repo's config, budgets and open bot PRs, and the
pause/resume forms (per repo and global)."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import cast

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app.budgets import BudgetLedger
from app.dashboard import pause
from app.dashboard.auth import Viewer
from app.dashboard.context import Dashboard, pipelined_of, redis_of
from app.dashboard.repos import RepoRow, build_repo_rows, fetch_effective_config, fetch_known_repos
from app.github.urls import github_web_root
from app.queue import DeliveryQueue
from app.repo_state import GLOBAL_PAUSE, RepoState

LIMIT_KEYS = ("limits.jobs_per_hour", "limits.jobs_per_day", "limits.dollars_per_day",
              "limits.dollars_per_month", "limits.max_open_prs")  # fmt: skip


async def _rows(dash: Dashboard, request: Request) -> tuple[list[RepoRow], str | None]:
    redis = redis_of(request)
    records, audit = await fetch_known_repos(redis)
    installed, error = await dash.installed.fetch(dash.settings, redis)
    return build_repo_rows(records, audit, installed), error


async def repos_page(dash: Dashboard, request: Request, viewer: Viewer) -> Response:
    redis = redis_of(request)
    rows, error = await _rows(dash, request)
    async with redis.pipeline(transaction=False) as pipe:
        for r in rows:
            pipe.exists(RepoState(redis, r.repo_id).prefix + "paused")
        pipe.exists(GLOBAL_PAUSE)
        *flags, paused_all = await pipe.execute()
    paused = {r.repo_id: bool(f) for r, f in zip(rows, flags, strict=True)}
    return dash.render(request, "repos.html", viewer, repos=rows, paused=paused, error=error,
                       paused_all=bool(paused_all))  # fmt: skip


async def _row(dash: Dashboard, request: Request) -> RepoRow | None:
    repo_id = request.path_params["repo_id"]
    rows, _ = await _rows(dash, request)
    return next((r for r in rows if r.repo_id == repo_id), None)


async def repo_page(dash: Dashboard, request: Request, viewer: Viewer) -> Response:
    redis = redis_of(request)
    row = await _row(dash, request)
    if row is None:
        return dash.render(request, "refused.html", viewer, status=404, message="No such repository here.")
    state = RepoState(redis, row.repo_id)
    effective = await fetch_effective_config(dash.settings, redis, row.installation_id, row.full_name)
    if effective.config is not None:
        dash.known_budgets[row.repo_id] = (
            float(effective.config["limits.dollars_per_day"]),
            float(effective.config["limits.dollars_per_month"]),
        )
    prs = sorted(
        int(n) for n in await cast("Awaitable[set[bytes]]", redis.smembers(state.prefix + "open_prs"))
    )
    return dash.render(
        request, "repo.html", viewer, repo=row, effective=effective, limit_keys=LIMIT_KEYS,
        usage=await BudgetLedger(redis, row.repo_id).usage(), open_prs=prs,
        paused=bool(await redis.exists(state.prefix + "paused")),
        web=github_web_root(dash.settings.github_api_url),
    )  # fmt: skip


async def _repo_name(dash: Dashboard, request: Request) -> str | None:
    row = await _row(dash, request)
    return row.full_name if row else None


async def pause_repo(dash: Dashboard, request: Request, viewer: Viewer) -> Response:
    repo_id: int = request.path_params["repo_id"]
    name = await _repo_name(dash, request)
    await pause.pause(redis_of(request), repo_id, login=viewer.login, repo=name, now=time.time())
    return RedirectResponse("/dashboard/repos", status_code=303)


async def resume_repo(dash: Dashboard, request: Request, viewer: Viewer) -> Response:
    repo_id: int = request.path_params["repo_id"]
    name = await _repo_name(dash, request)
    queue = DeliveryQueue(pipelined_of(request))
    await pause.resume(redis_of(request), queue, repo_id, login=viewer.login, repo=name, now=time.time())
    return RedirectResponse("/dashboard/repos", status_code=303)


async def pause_all(dash: Dashboard, request: Request, viewer: Viewer) -> Response:
    await pause.pause(redis_of(request), None, login=viewer.login, repo=None, now=time.time())
    return RedirectResponse("/dashboard", status_code=303)


async def resume_all(dash: Dashboard, request: Request, viewer: Viewer) -> Response:
    queue = DeliveryQueue(pipelined_of(request))
    await pause.resume(redis_of(request), queue, None, login=viewer.login, repo=None, now=time.time())
    return RedirectResponse("/dashboard", status_code=303)
