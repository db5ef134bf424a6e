"""Plain REST calls and plain JSON for the typed operations.

Operations read `response.json()` into small dataclasses of our own rather than githubkit's strict
`parsed_data` models, which raise when GitHub (or GHES, or a fake) adds or drops a field. So calls go
through `gh.arequest` with GitHub's documented paths, and bodies come back as plain dicts.

Pagination follows `Link: <…>; rel="next"` (page numbers and delivery cursors alike), and only to
the host that answered the first page: a Link elsewhere would carry our token there.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx
from githubkit import GitHub, Response

from app.github.errors import GitHubError

API_VERSION = "2022-11-28"  # served by github.com and every supported GHES
PER_PAGE = 100
MAX_PAGES = 20

Json = dict[str, Any]
Call = Callable[[GitHub[Any]], Awaitable[Response[Any]]]
Runner = Callable[[Call], Awaitable[Response[Any]]]  # Installation.read / .write, GitHubApp.call

_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def request(
    method: str,
    path: str,
    *,
    params: Mapping[str, str | int] | None = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Call:
    """A call for `inst.read`/`inst.write`: `method path` with GitHub's API version header."""
    sent = {"X-GitHub-Api-Version": API_VERSION, **(headers or {})}
    return lambda gh: gh.arequest(method, path, params=params, json=json, headers=sent)


def segment(value: str) -> str:
    """A path segment (branch, label, user) escaped for a URL; '/' kept for file paths and refs."""
    return quote(value, safe="/")


def body(response: Response[Any]) -> Json:
    data = _decoded(response)
    if not isinstance(data, dict):
        raise GitHubError(
            f"expected a JSON object from GitHub, got {type(data).__name__}", response.status_code
        )
    return data


def items(response: Response[Any], key: str | None = None) -> list[Json]:
    """A list body (`[...]`), or the list under `key` of a wrapped one (`{"total_count", key: [...]}`)."""
    data = _decoded(response)
    if key is not None and isinstance(data, dict):
        data = data.get(key)
    if not isinstance(data, list):
        raise GitHubError("expected a JSON list from GitHub", response.status_code)
    return [item for item in data if isinstance(item, dict)]


def _decoded(response: Response[Any]) -> Any:
    try:
        return response.json()
    except ValueError:
        raise GitHubError("GitHub answered with a body that is not JSON", response.status_code) from None


def parse_next_link(link: str | None) -> str | None:
    """The `rel="next"` URL of a Link header, or None on the last page."""
    if not link:
        return None
    for part in link.split(","):
        match = _NEXT.search(part)
        if match:
            return match.group(1)
    return None


async def fetch_pages(
    run: Runner,
    path: str,
    params: Mapping[str, str | int] | None = None,
    *,
    key: str | None = None,
    max_pages: int = MAX_PAGES,
) -> AsyncGenerator[Json, None]:
    """Every item of a paginated list, page by page (stop iterating to stop fetching)."""
    url: str | None = path
    query: Mapping[str, str | int] | None = {"per_page": PER_PAGE, **(params or {})}
    host: str | None = None
    for _ in range(max_pages):
        if url is None:
            return
        response = await run(request("GET", url, params=query))
        for item in items(response, key):
            yield item
        answered = response.raw_response.request.url.host
        host = host or answered
        url, query = parse_next_link(response.headers.get("link")), None
        if url is not None and httpx.URL(url).host not in ("", host):
            raise GitHubError(f"pagination link leads to another host: {httpx.URL(url).host}")
