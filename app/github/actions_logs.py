"""Downloads behind GitHub's redirects: Actions job logs and workflow run artifacts.

GitHub answers these with a 302 to a short-lived URL on a blob host. We ask GitHub without following
the redirect, then fetch the Location with a plain client that carries no credentials, so our token
is never sent to another host (httpx would strip it across origins too; here it is never there).
Bodies are streamed and capped: a log keeps its tail (where failures are), an artifact over the cap
is refused. A blob URL that has expired (403/404/410) is asked for afresh once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import httpx
from githubkit import GitHub, Response

from app.github.client import TIMEOUT, Installation
from app.github.errors import GitHubError, NotFound, classify, unreachable
from app.github.rest import API_VERSION

CHUNK = 64 * 1024
_EXPIRED = (403, 404, 410)


@dataclass(frozen=True)
class JobLog:
    text: str
    truncated: bool  # the log was longer than the cap: `text` is its tail
    size: int  # bytes received in all


@dataclass(frozen=True)
class Blob:
    data: bytes
    truncated: bool
    size: int


def render_log(blob: Blob) -> str:
    """The log as text; a cut log starts at its first whole line."""
    text = blob.data.decode("utf-8", errors="replace")
    if blob.truncated and "\n" in text:
        text = text.split("\n", 1)[1]
    return text


async def _redirect(gh: GitHub[Any], path: str) -> Response[Any]:
    nofollow = GitHub(gh.auth, config=dataclasses.replace(gh.config, follow_redirects=False))
    return await nofollow.arequest("GET", path, headers={"X-GitHub-Api-Version": API_VERSION})


async def _location(inst: Installation, path: str) -> str | bytes:
    """Where GitHub redirects `path` to; or the body, if it answered with the content itself."""
    response = await inst.read(lambda gh: _redirect(gh, path))
    if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
        return str(response.headers["location"])
    return response.content


async def _stream(
    inst: Installation, url: str, max_bytes: int, transport: httpx.AsyncBaseTransport | None
) -> Blob | None:
    """GET `url` without credentials, keeping the last `max_bytes`; None if the URL has expired."""
    tail, size = bytearray(), 0
    try:
        async with (
            httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=True, transport=transport) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code in _EXPIRED:
                return None
            error = classify(response.status_code, response.headers, "download failed", now=inst.app.clock())
            if error is not None:
                raise error
            async for chunk in response.aiter_bytes(CHUNK):
                size += len(chunk)
                tail += chunk
                if len(tail) > max_bytes:
                    del tail[: len(tail) - max_bytes]
    except httpx.TransportError as e:
        raise unreachable(type(e).__name__, now=inst.app.clock(), attempt=inst.attempt) from None
    return Blob(bytes(tail), size > max_bytes, size)


async def _download(
    inst: Installation, path: str, max_bytes: int, transport: httpx.AsyncBaseTransport | None
) -> Blob:
    for _ in range(2):  # a blob URL lives for minutes: a stale one gets one fresh redirect
        where = await _location(inst, path)
        if isinstance(where, bytes):
            return Blob(where[-max_bytes:], len(where) > max_bytes, len(where))
        blob = await _stream(inst, where, max_bytes, transport)
        if blob is not None:
            return blob
    raise NotFound(f"the download behind {path} has expired", 410)


async def download_job_log(
    inst: Installation,
    owner: str,
    repo: str,
    job_id: int,
    max_bytes: int,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> JobLog:
    """An Actions job's log, keeping its last `max_bytes`. Expired logs (404/410) are NotFound."""
    blob = await _download(inst, f"/repos/{owner}/{repo}/actions/jobs/{job_id}/logs", max_bytes, transport)
    return JobLog(render_log(blob), blob.truncated, blob.size)


async def download_artifact(
    inst: Installation,
    owner: str,
    repo: str,
    artifact_id: int,
    max_bytes: int,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> bytes:
    """An artifact's zip; one larger than `max_bytes` is refused (a cut zip is no zip)."""
    path = f"/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/zip"
    blob = await _download(inst, path, max_bytes, transport)
    if blob.truncated:
        raise GitHubError(f"artifact {artifact_id} is {blob.size} bytes, over the {max_bytes} byte cap")
    return blob.data
