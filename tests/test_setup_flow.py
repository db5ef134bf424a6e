"""Registering the GitHub App from its manifest (app/setup), against the local GitHub's manifest flow,
and the webhook proxy (app/smee.py) against a local smee.io."""

from __future__ import annotations

import asyncio
import html
import json
import re
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app import smee
from app.settings import Settings, load_settings
from app.setup.credentials import PEM_FILE, save_credentials, saved_env_file
from app.setup.manifest import app_manifest, install_url, load_manifest, registration_url
from app.setup.web import build_setup_app
from app.signatures import sign
from tests.fakes.smee import Smee
from tests.support import LiveServer, LocalGitHub

CONVERSION = {
    "id": 4242,
    "slug": "autofix-octo",
    "name": "Autofix Octo",
    "html_url": "https://github.com/apps/autofix-octo",
    "client_id": "Iv23liabc",
    "client_secret": "cs-123",
    "webhook_secret": "wh-456",
    "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n",
}


# -- pure parts -------------------------------------------------------------------------------


def test_manifest_gets_this_servers_urls() -> None:
    manifest = app_manifest("https://autofix.example.org/", name="Autofix ACME")
    assert manifest["name"] == "Autofix ACME"
    hook = {"url": "https://autofix.example.org/webhooks/github", "active": True}
    assert manifest["hook_attributes"] == hook
    assert manifest["redirect_url"] == "https://autofix.example.org/setup/registered"
    assert manifest["callback_urls"] == ["https://autofix.example.org/login/github/callback"]
    assert manifest["setup_url"] == "https://autofix.example.org/setup/installed"
    assert manifest["default_permissions"] == load_manifest()["default_permissions"]
    proxied = app_manifest("http://127.0.0.1:8000", hook_url="https://smee.io/abc")
    assert proxied["hook_attributes"]["url"] == "https://smee.io/abc"


def test_every_data_file_of_the_packages_ships_in_the_wheel() -> None:
    """Templates, the manifest, prompts: a file the code reads at run time must match package-data, or the
    Docker image (a wheel install) lacks it while the editable checkout has it."""
    import fnmatch
    import tomllib

    root = Path(__file__).resolve().parent.parent
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["*"]
    missing = [
        str(f.relative_to(root))
        for package in ("app", "jobs", "sandbox_runner")
        for f in (root / package).rglob("*")
        if f.is_file()
        and f.suffix not in (".py", ".pyc")
        and "__pycache__" not in f.parts
        and not any(fnmatch.fnmatch(f.name, p) for p in patterns)
    ]
    assert missing == [], f"add their patterns to [tool.setuptools.package-data]: {missing}"
    assert (root / "github_app.yml").resolve() == root / "app" / "setup" / "github_app.yml"


def test_registration_and_install_urls() -> None:
    assert registration_url("https://github.com", "s1") == "https://github.com/settings/apps/new?state=s1"
    assert (
        registration_url("https://ghes.example.com", "s 2", "acme")
        == "https://ghes.example.com/organizations/acme/settings/apps/new?state=s+2"
    )
    assert install_url("https://github.com/apps/x/") == "https://github.com/apps/x/installations/new"


def test_saved_credentials_are_private_and_found_by_load_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    env_file = save_credentials(data, CONVERSION)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((data / PEM_FILE).stat().st_mode) == 0o600
    assert (data / PEM_FILE).read_text() == CONVERSION["pem"]

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTOFIX_DATA_DIR", str(data))
    settings = load_settings(env_file=None)
    assert settings.github_app_id == 4242
    assert settings.private_key() == CONVERSION["pem"]
    assert settings.github_webhook_secret is not None
    assert settings.github_webhook_secret.get_secret_value() == "wh-456"
    assert settings.github_client_id == "Iv23liabc"
    assert settings.autofix_bot_login == "autofix-octo[bot]"
    assert settings.registered()

    (tmp_path / ".env").write_text("GITHUB_WEBHOOK_SECRET=from-dot-env\n")
    assert load_settings(".env").webhook_secrets() == (b"from-dot-env",)  # an operator's own value wins
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", "from-environment")
    assert load_settings(".env").webhook_secrets() == (b"from-environment",)


def test_unregistered_settings_say_so(tmp_path: Path) -> None:
    assert not Settings(autofix_data_dir=tmp_path).registered()
    assert not saved_env_file(tmp_path).exists()


# -- the flow against the local GitHub ---------------------------------------------------------


def form_fields(page: str) -> tuple[str, dict[str, str]]:
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    fields = {
        m.group(1): html.unescape(m.group(2))
        for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }
    return action, fields


async def test_register_the_app_from_its_manifest(gh: LocalGitHub, tmp_path: Path) -> None:
    settings = Settings(github_api_url=gh.url, autofix_data_dir=tmp_path / "data")
    done: list[bool] = []
    app = build_setup_app(settings, lambda: done.append(True))
    ours = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://autofix.test")
    github = httpx.AsyncClient(base_url=gh.url)
    async with ours, github:
        assert (await ours.get("/")).headers["location"] == "/setup"
        setup = await ours.get("/setup")
        assert 'data-testid="register"' in setup.text
        assert "http://autofix.test/webhooks/github" in setup.text
        assert (await ours.post("/webhooks/github", content=b"{}")).status_code == 503  # not registered yet

        handoff = await ours.post("/setup/start", data={"name": "Autofix Octo", "org": "acme"})
        action, fields = form_fields(handoff.text)
        assert action.startswith(f"{gh.url}/organizations/acme/settings/apps/new?state=")
        manifest = json.loads(fields["manifest"])
        assert manifest["redirect_url"] == "http://autofix.test/setup/registered"

        created = await github.post(action.removeprefix(gh.url), data=fields)  # the browser posts the form
        assert created.status_code == 302
        back = httpx.URL(created.headers["location"])
        assert str(back).startswith("http://autofix.test/setup/registered?code=")
        registered = await ours.get(back.path, params=back.params)

        assert registered.status_code == 200, registered.text
        assert done == [True]
        install = re.search(r'href="([^"]+)" data-testid="install"', registered.text).group(1)  # type: ignore[union-attr]
        assert install == f"{gh.url}/apps/autofix-octo/installations/new"
        again = await ours.get(back.path, params=back.params)  # the state was used up
        assert again.status_code == 400
        assert "unknown or expired" in again.text

    saved = load_settings_from(tmp_path / "data")
    [new_app] = [a for a in gh.state.apps.values() if a.slug == "autofix-octo"]
    assert saved["GITHUB_APP_ID"] == str(new_app.id)
    assert new_app.owner_login == "acme"
    assert new_app.permissions == load_manifest()["default_permissions"]
    assert new_app.events == load_manifest()["default_events"]
    assert gh.state.hookshot is not None
    assert gh.state.hookshot.url == "http://autofix.test/webhooks/github"
    assert gh.state.hookshot.secret == saved["GITHUB_WEBHOOK_SECRET"]


def load_settings_from(data: Path) -> dict[str, str]:
    lines = saved_env_file(data).read_text().splitlines()
    return {k: json.loads(v) for k, _, v in (ln.partition("=") for ln in lines if "=" in ln)}


async def test_a_used_or_forged_code_is_refused(gh: LocalGitHub, tmp_path: Path) -> None:
    settings = Settings(github_api_url=gh.url, autofix_data_dir=tmp_path / "data")
    done: list[bool] = []
    app = build_setup_app(settings, lambda: done.append(True))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://autofix.test"
    ) as ours:
        handoff = await ours.post("/setup/start", data={"name": "Autofix"})
        state = re.search(r"state=([^\"&]+)", handoff.text).group(1)  # type: ignore[union-attr]
        answer = await ours.get("/setup/registered", params={"code": "f" * 40, "state": state})
    assert answer.status_code == 502
    assert "GitHub answered 404" in answer.text
    assert done == []
    assert not saved_env_file(tmp_path / "data").exists()


async def test_bad_organisation_name_is_refused_before_github(tmp_path: Path) -> None:
    app = build_setup_app(Settings(autofix_data_dir=tmp_path), lambda: None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a.test") as ours:
        answer = await ours.post("/setup/start", data={"name": "x", "org": "../evil"})
    assert answer.status_code == 400
    assert "is not a GitHub organisation name" in answer.text


# -- the webhook proxy -------------------------------------------------------------------------


def test_sse_parsing_and_delivery_shape() -> None:
    async def lines() -> Any:
        for line in [
            ": hi",
            "event: ready",
            "data: {}",
            "",
            'data: {"a":',
            "data: 1}",
            "",
            "event: ping",
            "",
        ]:
            yield line

    async def collect() -> list[tuple[str, str]]:
        return [e async for e in smee.sse_events(lines())]

    assert asyncio.run(collect()) == [("ready", "{}"), ("message", '{"a":\n1}')]
    body, headers = smee.to_delivery(
        {"x-github-event": "ping", "host": "smee.io", "cookie": "x", "body": {"zen": "é"}, "query": {}}
    )
    assert body == '{"zen":"é"}'.encode()
    assert headers == {"x-github-event": "ping", "content-type": "application/json"}


async def test_proxy_relays_signed_deliveries_that_still_verify() -> None:
    received: list[tuple[bytes, dict[str, str]]] = []

    async def hook(request: Request) -> Response:
        received.append((await request.body(), dict(request.headers)))
        return Response(status_code=202)

    channel = Smee(ping_s=0.2)
    payload = {"action": "created", "zen": "Keep it logically awesome. ✓", "n": [1, 2.5, None]}
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()  # how GitHub sends it
    with (
        LiveServer(channel.app) as proxy,
        LiveServer(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as local,
    ):
        relay = asyncio.create_task(smee.run_proxy(f"{proxy.url}/chan1", f"{local.url}/hook"))
        async with httpx.AsyncClient() as client:
            for _ in range(100):  # wait until the relay listens
                if channel.listeners.get("chan1"):
                    break
                await asyncio.sleep(0.05)
            headers = {
                "content-type": "application/json",
                "x-github-event": "issues",
                "x-github-delivery": "d-1",
                "x-hub-signature-256": sign(b"s3cret", body),
            }
            assert (await client.post(f"{proxy.url}/chan1", content=body, headers=headers)).status_code == 200
            for _ in range(100):
                if received:
                    break
                await asyncio.sleep(0.05)
        relay.cancel()
    [(got, got_headers)] = received
    assert got == body
    assert got_headers["x-hub-signature-256"] == sign(b"s3cret", got)
    assert got_headers["x-github-delivery"] == "d-1"
