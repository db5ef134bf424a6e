"""Repository endpoints: the repository, file contents, branches."""

from __future__ import annotations

import base64
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.github import gitstore
from tests.fakes.github.errors import not_found
from tests.fakes.github.http import repo_call
from tests.fakes.github.shapes import render_repo
from tests.fakes.github.state import Repo


def open_issue_count(repo: Repo) -> int:
    return sum(1 for issue in repo.issues.values() if issue.state == "open")


async def get_repo(request: Request) -> Response:
    call = repo_call(request)
    return call.ok(render_repo(call.state.base_url, call.repo, open_issue_count(call.repo)))


def render_content(api: str, repo: Repo, entry: gitstore.TreeEntry, ref: str, path: str) -> dict[str, Any]:
    url = f"{api}/repos/{repo.full_name}/contents/{path}?ref={ref}"
    kind = {"blob": "file", "tree": "dir", "commit": "submodule"}[entry.type]
    git_url = f"{api}/repos/{repo.full_name}/git/{'trees' if kind == 'dir' else 'blobs'}/{entry.sha}"
    html_url = f"https://github.com/{repo.full_name}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{path}"
    raw = f"https://raw.githubusercontent.com/{repo.full_name}/{ref}/{path}"
    return {
        "type": "symlink" if entry.mode == "120000" else kind,
        "size": entry.size or 0,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": entry.sha,
        "url": url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": raw if kind == "file" else None,
        "_links": {"self": url, "git": git_url, "html": html_url},
    }


def _b64_lines(data: bytes) -> str:
    encoded = base64.b64encode(data).decode()
    return "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))


async def get_contents(request: Request) -> Response:
    call = repo_call(request)
    repo, api = call.repo, call.state.base_url
    ref = request.query_params.get("ref") or repo.default_branch
    path = request.path_params.get("path", "").strip("/")
    commit = gitstore.rev_parse(repo.path, ref)
    if commit is None:
        raise not_found()  # GitHub: "No commit found for the ref …", also a 404
    parent, _, name = path.rpartition("/")
    try:
        listing = gitstore.list_tree(repo.path, commit, parent + "/" if parent else "") if path else []
    except gitstore.GitError:  # the parent directory does not exist at that commit
        raise not_found() from None
    entry = next((e for e in listing if e.path.rsplit("/", 1)[-1] == name), None)
    if path and entry is None:
        raise not_found()
    if entry is None or entry.type == "tree":
        children = gitstore.list_tree(repo.path, commit, path + "/" if path else "")
        prefix = path + "/" if path else ""
        return call.ok([render_content(api, repo, c, ref, prefix + c.path) for c in children])
    body = render_content(api, repo, entry, ref, path)
    if entry.type == "blob":
        body |= {"content": _b64_lines(gitstore.read_blob(repo.path, entry.sha)), "encoding": "base64"}
    return call.ok(body)


ROUTES = [
    Route("/repos/{owner}/{repo}", get_repo, methods=["GET"]),
    Route("/repos/{owner}/{repo}/contents", get_contents, methods=["GET"]),
    Route("/repos/{owner}/{repo}/contents/{path:path}", get_contents, methods=["GET"]),
]
