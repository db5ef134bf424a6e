"""Audit search and paging, and a job's own entries: pure filters over decoded stream entries, and the
reader that pages through the stream with XREVRANGE.

Search is a case-insensitive substring match on the kind and every field value of the newest
AUDIT_SCAN entries (from the page's starting point); without a query, pages are plain XREVRANGE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from app.dashboard.reads import AUDIT_PAGE, AUDIT_SCAN, fetch_audit_batch
from app.job_records import JobRecord

BATCH = 500
JOB_WINDOW_S = 5.0  # a repo's entries this close to a job's run count as that job's


def entry_text(entry: dict[str, Any]) -> str:
    return " ".join(
        v if isinstance(v, str) else json.dumps(v, default=str) for k, v in entry.items() if k not in ("id",)
    ).lower()


def matches(entry: dict[str, Any], query: str) -> bool:
    return not query or query.lower() in entry_text(entry)


def entry_repo(entry: dict[str, Any]) -> str | None:
    request = entry.get("request")
    repo = entry.get("repo") or (request.get("repo") if isinstance(request, dict) else None)
    return str(repo) if repo else None


def job_entries(entries: list[dict[str, Any]], record: JobRecord) -> list[dict[str, Any]]:
    """Entries naming the job, and the repo's entries written while it ran (marked `by_repo`)."""
    out = []
    for e in entries:
        if e.get("job_id") == record.job_id:
            out.append(e | {"by_repo": False})
            continue
        try:
            at = float(e.get("at", 0))
        except (TypeError, ValueError):
            continue
        in_window = record.created_at - JOB_WINDOW_S <= at <= record.updated_at + JOB_WINDOW_S
        if entry_repo(e) == record.repo and in_window and not e.get("job_id"):
            out.append(e | {"by_repo": True})
    return out


@dataclass(frozen=True)
class AuditPage:
    entries: list[dict[str, Any]]  # newest first
    next_before: str | None  # the `before` of the next (older) page, None at the end
    scanned: int
    scan_limit_hit: bool


async def fetch_audit_page(
    redis: Redis,
    query: str = "",
    before: str | None = None,
    *,
    size: int = AUDIT_PAGE,
    scan: int = AUDIT_SCAN,
) -> AuditPage:
    found: list[dict[str, Any]] = []
    scanned, cursor, exhausted = 0, before, False
    while len(found) < size and scanned < scan:
        batch = await fetch_audit_batch(redis, cursor, min(BATCH, scan - scanned) if query else size)
        if not batch:
            exhausted = True
            break
        for entry in batch:
            scanned += 1
            cursor = entry["id"]
            if matches(entry, query):
                found.append(entry)
                if len(found) == size:
                    break
    more = not exhausted and (len(found) == size or scanned >= scan)
    return AuditPage(found, cursor if more else None, scanned, bool(query) and scanned >= scan)


async def fetch_job_audit(redis: Redis, record: JobRecord) -> list[dict[str, Any]]:
    entries = await fetch_audit_batch(redis, None, AUDIT_SCAN)
    return list(reversed(job_entries(entries, record)))  # oldest first, like a timeline
