"""GitHub's web root from its API URL: where people sign in, register and install Apps."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def github_web_root(api_url: str) -> str:
    """github.com for api.github.com, `https://host` for GHES's `https://host/api/v3`, else the URL."""
    parts = urlsplit(api_url.rstrip("/"))
    if parts.hostname == "api.github.com":
        return "https://github.com"
    path = parts.path.removesuffix("/api/v3")
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")).rstrip("/")
