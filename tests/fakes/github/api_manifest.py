"""The App manifest flow (https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest).

POST /settings/apps/new?state=S                  (a browser form with `manifest`: JSON)
POST /organizations/{org}/settings/apps/new?state=S
    GitHub shows "Create GitHub App"; the fake confirms at once, for `state.web_user` (or the org),
    and redirects to the manifest's redirect_url with a one-time `code` and the same `state`.
POST /app-manifests/{code}/conversions           (no authentication)
    201 with the new App and its credentials (pem, webhook_secret, client_id, client_secret);
    the code works once, for an hour; after that 404. Webhooks then flow to the manifest's hook URL,
    signed with the new secret.
GET  /apps/{slug}/installations/new
    The install page; the fake installs on the App's owner (all repositories) at once, delivers
    `installation.created`, and redirects to the manifest's setup_url with installation_id.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.github.errors import not_found
from tests.fakes.github.http import respond, state_of
from tests.fakes.github.shapes import render_app, render_installation, render_repo, render_user
from tests.fakes.github.state import App, GitHubState

CODE_TTL_S = 3600
REQUIRED = ("name", "url", "hook_attributes", "redirect_url")


@dataclass
class PendingApp:
    manifest: dict[str, Any]
    owner: str
    owner_type: str
    created: float
    used: bool = False


@dataclass
class Registered:
    """What the manifest flow created, kept on the state for tests."""

    pending: dict[str, PendingApp] = field(default_factory=dict)
    manifests: dict[int, dict[str, Any]] = field(default_factory=dict)  # app id -> its manifest
    web_user: str = "octo-maintainer"  # who is "signed in" to the fake's web pages


def registered(state: GitHubState) -> Registered:
    with state.lock:
        found = getattr(state, "manifest_flow", None)
        if found is None:
            found = Registered()
            state.manifest_flow = found  # type: ignore[attr-defined]
        return found


def _new_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = serialization.Encoding.PEM
    return key.private_bytes(
        pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


async def _create(request: Request, owner: str, owner_type: str) -> Response:
    form = parse_qs((await request.body()).decode())
    try:
        manifest = json.loads(form.get("manifest", [""])[-1])
    except ValueError:
        return PlainTextResponse("Invalid GitHub App configuration: manifest is not JSON", status_code=422)
    missing = [k for k in REQUIRED if not manifest.get(k)] if isinstance(manifest, dict) else list(REQUIRED)
    if missing:
        return PlainTextResponse(f"Invalid GitHub App configuration: {', '.join(missing)} missing", 422)
    flow = registered(state_of(request))
    code = secrets.token_hex(20)
    flow.pending[code] = PendingApp(manifest, owner, owner_type, time.monotonic())
    query = {"code": code}
    if "state" in request.query_params:
        query["state"] = request.query_params["state"]
    return RedirectResponse(f"{manifest['redirect_url']}?{urlencode(query)}", status_code=302)


async def new_user_app(request: Request) -> Response:
    return await _create(request, registered(state_of(request)).web_user, "User")


async def new_org_app(request: Request) -> Response:
    return await _create(request, request.path_params["org"], "Organization")


async def conversions(request: Request) -> Response:
    state = state_of(request)
    flow = registered(state)
    with state.lock:
        pending = flow.pending.get(request.path_params["code"])
        if pending is None or pending.used or time.monotonic() - pending.created > CODE_TTL_S:
            raise not_found()
        pending.used = True
    manifest = pending.manifest
    pem, webhook_secret = _new_pem(), secrets.token_hex(20)
    app_id = state.next_id()
    slug = str(manifest["name"]).lower().replace(" ", "-")
    app = state.add_app(app_id, pem, slug=slug)
    owner = state.user(pending.owner, pending.owner_type)
    app.name, app.owner_login, app.owner_id = str(manifest["name"]), owner.login, owner.id
    app.description = str(manifest.get("description") or "")
    app.external_url = str(manifest["url"])
    app.permissions = dict(manifest.get("default_permissions") or {})
    app.events = list(manifest.get("default_events") or [])
    app.installations_count = 0
    app.client_id = f"Iv23li{secrets.token_hex(5)}"
    flow.manifests[app_id] = manifest
    hook = manifest["hook_attributes"]
    if hook.get("active", True):
        from tests.fakes.github.webhooks import Hookshot

        if state.hookshot is not None:
            state.hookshot.close()
        Hookshot(state, str(hook["url"]), webhook_secret, app_id)
    body = render_app(state.base_url, app) | {
        "owner": render_user(state.base_url, owner),
        "html_url": f"{state.base_url}/apps/{slug}",
        "client_secret": secrets.token_hex(20),
        "webhook_secret": webhook_secret,
        "pem": pem,
    }
    return respond(request, 201, body)


def _short_repo(repo: dict[str, Any]) -> dict[str, Any]:
    """A repository as `installation` payloads list them."""
    return {k: repo[k] for k in ("id", "node_id", "name", "full_name", "private")}


def _app_by_slug(state: GitHubState, slug: str) -> App:
    for app in state.apps.values():
        if app.slug == slug:
            return app
    raise not_found()


async def install_page(request: Request) -> Response:
    state = state_of(request)
    app = _app_by_slug(state, request.path_params["slug"])
    manifest = registered(state).manifests.get(app.id, {})
    inst = state.install(app.id, app.owner_login, permissions=dict(app.permissions))
    inst.events = list(app.events)
    app.installations_count += 1
    repos = [r for name, r in state.repos.items() if inst.covers(name)]
    if state.deliver is not None:
        state.deliver(
            "installation",
            {
                "action": "created",
                "installation": render_installation(state.base_url, inst, app),
                "repositories": [_short_repo(render_repo(state.base_url, r)) for r in repos],
                "requester": None,
                "sender": render_user(state.base_url, state.user(registered(state).web_user)),
            },
        )
    setup_url = manifest.get("setup_url")
    if not setup_url:
        return PlainTextResponse(f"Installed {app.name} on {app.owner_login}")
    query = urlencode({"installation_id": inst.id, "setup_action": "install"})
    return RedirectResponse(f"{setup_url}?{query}", status_code=302)


ROUTES = [
    Route("/app-manifests/{code}/conversions", conversions, methods=["POST"]),
]
WEB_ROUTES = [
    Route("/settings/apps/new", new_user_app, methods=["POST"]),
    Route("/organizations/{org}/settings/apps/new", new_org_app, methods=["POST"]),
    Route("/apps/{slug}/installations/new", install_page, methods=["GET"]),
]
