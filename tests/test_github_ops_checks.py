"""Check runs: reading a failed one (and its Actions job), and the bot's own idempotent check run."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from app.github.checks import (
    MAX_OUTPUT_CHARS,
    CheckOutput,
    clip,
    create_check_run,
    fetch_check_run,
    parse_actions_job_id,
    update_check_run,
)
from app.github.client import Installation
from app.github.errors import Forbidden, NotFound, RateLimited
from tests.github_support import PERMISSION_403, error
from tests.support import fixture_json

SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
RUNS = "/repos/o/r/commits/" + SHA + "/check-runs"


def check_run(**overrides: Any) -> dict[str, Any]:
    """A check run as GitHub returns it (from a real check_run.completed delivery)."""
    data: dict[str, Any] = fixture_json("check_run.completed.1.json")["check_run"]
    return data | overrides


@pytest.mark.parametrize(
    ("details_url", "expected"),
    [
        ("https://github.com/o/r/actions/runs/6789/job/31415", 31415),
        ("https://github.com/o/r/actions/runs/6789/job/31415?pr=12", 31415),
        ("https://ghe.example.com/o/r/actions/runs/6789/job/31415#step:4:12", 31415),
        ("https://github.com/o/r/runs/555", 128),  # the older form: the check run id is the job id
        ("https://octocoders.io", 128),
        (None, 128),
        ("https://github.com/o/r/actions/runs/6789/job/31415x", 128),
    ],
)
def test_actions_job_id_from_details_url_else_the_check_run_id(
    details_url: str | None, expected: int
) -> None:
    assert parse_actions_job_id(details_url, 128) == expected


def test_clip_keeps_short_text_and_notes_a_cut() -> None:
    assert clip("short") == "short"
    cut = clip("x" * (MAX_OUTPUT_CHARS + 10))
    assert len(cut) == MAX_OUTPUT_CHARS
    assert cut.endswith("(truncated: the full text is longer than GitHub shows on a check run)")


async def test_fetch_check_run_resolves_the_actions_job(inst: Installation, api: respx.MockRouter) -> None:
    url = "https://github.com/o/r/actions/runs/99/job/4711"
    api.get("/repos/o/r/check-runs/128620228").respond(200, json=check_run(details_url=url))
    run = await fetch_check_run(inst, "o", "r", 128620228)
    assert (run.id, run.name, run.head_sha, run.status, run.conclusion) == (
        128620228, "Octocoders-linter", SHA, "completed", "failure",
    )  # fmt: skip
    assert run.app_slug == "github-actions"
    assert run.actions_job_id == 4711
    assert run.external_id is None  # GitHub sends "" for none


async def test_a_third_party_check_run_has_no_actions_job(inst: Installation, api: respx.MockRouter) -> None:
    other = check_run(app={"id": 1, "slug": "circleci-checks", "name": "CircleCI"})
    other["output"] |= {"title": "2 tests failed", "summary": "see details"}
    api.get("/repos/o/r/check-runs/128620228").respond(200, json=other)
    run = await fetch_check_run(inst, "o", "r", 128620228)
    assert run.actions_job_id is None
    assert (run.title, run.summary) == ("2 tests failed", "see details")


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (error(404, "Not Found"), NotFound),
        (error(403, PERMISSION_403), Forbidden),
        (error(403, "API rate limit exceeded", **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"}),
         RateLimited),
    ],
)  # fmt: skip
async def test_fetch_errors_are_typed(
    inst: Installation, api: respx.MockRouter, response: httpx.Response, kind: type[Exception]
) -> None:
    api.get("/repos/o/r/check-runs/1").mock(return_value=response)
    with pytest.raises(kind):
        await fetch_check_run(inst, "o", "r", 1)


def _listing(*runs: dict[str, Any]) -> dict[str, Any]:
    return {"total_count": len(runs), "check_runs": list(runs)}


async def test_create_makes_a_check_run_with_a_clipped_summary(
    inst: Installation, api: respx.MockRouter
) -> None:
    listed = api.get(RUNS).respond(200, json=_listing())
    created = api.post("/repos/o/r/check-runs").respond(
        201,
        json=check_run(id=777, name="autofix", status="in_progress", conclusion=None, external_id="job-1"),
    )
    output = CheckOutput("Reproducing", "s" * 70000, text="details")
    run = await create_check_run(
        inst, "o", "r", name="autofix", head_sha=SHA, external_id="job-1", output=output
    )
    assert run.id == 777
    assert listed.calls.last.request.url.params["check_name"] == "autofix"
    sent = json.loads(created.calls.last.request.content)
    assert sent["name"] == "autofix"
    assert sent["head_sha"] == SHA
    assert sent["external_id"] == "job-1"
    assert sent["status"] == "in_progress"
    assert len(sent["output"]["summary"]) == MAX_OUTPUT_CHARS
    assert sent["output"]["text"] == "details"


async def test_create_updates_the_existing_check_run_for_the_external_id(
    inst: Installation, api: respx.MockRouter
) -> None:
    ours = check_run(id=555, name="autofix", status="in_progress", conclusion=None, external_id="job-1")
    not_ours = check_run(id=444, name="autofix", external_id="job-0")
    page2 = "https://api.github.com/repositories/1/commits/" + SHA + "/check-runs?page=2"
    api.get(RUNS).respond(200, json=_listing(not_ours), headers={"link": f'<{page2}>; rel="next"'})
    api.get(page2).respond(200, json=_listing(ours))
    created = api.post("/repos/o/r/check-runs").respond(201, json=check_run())
    patched = api.patch("/repos/o/r/check-runs/555").respond(
        200, json=ours | {"status": "completed", "conclusion": "success"}
    )
    run = await create_check_run(
        inst, "o", "r", name="autofix", head_sha=SHA, external_id="job-1",
        status="completed", conclusion="success", output=CheckOutput("Fixed", "PR #3"),
    )  # fmt: skip
    assert created.call_count == 0
    assert run.id == 555
    assert run.conclusion == "success"
    assert json.loads(patched.calls.last.request.content) == {
        "status": "completed", "conclusion": "success", "output": {"title": "Fixed", "summary": "PR #3"},
    }  # fmt: skip


async def test_update_sends_only_what_changed(inst: Installation, api: respx.MockRouter) -> None:
    patched = api.patch("/repos/o/r/check-runs/9").respond(200, json=check_run(id=9))
    await update_check_run(inst, "o", "r", 9, conclusion="neutral")
    assert json.loads(patched.calls.last.request.content) == {"conclusion": "neutral"}


async def test_create_rate_limited_is_typed(inst: Installation, api: respx.MockRouter) -> None:
    api.get(RUNS).respond(200, json=_listing())
    api.post("/repos/o/r/check-runs").mock(return_value=error(403, "secondary", **{"retry-after": "30"}))
    with pytest.raises(RateLimited):
        await create_check_run(inst, "o", "r", name="autofix", head_sha=SHA, external_id="x")
