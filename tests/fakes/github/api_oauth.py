"""GitHub's OAuth web flow and the user-token endpoints a sign-in needs, as github.com answers them.

  GET  /login/oauth/authorize       302 to `redirect_uri` with `code` and `state`, approved by the
                                    user the test signed in (`oauth.approver`); 404 for an unknown
                                    client; `error=access_denied` when the test says the user refuses
  POST /login/oauth/access_token    form or JSON; with `Accept: application/json` a JSON answer, else
                                    form-encoded; a bad code or secret is still HTTP 200 with `error`
  GET  /user                        the user of a user token (`gho_…`)
  GET  /orgs/{org}/members/{user}   204 / 404 when the asker is a member; 302 to public_members when not
  GET  /orgs/{org}/public_members/{user}   204 / 404

The OAuth data hangs off the GitHubState (`oauth_of(state)`), so tests configure it in one place:
    oauth = oauth_of(gh.state); oauth.add_client("Iv1.x", "secret"); oauth.approver = "alice"
    oauth.add_member("acme", "bob")
"""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.github.auth import BAD_CREDENTIALS, NOT_ACCESSIBLE, REQUIRES_AUTHENTICATION
from tests.fakes.github.errors import ApiError, not_found
from tests.fakes.github.http import anonymous_bucket, respond, state_of
from tests.fakes.github.shapes import render_user
from tests.fakes.github.state import GitHubState

CODE_LIFETIME_S = 600  # GitHub: "codes expire after 10 minutes"
OAUTH_DOCS = (
    "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"
)
BAD_CODE = ("bad_verification_code", "The code passed is incorrect or expired.", "#bad-verification-code")
BAD_CLIENT = (
    "incorrect_client_credentials",
    "The client_id and/or client_secret passed are incorrect.",
    "#incorrect-client-credentials",
)
BAD_REDIRECT = (
    "redirect_uri_mismatch",
    "The redirect_uri MUST match the registered callback URL for this application.",
    "#redirect-uri-mismatch2",
)


@dataclass
class Grant:
    client_id: str
    login: str
    redirect_uri: str | None
    expires_at: float
    scope: str


@dataclass
class OAuth:
    clients: dict[str, str] = field(default_factory=dict)  # client id -> client secret
    approver: str | None = None  # who is signed in at github.com and approves the authorization
    deny: bool = False  # the signed-in user presses "Cancel"
    codes: dict[str, Grant] = field(default_factory=dict)
    user_tokens: dict[str, str] = field(default_factory=dict)  # gho_ token -> login
    members: dict[str, dict[str, bool]] = field(default_factory=dict)  # org -> login -> public

    def add_client(self, client_id: str, client_secret: str) -> None:
        self.clients[client_id] = client_secret

    def add_member(self, org: str, login: str, public: bool = False) -> None:
        self.members.setdefault(org, {})[login] = public


def oauth_of(state: GitHubState) -> OAuth:
    with state.lock:
        found = state.__dict__.get("oauth")
        if not isinstance(found, OAuth):
            found = OAuth()
            state.__dict__["oauth"] = found
        return found


def _random(prefix: str, n: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(n))


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


async def authorize(request: Request) -> Response:
    state = state_of(request)
    oauth = oauth_of(state)
    q = request.query_params
    client_id, redirect_uri = q.get("client_id", ""), q.get("redirect_uri")
    if client_id not in oauth.clients or not redirect_uri:
        return HTMLResponse("<h1>404</h1><p>This is not the web page you are looking for.</p>", 404)
    if oauth.approver is None:  # nobody signed in at github.com: the sign-in page, where a person would type
        return HTMLResponse("<h1>Sign in to GitHub</h1><p>to continue to the application</p>", 200)
    extra = {"state": q["state"]} if "state" in q else {}
    if oauth.deny:
        return RedirectResponse(
            _with_query(redirect_uri, error="access_denied",
                        error_description="The user has denied your application access.",
                        error_uri=f"{OAUTH_DOCS}#access-denied", **extra),
            status_code=302,
        )  # fmt: skip
    code = _random("", 20).lower()
    with state.lock:
        oauth.codes[code] = Grant(client_id, oauth.approver, redirect_uri, state.clock() + CODE_LIFETIME_S,
                                  q.get("scope", ""))  # fmt: skip
    return RedirectResponse(_with_query(redirect_uri, code=code, **extra), status_code=302)


async def _params(request: Request) -> dict[str, str]:
    raw = await request.body()
    query = {k: v[-1] for k, v in parse_qs(request.url.query).items()}
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        return query | {k: str(v) for k, v in (body if isinstance(body, dict) else {}).items()}
    return query | {k: v[-1] for k, v in parse_qs(raw.decode()).items()}


def _answer(request: Request, body: dict[str, str]) -> Response:
    if "application/json" in request.headers.get("accept", ""):
        return Response(json.dumps(body), 200, media_type="application/json; charset=utf-8")
    return Response(urlencode(body), 200, media_type="application/x-www-form-urlencoded; charset=utf-8")


def _error(request: Request, error: tuple[str, str, str]) -> Response:
    code, description, anchor = error
    body = {"error": code, "error_description": description, "error_uri": OAUTH_DOCS + anchor}
    return _answer(request, body)


async def access_token(request: Request) -> Response:
    state = state_of(request)
    oauth = oauth_of(state)
    p = await _params(request)
    client_id = p.get("client_id", "")
    if client_id not in oauth.clients or not secrets.compare_digest(
        oauth.clients[client_id], p.get("client_secret", "")
    ):
        return _error(request, BAD_CLIENT)
    with state.lock:
        grant = oauth.codes.get(p.get("code", ""))
        if grant is None or grant.client_id != client_id or grant.expires_at <= state.clock():
            return _error(request, BAD_CODE)
        if p.get("redirect_uri") and p["redirect_uri"] != grant.redirect_uri:
            return _error(request, BAD_REDIRECT)
        del oauth.codes[p["code"]]  # a code is good for one exchange
        token = _random("gho_", 36)
        oauth.user_tokens[token] = grant.login
    return _answer(request, {"access_token": token, "token_type": "bearer", "scope": grant.scope})


def _user_of(request: Request) -> str:
    state = state_of(request)
    scheme, _, text = request.headers.get("authorization", "").partition(" ")
    if not text:
        raise ApiError(401, REQUIRES_AUTHENTICATION)
    if scheme.lower() in ("token", "bearer") and text in state.tokens:
        raise ApiError(403, NOT_ACCESSIBLE)  # an installation token is not a user
    login = oauth_of(state).user_tokens.get(text) if scheme.lower() in ("token", "bearer") else None
    if login is None:
        raise ApiError(401, BAD_CREDENTIALS)
    return login


async def get_user(request: Request) -> Response:
    login = _user_of(request)
    state = state_of(request)
    body: dict[str, Any] = render_user(state.base_url, state.user(login)) | {"name": None, "email": None}
    return respond(request, 200, body, f"user:{login}")


async def org_member(request: Request) -> Response:
    asker = _user_of(request)
    state = state_of(request)
    org, login = request.path_params["org"], request.path_params["username"]
    members = oauth_of(state).members.get(org)
    if members is None:
        raise not_found()
    if asker not in members:  # GitHub sends a non-member to the public list
        location = f"{state.base_url}/orgs/{org}/public_members/{login}"
        return respond(request, 302, None, f"user:{asker}", {"location": location})
    return respond(request, 204 if login in members else 404, None, f"user:{asker}")


async def org_public_member(request: Request) -> Response:
    state = state_of(request)
    org, login = request.path_params["org"], request.path_params["username"]
    members = oauth_of(state).members.get(org, {})
    public = members.get(login, False)
    return respond(request, 204 if public else 404, None, anonymous_bucket(request))


ROUTES = [
    Route("/login/oauth/authorize", authorize, methods=["GET"]),
    Route("/login/oauth/access_token", access_token, methods=["POST"]),
    Route("/user", get_user, methods=["GET"]),
    Route("/orgs/{org}/members/{username}", org_member, methods=["GET"]),
    Route("/orgs/{org}/public_members/{username}", org_public_member, methods=["GET"]),
]
