"""The set-up pages `autofix serve` shows until a GitHub App is registered (GitHub's manifest flow).

  GET  /setup             what will happen, the App's name and account
  POST /setup/start       the manifest, in a form the browser posts to GitHub (with a one-time state)
  GET  /setup/registered  GitHub's redirect back with a code: exchanged for the App's credentials,
                          which are saved; then "Install on your repositories"
  GET  /setup/installed   where GitHub sends people after they install the App

Webhooks that arrive before the App exists are answered 503, so GitHub records them as failed and
they can be redelivered. `on_registered` is called once the credentials are saved: `serve` stops
this app and starts the real one with them.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app.dashboard.guards import read_form
from app.github.urls import github_web_root
from app.settings import Settings
from app.setup.credentials import save_credentials
from app.setup.manifest import INSTALLED_PATH, WEBHOOK_PATH, app_manifest, install_url, registration_url

log = logging.getLogger("autofix.setup")
STATE_TTL_S = 3600  # GitHub's manifest codes live an hour; a state older than that is refused
MAX_STATES = 100
_ORG = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_TEMPLATES = Environment(
    loader=PackageLoader("app.setup", "templates"), autoescape=select_autoescape(["html"]), auto_reload=False
)


def page(template: str, status: int = 200, **values: object) -> HTMLResponse:
    return HTMLResponse(_TEMPLATES.get_template(template).render(**values), status_code=status)


def public_url(settings: Settings, request: Request) -> str:
    """How GitHub and browsers reach this server: AUTOFIX_PUBLIC_URL, else the URL this request used."""
    return (settings.autofix_public_url or str(request.base_url)).rstrip("/")


class Registration:
    """One-time states of registrations in progress (this process only: a restart means starting again)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.states: dict[str, float] = {}

    def new_state(self) -> str:
        now = self.clock()
        self.states = {s: t for s, t in self.states.items() if now - t < STATE_TTL_S}
        if len(self.states) >= MAX_STATES:
            self.states.pop(min(self.states, key=self.states.__getitem__))
        state = secrets.token_urlsafe(24)
        self.states[state] = now
        return state

    def take(self, state: str) -> bool:
        started = self.states.pop(state, None)
        return started is not None and self.clock() - started < STATE_TTL_S


async def convert(settings: Settings, code: str, client: httpx.AsyncClient) -> dict[str, object]:
    """GitHub's one-time exchange of a manifest code for the new App and its credentials."""
    url = f"{settings.github_api_url}/app-manifests/{code}/conversions"
    answer = await client.post(url, headers={"Accept": "application/vnd.github+json"})
    if answer.status_code != 201:
        message = (
            answer.json().get("message")
            if answer.headers.get("content-type", "").startswith("application/json")
            else answer.text[:200]
        )
        raise RuntimeError(f"GitHub answered {answer.status_code} to the code exchange: {message}")
    data: dict[str, object] = answer.json()
    return data


def build_setup_app(
    settings: Settings,
    on_registered: Callable[[], None],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    registration = Registration()
    hook_override = settings.webhook_proxy_url

    def hook_url(request: Request) -> str:
        return hook_override or public_url(settings, request) + WEBHOOK_PATH

    def setup_page(
        request: Request, status: int = 200, *, name: str = "Autofix", error: str = ""
    ) -> Response:
        return page(
            "setup.html",
            status,
            name=name,
            start_url=str(request.url_for("setup_start")),
            hook_url=hook_url(request),
            proxy=bool(hook_override),
            error=error,
        )

    async def show(request: Request) -> Response:
        return setup_page(request)

    async def start(request: Request) -> Response:
        form = await read_form(request)
        name = str(form.get("name") or "Autofix").strip()[:34] or "Autofix"
        org = str(form.get("org") or "").strip()
        if org and not _ORG.fullmatch(org):
            return setup_page(request, 400, name=name, error=f"{org!r} is not a GitHub organisation name.")
        manifest = app_manifest(public_url(settings, request), name=name, hook_url=hook_url(request))
        action = registration_url(
            github_web_root(settings.github_api_url), registration.new_state(), org or None
        )
        return page("handoff.html", action=action, manifest=json.dumps(manifest))

    async def registered(request: Request) -> Response:
        code, state = request.query_params.get("code", ""), request.query_params.get("state", "")
        if not code or not registration.take(state):
            return setup_page(
                request, 400, error="This registration link is unknown or expired. Start again."
            )
        try:
            async with httpx.AsyncClient(timeout=15, transport=transport) as client:
                app = await convert(settings, code, client)
        except (httpx.HTTPError, RuntimeError, ValueError) as e:
            log.warning("manifest conversion failed: %s", e)
            return setup_page(request, 502, error=f"GitHub did not complete the registration: {e}")
        saved = save_credentials(Path(settings.autofix_data_dir), app)
        log.info("registered GitHub App %s (id %s); credentials in %s", app.get("slug"), app.get("id"), saved)
        response = page(
            "registered.html",
            name=str(app.get("name") or app.get("slug")),
            saved=str(saved),
            install_url=install_url(str(app["html_url"])),
            label=settings.autofix_label,
        )
        response.background = BackgroundTask(on_registered)
        return response

    async def installed(request: Request) -> Response:
        return page("installed.html", label=settings.autofix_label)

    async def not_yet(request: Request) -> Response:
        return JSONResponse({"message": "Autofix is not registered yet: open /setup"}, status_code=503)

    async def home(request: Request) -> Response:
        return RedirectResponse("/setup", status_code=303)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "setup": True})

    return Starlette(
        routes=[
            Route("/", home),
            Route("/healthz", healthz),
            Route("/setup", show, name="setup"),
            Route("/setup/start", start, methods=["POST"], name="setup_start"),
            Route("/setup/registered", registered),
            Route(INSTALLED_PATH, installed),
            Route(WEBHOOK_PATH, not_yet, methods=["POST"]),
        ]
    )


def installed_route(settings: Settings) -> Route:
    """The post-install page, for the real app once the App is registered."""

    async def installed(request: Request) -> Response:
        return page("installed.html", label=settings.autofix_label)

    return Route(INSTALLED_PATH, installed)
