"""Check runs: read a failing one (and find its Actions job), and keep the bot's own one up to date.

The bot's check run is found by `external_id` on the commit before one is created, so a retried or
duplicated job updates the same check run instead of adding a second.
"""

from __future__ import annotations

import re
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any

from app.github.client import Installation
from app.github.outgoing import outgoing
from app.github.rest import Json, body, fetch_pages, request, segment

ACTIONS_SLUG = "github-actions"
MAX_OUTPUT_CHARS = 65535  # GitHub's limit for output.summary and output.text
TRUNCATED_NOTE = "\n\n… (truncated: the full text is longer than GitHub shows on a check run)"

_JOB_URL = re.compile(r"/actions/runs/(\d+)/job/(\d+)(?:[/?#]|$)")


@dataclass(frozen=True)
class CheckRun:
    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    details_url: str | None
    external_id: str | None
    app_slug: str | None
    title: str | None
    summary: str | None
    actions_job_id: int | None  # set for GitHub Actions check runs only


@dataclass(frozen=True)
class CheckOutput:
    title: str
    summary: str
    text: str | None = None


def parse_actions_job_id(details_url: str | None, check_run_id: int) -> int:
    """The Actions job behind a check run: from `…/actions/runs/RUN/job/JOB`, else the check run id
    (for Actions check runs the two are the same number)."""
    match = _JOB_URL.search(details_url or "")
    return int(match.group(2)) if match else check_run_id


def parse_check_run(data: Json) -> CheckRun:
    app = data.get("app") or {}
    output = data.get("output") or {}
    slug = app.get("slug")
    return CheckRun(
        id=int(data["id"]),
        name=str(data["name"]),
        head_sha=str(data["head_sha"]),
        status=str(data["status"]),
        conclusion=data.get("conclusion"),
        details_url=data.get("details_url"),
        external_id=data.get("external_id") or None,
        app_slug=slug,
        title=output.get("title"),
        summary=output.get("summary"),
        actions_job_id=(
            parse_actions_job_id(data.get("details_url"), int(data["id"])) if slug == ACTIONS_SLUG else None
        ),
    )


def clip(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """`text` cut to `limit` characters, ending with a note that says so."""
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATED_NOTE)] + TRUNCATED_NOTE


def render_output(output: CheckOutput) -> Json:
    rendered: Json = {"title": output.title[:1000], "summary": clip(output.summary)}
    if output.text is not None:
        rendered["text"] = clip(output.text)
    return rendered


def _fields(status: str | None, conclusion: str | None, output: CheckOutput | None) -> Json:
    fields: Json = {}
    if status is not None:
        fields["status"] = status
    if conclusion is not None:
        fields["conclusion"] = conclusion  # GitHub sets status "completed" with a conclusion
    if output is not None:
        fields["output"] = render_output(output)
    return fields


def _outgoing(inst: Installation, owner: str, repo: str, output: CheckOutput | None) -> CheckOutput | None:
    if output is None:
        return None
    text = None if output.text is None else outgoing(inst, owner, repo, output.text)
    return replace(output, summary=outgoing(inst, owner, repo, output.summary), text=text)


async def fetch_check_run(inst: Installation, owner: str, repo: str, check_run_id: int) -> CheckRun:
    response = await inst.read(request("GET", f"/repos/{owner}/{repo}/check-runs/{check_run_id}"))
    return parse_check_run(body(response))


async def find_check_run(
    inst: Installation, owner: str, repo: str, head_sha: str, name: str, external_id: str
) -> CheckRun | None:
    """The check run named `name` on `head_sha` that carries `external_id`, if one exists."""
    path = f"/repos/{owner}/{repo}/commits/{segment(head_sha)}/check-runs"
    params = {"check_name": name, "filter": "all"}
    async with aclosing(fetch_pages(inst.read, path, params, key="check_runs")) as found:
        async for item in found:
            if item.get("external_id") == external_id:
                return parse_check_run(item)
    return None


async def create_check_run(
    inst: Installation,
    owner: str,
    repo: str,
    *,
    name: str,
    head_sha: str,
    external_id: str,
    status: str = "in_progress",
    conclusion: str | None = None,
    output: CheckOutput | None = None,
    details_url: str | None = None,
) -> CheckRun:
    """Create the bot's check run, or update the one already made for this `external_id` and sha."""
    existing = await find_check_run(inst, owner, repo, head_sha, name, external_id)
    if existing is not None:
        return await update_check_run(
            inst, owner, repo, existing.id, status=status, conclusion=conclusion, output=output
        )
    fields: dict[str, Any] = {"name": name, "head_sha": head_sha, "external_id": external_id}
    fields |= _fields(status, conclusion, _outgoing(inst, owner, repo, output))
    if details_url is not None:
        fields["details_url"] = details_url
    response = await inst.write(request("POST", f"/repos/{owner}/{repo}/check-runs", json=fields))
    return parse_check_run(body(response))


async def update_check_run(
    inst: Installation,
    owner: str,
    repo: str,
    check_run_id: int,
    *,
    status: str | None = None,
    conclusion: str | None = None,
    output: CheckOutput | None = None,
) -> CheckRun:
    fields = _fields(status, conclusion, _outgoing(inst, owner, repo, output))
    path = f"/repos/{owner}/{repo}/check-runs/{check_run_id}"
    response = await inst.write(request("PATCH", path, json=fields))
    return parse_check_run(body(response))
