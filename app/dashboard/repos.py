"""The repositories the dashboard knows: from job records and the audit trail, and (with the App's
credentials) every repository of every installation, listed through GitHub at most once a minute.
A GitHub failure is shown on the page, never raised."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from app.dashboard.audit_view import entry_repo
from app.dashboard.reads import fetch_audit_batch, fetch_recent_records
from app.github.client import GitHubApp
from app.github.contents import read_repo_config
from app.github.errors import GitHubError
from app.job_records import JobRecord
from app.repo_config import RepoConfig, RepoConfigError, parse_repo_config
from app.settings import Settings

CACHE_S = 60.0
AUDIT_LOOK = 2_000


@dataclass
class RepoRow:
    repo_id: int
    full_name: str
    installation_id: int | None = None
    last_job_at: float | None = None
    jobs: int = 0
    installed: bool = False


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


def build_repo_rows(
    records: list[JobRecord], audit: list[dict[str, Any]], installed: list[dict[str, Any]]
) -> list[RepoRow]:
    """One row per repository id, by name; records, then audit entries, then installations fill it in."""
    rows: dict[int, RepoRow] = {}
    for r in records:
        rid = _int(r.request.get("repo_id"))
        if rid is None:
            continue
        row = rows.setdefault(rid, RepoRow(rid, r.repo))
        row.jobs += 1
        row.installation_id = row.installation_id or _int(r.request.get("installation_id"))
        row.last_job_at = max(row.last_job_at or 0, r.updated_at)
    for e in audit:
        raw = e.get("request")
        request: dict[str, Any] = raw if isinstance(raw, dict) else {}
        rid, name = _int(e.get("repo_id") or request.get("repo_id")), entry_repo(e)
        if rid is not None and name:
            row = rows.setdefault(rid, RepoRow(rid, name))
            row.installation_id = row.installation_id or _int(request.get("installation_id"))
    for repo in installed:
        rid = int(repo["id"])
        row = rows.setdefault(rid, RepoRow(rid, str(repo["full_name"])))
        row.installed, row.installation_id = True, int(repo["installation_id"])
    return sorted(rows.values(), key=lambda row: row.full_name.lower())


@dataclass
class InstalledCache:
    """The installations' repositories, kept CACHE_S seconds (also the last error, shown as is)."""

    at: float = 0.0
    repos: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    async def fetch(self, settings: Settings, redis: Redis) -> tuple[list[dict[str, Any]], str | None]:
        if not settings.github_app_id or settings.private_key() is None:
            return [], None
        if time.monotonic() - self.at < CACHE_S:
            return self.repos, self.error
        try:
            self.repos, self.error = await fetch_installed(GitHubApp(settings, redis)), None
        except (GitHubError, OSError, ValueError, KeyError) as e:
            self.error = f"Could not list the App's installations: {e}"
        self.at = time.monotonic()
        return self.repos, self.error


async def fetch_installed(app: GitHubApp) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    installs = (await app.call(lambda gh: gh.rest.apps.async_list_installations(per_page=100))).json()
    for inst in installs:
        iid = int(inst["id"])
        listed = await app.installation(iid).read(
            lambda gh: gh.rest.apps.async_list_repos_accessible_to_installation(per_page=100)
        )
        for repo in listed.json().get("repositories", []):
            out.append({"id": repo["id"], "full_name": repo["full_name"], "installation_id": iid})
    return out


async def fetch_known_repos(redis: Redis) -> tuple[list[JobRecord], list[dict[str, Any]]]:
    return await fetch_recent_records(redis), await fetch_audit_batch(redis, None, AUDIT_LOOK)


@dataclass(frozen=True)
class EffectiveConfig:
    config: RepoConfig | None
    problems: list[str]  # config errors, or why the config could not be read


async def fetch_effective_config(
    settings: Settings, redis: Redis, installation_id: int | None, full_name: str
) -> EffectiveConfig:
    if installation_id is None or not settings.github_app_id or settings.private_key() is None:
        return EffectiveConfig(
            None, ["Not read: the App's credentials or this repo's installation are unknown."]
        )
    owner, name = full_name.split("/", 1)
    try:
        text = await read_repo_config(GitHubApp(settings, redis).installation(installation_id), owner, name)
    except (GitHubError, OSError) as e:
        return EffectiveConfig(None, [f"Could not read .github/autofix.yml: {e}"])
    try:
        return EffectiveConfig(parse_repo_config(text), [])
    except RepoConfigError as e:
        return EffectiveConfig(None, [str(p) for p in e.problems])
