"""The App manifest (github_app.yml) filled in for one server, and GitHub's URLs for the manifest flow.

Pure functions: the set-up pages (app/setup/web.py) and the tests use them.
https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest
"""

from __future__ import annotations

from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

import yaml  # type: ignore[import-untyped]

WEBHOOK_PATH = "/webhooks/github"
REGISTERED_PATH = "/setup/registered"
INSTALLED_PATH = "/setup/installed"
OAUTH_CALLBACK_PATH = "/login/github/callback"


def load_manifest() -> dict[str, Any]:
    text = resources.files("app.setup").joinpath("github_app.yml").read_text()
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def app_manifest(public_url: str, *, name: str | None = None, hook_url: str | None = None) -> dict[str, Any]:
    """github_app.yml with this server's URLs. `hook_url` is where GitHub sends webhooks: this server,
    or a webhook proxy channel (WEBHOOK_PROXY_URL) that relays to it."""
    base = public_url.rstrip("/")
    manifest = load_manifest()
    if name:
        manifest["name"] = name
    manifest["hook_attributes"] = {"url": hook_url or base + WEBHOOK_PATH, "active": True}
    manifest["redirect_url"] = base + REGISTERED_PATH
    manifest["callback_urls"] = [base + OAUTH_CALLBACK_PATH]
    manifest["setup_url"] = base + INSTALLED_PATH
    return manifest


def registration_url(web_root: str, state: str, org: str | None = None) -> str:
    """Where the browser POSTs the manifest: the user's account, or an organisation's."""
    where = f"/organizations/{quote(org, safe='')}/settings/apps/new" if org else "/settings/apps/new"
    return f"{web_root}{where}?{urlencode({'state': state})}"


def install_url(html_url: str) -> str:
    """The App's "Install" page, from the `html_url` the conversion returned."""
    return html_url.rstrip("/") + "/installations/new"
