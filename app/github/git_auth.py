"""`git` over HTTPS with an installation token that is never in a URL, a file or a process argument.

The token travels in the environment of the `git` process (`AUTOFIX_GIT_TOKEN`), and a credential
helper given through `GIT_CONFIG_*` variables (not `.git/config`) hands it to git when the host
asks. Helpers from the user's or system's git config are switched off for the call, so none of
them stores the token on disk; the helper answers only for the clone URL's origin, so a redirect
or submodule on another host gets nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

TOKEN_ENV = "AUTOFIX_GIT_TOKEN"  # noqa: S105  # the variable's name
HELPER = (
    f'!f() {{ test "$1" = get || exit 0; echo username=x-access-token; echo "password=${TOKEN_ENV}"; }}; f'
)
# the environment git needs, and nothing of the worker's own (its secrets stay out of git and hooks)
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR")
GITHUB_COM_API = "api.github.com"


def clone_url(api_url: str, owner: str, repo: str) -> str:
    """The HTTPS clone URL for a repo, from the REST API's base URL: github.com, GHES (`…/api/v3`)
    or a local fake (`http://127.0.0.1:PORT`)."""
    parts = urlsplit(api_url.rstrip("/"))
    if parts.netloc == GITHUB_COM_API:
        return f"https://github.com/{owner}/{repo}.git"
    path = parts.path.removesuffix("/api/v3").rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}/{owner}/{repo}.git"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def git_env(token: str, url: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for running `git` against `url` (a clone URL) as the installation.

    `base` defaults to PATH, HOME and the locale of this process, nothing else; config that `base`
    passes through `GIT_CONFIG_*` is replaced."""
    if base is None:
        env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    else:
        env = {
            k: v for k, v in base.items() if not k.startswith(("GIT_CONFIG_", "GIT_ASKPASS", "SSH_ASKPASS"))
        }
    config = [
        ("credential.helper", ""),  # forget every configured helper (no keychain or store gets the token)
        (f"credential.{_origin(url)}.helper", HELPER),
        ("core.hooksPath", os.devnull),
        ("core.askPass", ""),
    ]
    for i, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    env["GIT_CONFIG_COUNT"] = str(len(config))
    env |= {TOKEN_ENV: token, "GIT_TERMINAL_PROMPT": "0"}
    return env
