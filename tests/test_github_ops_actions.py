"""Actions: job logs and artifacts behind GitHub's redirect, workflow dispatch and finding its run."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx

from app.github.actions_logs import Blob, download_artifact, download_job_log, render_log
from app.github.actions_runs import (
    build_created_filter,
    cancel_run,
    dispatch_workflow,
    find_dispatched_run,
    list_run_artifacts,
)
from app.github.client import Installation
from app.github.errors import Forbidden, GitHubError, NotFound, RateLimited, ServerError
from tests.github_support import PERMISSION_403, TOKEN, error

BLOB = "https://productionresultssa0.blob.core.windows.net/actions-results/7a1f/logs/job/job-logs.txt"
SIGNED = BLOB + "?rsct=text%2Fplain&se=2026-11-21T06%3A00%3A00Z&sig=abc%2Fdef%3D&sp=r&spr=https&sv=2021-12-02"
ZIP_BLOB = "https://pipelinesghubeus2.actions.githubusercontent.com/artifact/zip?sig=xyz"
LOG = "".join(f"2026-11-21T05:0{i % 10}:00.0000000Z line {i}\n" for i in range(2000)).encode()


def redirect(url: str) -> httpx.Response:
    return httpx.Response(302, headers={"location": url, "content-length": "0"})


async def _chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_job_log_follows_the_redirect_without_our_token(
    inst: Installation, api: respx.MockRouter
) -> None:
    asked = api.get("/repos/o/r/actions/jobs/31415/logs").mock(return_value=redirect(SIGNED))
    blob = api.get(BLOB).respond(200, content=LOG, headers={"content-type": "text/plain"})
    log = await download_job_log(inst, "o", "r", 31415, max_bytes=1_000_000)
    assert asked.calls.last.request.headers["authorization"] == f"token {TOKEN}"
    fetched = blob.calls.last.request
    assert "authorization" not in fetched.headers
    assert fetched.headers["user-agent"].startswith("python-httpx")  # our plain client, not githubkit's
    assert TOKEN not in str(fetched.headers) + str(fetched.url)
    assert fetched.url.params["sig"] == "abc/def="  # the signed URL is used as given
    assert (log.text, log.truncated, log.size) == (LOG.decode(), False, len(LOG))


async def test_a_long_log_keeps_its_tail_from_a_whole_line(inst: Installation, api: respx.MockRouter) -> None:
    api.get("/repos/o/r/actions/jobs/1/logs").mock(return_value=redirect(SIGNED))
    api.get(BLOB).mock(return_value=httpx.Response(200, content=_chunks(LOG)))
    log = await download_job_log(inst, "o", "r", 1, max_bytes=4096)
    assert log.truncated
    assert log.size == len(LOG)
    assert log.text.endswith("line 1999\n")
    assert log.text.startswith("2026-11-21T05:0")  # the cut partial line is dropped
    assert len(log.text.encode()) <= 4096
    assert "line 1000\n" not in log.text


def test_render_log_only_drops_a_partial_line_when_cut() -> None:
    assert render_log(Blob(b"tail of line\nnext\n", truncated=True, size=99)) == "next\n"
    assert render_log(Blob(b"whole\nnext\n", truncated=False, size=11)) == "whole\nnext\n"
    assert render_log(Blob(b"no newline at all", truncated=True, size=99)) == "no newline at all"
    assert render_log(Blob(b"bad \xff byte", truncated=False, size=10)) == "bad \ufffd byte"


async def test_an_expired_blob_url_is_asked_for_afresh_once(
    inst: Installation, api: respx.MockRouter
) -> None:
    fresh = BLOB + "?sig=fresh"
    asked = api.get("/repos/o/r/actions/jobs/1/logs").mock(side_effect=[redirect(SIGNED), redirect(fresh)])
    api.get(BLOB, params={"sig": "abc/def="}).respond(403, text="<Error>AuthenticationFailed</Error>")
    api.get(BLOB, params={"sig": "fresh"}).respond(200, content=b"ok\n")
    log = await download_job_log(inst, "o", "r", 1, max_bytes=100)
    assert log.text == "ok\n"
    assert asked.call_count == 2


async def test_a_blob_that_stays_expired_is_not_found(inst: Installation, api: respx.MockRouter) -> None:
    asked = api.get("/repos/o/r/actions/jobs/1/logs").mock(return_value=redirect(SIGNED))
    api.get(BLOB).respond(410, text="gone")
    with pytest.raises(NotFound):
        await download_job_log(inst, "o", "r", 1, max_bytes=100)
    assert asked.call_count == 2


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (error(410, "Gone"), NotFound),  # logs past retention
        (error(404, "Not Found"), NotFound),
        (error(403, PERMISSION_403), Forbidden),  # no Actions: read
        (error(429, "Too many requests", **{"retry-after": "17"}), RateLimited),
        (error(503, "Service Unavailable"), ServerError),
    ],
)
async def test_log_errors_from_github_are_typed(
    inst: Installation, api: respx.MockRouter, response: httpx.Response, kind: type[Exception]
) -> None:
    api.get("/repos/o/r/actions/jobs/1/logs").mock(return_value=response)
    with pytest.raises(kind):
        await download_job_log(inst, "o", "r", 1, max_bytes=100)


async def test_a_blob_host_5xx_is_a_server_error(inst: Installation, api: respx.MockRouter) -> None:
    api.get("/repos/o/r/actions/jobs/1/logs").mock(return_value=redirect(SIGNED))
    api.get(BLOB).respond(503, text="busy")
    with pytest.raises(ServerError):
        await download_job_log(inst, "o", "r", 1, max_bytes=100)


def _zip(**files: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return out.getvalue()


async def test_artifact_zip_behind_a_redirect(inst: Installation, api: respx.MockRouter) -> None:
    data = _zip(**{"result.json": '{"schema": 1}'})
    api.get("/repos/o/r/actions/artifacts/55/zip").mock(return_value=redirect(ZIP_BLOB))
    blob = api.get(ZIP_BLOB).respond(200, content=data, headers={"content-type": "application/zip"})
    got = await download_artifact(inst, "o", "r", 55, max_bytes=1_000_000)
    assert zipfile.ZipFile(io.BytesIO(got)).read("result.json") == b'{"schema": 1}'
    assert "authorization" not in blob.calls.last.request.headers


async def test_an_artifact_over_the_cap_is_refused(inst: Installation, api: respx.MockRouter) -> None:
    api.get("/repos/o/r/actions/artifacts/55/zip").mock(return_value=redirect(ZIP_BLOB))
    api.get(ZIP_BLOB).respond(200, content=b"z" * 5000)
    with pytest.raises(GitHubError, match="over the 1000 byte cap"):
        await download_artifact(inst, "o", "r", 55, max_bytes=1000)


def _artifact(artifact_id: int, name: str) -> dict[str, Any]:
    return {
        "id": artifact_id, "node_id": "MDg6QXJ0aWZhY3QxMQ==", "name": name, "size_in_bytes": 556,
        "url": f"https://api.github.com/repos/o/r/actions/artifacts/{artifact_id}",
        "archive_download_url": f"https://api.github.com/repos/o/r/actions/artifacts/{artifact_id}/zip",
        "expired": False, "created_at": "2026-11-21T05:00:00Z", "expires_at": "2026-12-21T05:00:00Z",
        "updated_at": "2026-11-21T05:00:00Z", "digest": "sha256:cfc3236bdad15b5898bca8408945c9e19e1917da",
        "workflow_run": {"id": 2332938, "repository_id": 1296269, "head_repository_id": 1296269,
                         "head_branch": "main", "head_sha": "328faa0536e6fef19753d9d91dc96a9931694ce3"},
    }  # fmt: skip


async def test_run_artifacts_across_pages(inst: Installation, api: respx.MockRouter) -> None:
    page2 = "https://api.github.com/repositories/1/actions/runs/7/artifacts?per_page=100&page=2"
    link = f'<{page2}>; rel="next", <{page2}>; rel="last"'
    api.get("/repos/o/r/actions/runs/7/artifacts").respond(
        200, json={"total_count": 2, "artifacts": [_artifact(1, "result-0")]}, headers={"link": link}
    )
    api.get(page2).respond(200, json={"total_count": 2, "artifacts": [_artifact(2, "result-1")]})
    artifacts = await list_run_artifacts(inst, "o", "r", 7)
    assert [(a.id, a.name, a.size_in_bytes, a.expired) for a in artifacts] == [
        (1, "result-0", 556, False), (2, "result-1", 556, False),
    ]  # fmt: skip


async def test_pagination_never_follows_a_link_to_another_host(
    inst: Installation, api: respx.MockRouter
) -> None:
    evil = "https://evil.example/steal?page=2"
    api.get("/repos/o/r/actions/runs/7/artifacts").respond(
        200, json={"total_count": 2, "artifacts": []}, headers={"link": f'<{evil}>; rel="next"'}
    )
    stolen = api.get(evil).respond(200, json={"artifacts": []})
    with pytest.raises(GitHubError, match="another host"):
        await list_run_artifacts(inst, "o", "r", 7)
    assert stolen.call_count == 0


async def test_dispatch_sends_ref_and_inputs(inst: Installation, api: respx.MockRouter) -> None:
    sent = api.post("/repos/o/r/actions/workflows/autofix-sandbox.yml/dispatches").respond(204)
    await dispatch_workflow(inst, "o", "r", "autofix-sandbox.yml", "main", {"correlation_id": "c-1"})
    assert json.loads(sent.calls.last.request.content) == {"ref": "main", "inputs": {"correlation_id": "c-1"}}


async def test_dispatch_without_actions_write_is_forbidden(inst: Installation, api: respx.MockRouter) -> None:
    api.post("/repos/o/r/actions/workflows/autofix-sandbox.yml/dispatches").mock(
        return_value=error(403, PERMISSION_403)
    )
    with pytest.raises(Forbidden):
        await dispatch_workflow(inst, "o", "r", "autofix-sandbox.yml", "main", {})


def _run(run_id: int, title: str) -> dict[str, Any]:
    return {
        "id": run_id, "name": "autofix sandbox", "display_title": title, "node_id": "WFR_kwLOBJ",
        "head_branch": "main", "head_sha": "acb5820ced9479c074f688cc328bf03f341a511d", "run_number": 562,
        "event": "workflow_dispatch", "status": "queued", "conclusion": None, "workflow_id": 159038,
        "html_url": f"https://github.com/o/r/actions/runs/{run_id}", "created_at": "2026-11-21T05:00:03Z",
        "updated_at": "2026-11-21T05:00:03Z", "run_attempt": 1,
    }  # fmt: skip


async def test_find_dispatched_run_by_correlation_id(inst: Installation, api: respx.MockRouter) -> None:
    runs = api.get("/repos/o/r/actions/workflows/autofix-sandbox.yml/runs").respond(
        200, json={"total_count": 2, "workflow_runs": [_run(1, "autofix c-0"), _run(2, "autofix c-1")]}
    )
    after = datetime(2026, 11, 21, 5, 0, 1, 500, tzinfo=UTC)
    run = await find_dispatched_run(inst, "o", "r", "autofix-sandbox.yml", "c-1", after)
    assert run is not None
    assert (run.id, run.status, run.conclusion) == (2, "queued", None)
    params = runs.calls.last.request.url.params
    assert params["event"] == "workflow_dispatch"
    assert params["created"] == ">=2026-11-21T05:00:01Z"


async def test_a_run_not_started_yet_is_none(inst: Installation, api: respx.MockRouter) -> None:
    api.get("/repos/o/r/actions/workflows/autofix-sandbox.yml/runs").respond(
        200, json={"total_count": 1, "workflow_runs": [_run(1, "autofix c-0")]}
    )
    after = datetime(2026, 11, 21, 5, 0, 0, tzinfo=UTC)
    assert await find_dispatched_run(inst, "o", "r", "autofix-sandbox.yml", "c-9", after) is None


async def test_cancel_a_run_and_one_already_completed(inst: Installation, api: respx.MockRouter) -> None:
    cancel = api.post("/repos/o/r/actions/runs/30433642/cancel").mock(
        side_effect=[
            httpx.Response(202, json={}),
            error(409, "Cannot cancel a workflow run that is completed."),
            error(404, "Not Found"),
        ]
    )
    assert await cancel_run(inst, "o", "r", 30433642) is True
    assert await cancel_run(inst, "o", "r", 30433642) is False  # it had completed: nothing to stop
    with pytest.raises(NotFound):
        await cancel_run(inst, "o", "r", 30433642)
    assert cancel.calls.last.request.headers["authorization"] == f"token {TOKEN}"


def test_created_filter_is_utc() -> None:
    local = datetime(2026, 11, 21, 7, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    assert build_created_filter(local) == ">=2026-11-21T05:00:00Z"
