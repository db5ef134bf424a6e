"""Git Data API: blobs, trees, commits and refs written with plumbing into the bare repository.

A ref write that would bring in a workflow change without `workflows: write` is refused with 422
(workflowguard.py), as GitHub refuses it."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.github import events, gitstore, pushes, workflowguard
from tests.fakes.github.auth import require
from tests.fakes.github.errors import ApiError, not_found
from tests.fakes.github.events import person_of
from tests.fakes.github.gitshapes import (
    render_branch,
    render_commit,
    render_git_commit,
    render_ref,
    render_tree,
)
from tests.fakes.github.gitstore import Person
from tests.fakes.github.http import RepoCall, repo_call

REF_EXISTS = "Reference already exists"
REF_MISSING = "Reference does not exist"
NOT_FAST_FORWARD = "Update is not a fast forward"
BAD_REF_NAME = "Reference name must start with 'refs/' and have at least two slashes."
MODES = {"100644", "100755", "040000", "160000", "120000"}
REFS_DOCS = "https://docs.github.com/rest/git/refs"


async def writing(request: Request) -> tuple[RepoCall, dict[str, Any]]:
    call = repo_call(request)
    require(call.token, "contents", "write")
    return call, await call.body()


async def create_blob(request: Request) -> Response:
    call, body = await writing(request)
    content, encoding = body.get("content"), body.get("encoding", "utf-8")
    if not isinstance(content, str):
        raise ApiError(422, 'Invalid request.\n\n"content" wasn\'t supplied.')
    try:
        data = base64.b64decode(content, validate=False) if encoding == "base64" else content.encode()
    except binascii.Error:
        raise ApiError(422, "Invalid request.\n\nBad base64 content.") from None
    sha = gitstore.hash_blob(call.repo.path, data)
    return call.ok(
        {"sha": sha, "url": f"{call.state.base_url}/repos/{call.repo.full_name}/git/blobs/{sha}"}, 201
    )


def _tree_entry(call: RepoCall, item: dict[str, Any]) -> tuple[str, str, str | None]:
    path, mode = item.get("path"), item.get("mode", "100644")
    if not isinstance(path, str) or mode not in MODES:
        raise ApiError(422, "Invalid tree info")
    if "content" in item and item["content"] is not None:
        return mode, path, gitstore.hash_blob(call.repo.path, str(item["content"]).encode())
    sha = item.get("sha")
    if sha is not None and gitstore.object_type(call.repo.path, sha) is None:
        raise ApiError(422, f"Invalid tree info: sha {sha} not found")
    return mode, path, sha


async def create_tree(request: Request) -> Response:
    call, body = await writing(request)
    base_tree = body.get("base_tree")
    if base_tree and gitstore.object_type(call.repo.path, base_tree) not in ("tree", "commit"):
        raise ApiError(422, "Invalid tree info: base_tree not found")
    entries = [_tree_entry(call, item) for item in body.get("tree") or []]
    sha = gitstore.write_tree(call.repo.path, base_tree, entries)
    listing = gitstore.list_tree(call.repo.path, sha)
    return call.ok(render_tree(call.state.base_url, call.repo.full_name, sha, listing), 201)


async def get_tree(request: Request) -> Response:
    call = repo_call(request)
    sha = request.path_params["sha"]
    if gitstore.object_type(call.repo.path, sha) not in ("tree", "commit"):
        raise not_found()
    recursive = request.query_params.get("recursive") not in (None, "", "0", "false")
    listing = gitstore.list_tree(call.repo.path, sha, recursive=recursive)
    return call.ok(render_tree(call.state.base_url, call.repo.full_name, sha, listing))


def _person(given: Any, default: Person) -> Person:
    if not isinstance(given, dict):
        return default
    date = given.get("date")
    when = int(datetime.fromisoformat(date.replace("Z", "+00:00")).timestamp()) if date else default.date
    return Person(given.get("name", default.name), given.get("email", default.email), when)


def commit_json(call: RepoCall, sha: str) -> dict[str, Any]:
    info = gitstore.read_commit(call.repo.path, sha)
    raw = gitstore.git(call.repo.path, "cat-file", "commit", sha)
    return render_git_commit(call.state.base_url, call.repo.full_name, info, sha in call.repo.verified, raw)


async def create_commit(request: Request) -> Response:
    call, body = await writing(request)
    tree, parents = body.get("tree"), body.get("parents") or []
    if not isinstance(tree, str) or gitstore.object_type(call.repo.path, tree) != "tree":
        raise ApiError(422, "Tree SHA does not exist")
    if any(gitstore.object_type(call.repo.path, p) != "commit" for p in parents):
        raise ApiError(422, "Parent SHA does not exist or is not a commit object")
    app = call.state.apps[call.state.installations[call.token.installation_id].app_id]
    bot = person_of(app.bot, call.state.clock())
    author = _person(body.get("author"), bot)
    committer = _person(body.get("committer"), bot if body.get("author") is None else author)
    message = str(body.get("message", ""))
    sha = gitstore.commit_tree(call.repo.path, tree, parents, message, author, committer)
    if body.get("committer") is None and body.get("signature") is None:
        call.repo.verified.add(sha)  # GitHub signs what an App commits through the API
    return call.ok(commit_json(call, sha), 201)


async def get_commit(request: Request) -> Response:
    call = repo_call(request)
    if gitstore.object_type(call.repo.path, request.path_params["sha"]) != "commit":
        raise not_found()
    return call.ok(commit_json(call, request.path_params["sha"]))


def _ref_answer(call: RepoCall, ref: str) -> Response:
    sha = gitstore.list_refs(call.repo.path, ref).get(ref)
    if sha is None:
        raise not_found()
    return call.ok(render_ref(call.state.base_url, call.repo.full_name, ref, sha))


async def get_ref(request: Request) -> Response:
    return _ref_answer(repo_call(request), "refs/" + request.path_params["ref"])


def check_workflows(call: RepoCall, sha: str, anchor: str) -> None:
    refused = workflowguard.refusal(call.repo, call.token, sha)
    if refused is not None:
        raise ApiError(422, refused, documentation_url=REFS_DOCS + anchor)


async def create_ref(request: Request) -> Response:
    call, body = await writing(request)
    ref, sha = str(body.get("ref", "")), str(body.get("sha", ""))
    if not ref.startswith("refs/") or ref.count("/") < 2:
        raise ApiError(422, BAD_REF_NAME)
    if gitstore.object_type(call.repo.path, sha) != "commit":
        raise ApiError(422, "Object does not exist")
    with call.state.lock:
        if ref in gitstore.list_refs(call.repo.path, ref):
            raise ApiError(422, REF_EXISTS)
        check_workflows(call, sha, "#create-a-reference")
        gitstore.update_ref(call.repo.path, ref, sha, gitstore.ZERO_SHA)
        pushes.announce_push(call.state, call.repo, ref, None, sha, events.actor(call.state, call.token))
    return call.ok(render_ref(call.state.base_url, call.repo.full_name, ref, sha), 201)


async def update_ref(request: Request) -> Response:
    call, body = await writing(request)
    ref, sha = "refs/" + request.path_params["ref"], str(body.get("sha", ""))
    with call.state.lock:
        old = gitstore.list_refs(call.repo.path, ref).get(ref)
        if old is None:
            raise ApiError(422, REF_MISSING)
        if gitstore.object_type(call.repo.path, sha) != "commit":
            raise ApiError(422, "Object does not exist")
        if not body.get("force") and not gitstore.is_ancestor(call.repo.path, old, sha):
            raise ApiError(422, NOT_FAST_FORWARD)
        check_workflows(call, sha, "#update-a-reference")
        gitstore.update_ref(call.repo.path, ref, sha, old)
        pushes.announce_push(call.state, call.repo, ref, old, sha, events.actor(call.state, call.token))
    return call.ok(render_ref(call.state.base_url, call.repo.full_name, ref, sha))


async def delete_ref(request: Request) -> Response:
    call = repo_call(request)
    require(call.token, "contents", "write")
    ref = "refs/" + request.path_params["ref"]
    old = gitstore.list_refs(call.repo.path, ref).get(ref)
    if old is None:
        raise ApiError(422, REF_MISSING)
    gitstore.delete_ref(call.repo.path, ref)
    pushes.announce_push(call.state, call.repo, ref, old, None, events.actor(call.state, call.token))
    return Response(status_code=204)


async def get_branch(request: Request) -> Response:
    call = repo_call(request)
    name = request.path_params["branch"]
    sha = gitstore.rev_parse(call.repo.path, f"refs/heads/{name}")
    if sha is None:
        raise ApiError(404, "Branch not found")
    info = gitstore.read_commit(call.repo.path, sha)
    raw = gitstore.git(call.repo.path, "cat-file", "commit", sha)
    api, full = call.state.base_url, call.repo.full_name
    commit = render_commit(api, full, info, sha in call.repo.verified, raw)
    return call.ok(render_branch(api, full, name, commit))


P = "/repos/{owner}/{repo}"
ROUTES = [
    Route(f"{P}/git/blobs", create_blob, methods=["POST"]),
    Route(f"{P}/git/trees", create_tree, methods=["POST"]),
    Route(f"{P}/git/trees/{{sha}}", get_tree, methods=["GET"]),
    Route(f"{P}/git/commits", create_commit, methods=["POST"]),
    Route(f"{P}/git/commits/{{sha}}", get_commit, methods=["GET"]),
    Route(f"{P}/git/ref/{{ref:path}}", get_ref, methods=["GET"]),
    Route(f"{P}/git/refs", create_ref, methods=["POST"]),
    Route(f"{P}/git/refs/{{ref:path}}", get_ref, methods=["GET"]),
    Route(f"{P}/git/refs/{{ref:path}}", update_ref, methods=["PATCH"]),
    Route(f"{P}/git/refs/{{ref:path}}", delete_ref, methods=["DELETE"]),
    Route(f"{P}/branches/{{branch:path}}", get_branch, methods=["GET"]),
]
