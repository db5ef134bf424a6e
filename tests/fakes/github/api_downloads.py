"""Job logs and artifact zips behind GitHub's redirect to short-lived blob storage URLs.

The API answers 302 with a `Location` on `/_blobs/{key}` of this server, a different path standing
in for GitHub's blob host, and named by another host name (`localhost` for `127.0.0.1`) so that the
redirect crosses origins as GitHub's does: httpx then drops the Authorization header by itself.
Like Azure/S3 blob storage, a blob URL refuses any request that carries an `Authorization` header
(400: the signature in the URL is the only credential) and stops working after
`state.actions.blob_ttl` seconds (410), so a client that leaks its token there or keeps a URL too
long fails as it would against github.com.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.github.actionshapes import render_artifact
from tests.fakes.github.actionstate import Blob
from tests.fakes.github.errors import ApiError, not_found
from tests.fakes.github.http import RepoCall, paginated, repo_call, state_of
from tests.fakes.github.state import GitHubState

BLOBS = "/_blobs"
AUTH_REFUSED = (
    '<?xml version="1.0" encoding="utf-8"?><Error><Code>InvalidAuthenticationInfo</Code>'
    "<Message>Authentication information is not given in the correct format. Check the value of "
    "Authorization header.</Message></Error>"
)
EXPIRED = (
    '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code>'
    "<Message>Signed expiry time has expired.</Message></Error>"
)


def store_blob(state: GitHubState, data: bytes, content_type: str) -> str:
    """A fresh blob URL serving `data` until the blob TTL passes."""
    key = secrets.token_urlsafe(24)
    with state.lock:
        state.actions.blobs[key] = Blob(data, content_type, state.clock() + state.actions.blob_ttl)
    host = state.base_url.replace("://127.0.0.1:", "://localhost:", 1)
    return f"{host}{BLOBS}/{key}?sv=2025-01-05&se=signed&sig={secrets.token_urlsafe(12)}"


def redirect(call: RepoCall, url: str) -> Response:
    return call.ok(None, 302, {"location": url, "content-type": "text/html;charset=utf-8"})


async def job_logs(request: Request) -> Response:
    call = repo_call(request)
    job = call.state.actions.jobs.get(request.path_params["job_id"])
    run = None if job is None else call.state.actions.runs.get(job.run_id)
    if job is None or run is None or run.repo != call.repo.full_name or job.log is None:
        raise not_found()
    return redirect(call, store_blob(call.state, job.log.encode(), "text/plain"))


async def artifact_zip(request: Request) -> Response:
    call = repo_call(request)
    artifact = call.state.actions.artifacts.get(request.path_params["artifact_id"])
    run = None if artifact is None else call.state.actions.runs.get(artifact.run_id)
    if artifact is None or run is None or run.repo != call.repo.full_name:
        raise not_found()
    if request.path_params["archive_format"] != "zip":
        raise ApiError(400, "Unsupported archive format")
    if artifact.expires_at <= call.state.clock():
        raise ApiError(410, "Artifact has expired")
    return redirect(call, store_blob(call.state, artifact.data, "application/zip"))


async def blob(request: Request) -> Response:
    state = state_of(request)
    found = state.actions.blobs.get(request.path_params["key"])
    if "authorization" in request.headers:
        return Response(AUTH_REFUSED, 400, media_type="application/xml")
    if found is None:
        return Response(status_code=404)
    if found.expires_at <= state.clock():
        return Response(EXPIRED, 410, media_type="application/xml")
    return Response(found.data, 200, media_type=found.content_type)


async def get_artifact(request: Request) -> Response:
    call = repo_call(request)
    artifact = call.state.actions.artifacts.get(request.path_params["artifact_id"])
    run = None if artifact is None else call.state.actions.runs.get(artifact.run_id)
    if artifact is None or run is None or run.repo != call.repo.full_name:
        raise not_found()
    return call.ok(render_artifact(call.state.base_url, call.repo, run, artifact, call.state.clock()))


async def list_artifacts(request: Request) -> Response:
    call = repo_call(request)
    run = call.state.actions.runs.get(request.path_params["run_id"])
    if run is None or run.repo != call.repo.full_name:
        raise not_found()
    api, now = call.state.base_url, call.state.clock()
    found = [call.state.actions.artifacts[a] for a in run.artifact_ids]
    name = request.query_params.get("name")
    rendered = [render_artifact(api, call.repo, run, a, now) for a in found if name in (None, a.name)]
    return paginated(call, rendered, "artifacts")


P = "/repos/{owner}/{repo}/actions"
ROUTES = [
    Route(f"{P}/runs/{{run_id:int}}/artifacts", list_artifacts, methods=["GET"]),
    Route(f"{P}/jobs/{{job_id:int}}/logs", job_logs, methods=["GET"]),
    Route(f"{P}/artifacts/{{artifact_id:int}}", get_artifact, methods=["GET"]),
    Route(f"{P}/artifacts/{{artifact_id:int}}/{{archive_format}}", artifact_zip, methods=["GET"]),
]
BLOB_ROUTES = [Route(f"{BLOBS}/{{key}}", blob, methods=["GET"])]
