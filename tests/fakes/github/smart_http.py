"""git over smart HTTP at `/{owner}/{repo}.git/…`: `git http-backend` as CGI, token auth as github.com.

Clients authenticate with HTTP Basic, any user name (`x-access-token` by convention) and an
installation token as the password. No or bad credentials → 401 with `WWW-Authenticate`, so git
asks its credential helper; a token that cannot see the repo → 404; pushing needs contents:write,
and a ref that would bring in a workflow change also `workflows: write` (else git shows it as
`! [remote rejected] … (refusing to allow a GitHub App to create or update workflow …)`).
"""

from __future__ import annotations

import base64
import subprocess

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.github import events, gitstore, pushes, workflowguard
from tests.fakes.github.auth import LEVELS, can_see
from tests.fakes.github.gitstore import git_env
from tests.fakes.github.http import state_of
from tests.fakes.github.state import GitHubState, Repo, Token

CHALLENGE = {"WWW-Authenticate": 'Basic realm="GitHub"'}


def basic_password(authorization: str | None) -> str | None:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        _, _, password = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return None
    return password or None


def _live_token(state: GitHubState, password: str | None) -> Token | None:
    token = state.tokens.get(password or "")
    if token is None or token.expires_at <= state.clock():
        return None
    return token


def parse_cgi(output: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body from a CGI program's output."""
    ends = [i for i in (output.find(b"\r\n\r\n"), output.find(b"\n\n")) if i >= 0]
    if not ends:
        return 502, {}, output
    sep = b"\r\n\r\n" if output.find(b"\r\n\r\n") == min(ends) else b"\n\n"
    head, _, body = output.partition(sep)
    status, headers = 200, {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        elif name:
            headers[name] = value.strip()
    return status, headers, body


async def run_backend(
    request: Request, state: GitHubState, repo: Repo, user: str, extra: dict[str, str] | None = None
) -> Response:
    assert state.git_root is not None
    rest = request.path_params["rest"]
    env = git_env(
        (extra or {})
        | {
            "GIT_PROJECT_ROOT": str(state.git_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{repo.full_name}.git/{rest}",
            "REQUEST_METHOD": request.method,
            "QUERY_STRING": request.url.query,
            "CONTENT_TYPE": request.headers.get("content-type", ""),
            "REMOTE_USER": user,
            "REMOTE_ADDR": request.client.host if request.client else "127.0.0.1",
            "GIT_PROTOCOL": request.headers.get("git-protocol", ""),
            "HTTP_CONTENT_ENCODING": request.headers.get("content-encoding", ""),
        }
    )
    body = await request.body()
    env["CONTENT_LENGTH"] = str(len(body))

    def backend() -> bytes:
        done = subprocess.run(
            ["git", "http-backend"], input=body, capture_output=True, env=env, check=False, timeout=60
        )
        return done.stdout

    status, headers, content = parse_cgi(await anyio.to_thread.run_sync(backend))
    return Response(content, status_code=status, headers=headers)


async def smart_http(request: Request) -> Response:
    state = state_of(request)
    token = _live_token(state, basic_password(request.headers.get("authorization")))
    if token is None:
        return Response("Invalid username or token.\n", 401, CHALLENGE, media_type="text/plain")
    full = f"{request.path_params['owner']}/{request.path_params['repo']}"
    repo = state.repos.get(full)
    if repo is None or not can_see(state, token, repo):
        return Response("Repository not found.\n", 404, media_type="text/plain")
    pushing = "git-receive-pack" in (request.path_params["rest"] + request.url.query)
    if pushing and LEVELS.get(token.permissions.get("contents", "none"), 0) < LEVELS["write"]:
        app = state.apps[state.installations[token.installation_id].app_id]
        message = f"Permission to {full}.git denied to {app.bot.login}.\n"
        return Response(message, 403, media_type="text/plain")
    if not (pushing and request.method == "POST"):
        return await run_backend(request, state, repo, "x-access-token")
    before = gitstore.list_refs(repo.path)
    assert state.git_root is not None
    guard = None if workflowguard.may_write_workflows(token) else workflowguard.push_guard_env(state.git_root)
    answer = await run_backend(request, state, repo, "x-access-token", guard)
    pushes.announce_ref_changes(
        state, repo, before, gitstore.list_refs(repo.path), events.actor(state, token)
    )
    return answer


ROUTES = [Route("/{owner}/{repo}.git/{rest:path}", smart_http, methods=["GET", "POST"])]
