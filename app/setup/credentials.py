"""The registered App's credentials, saved in the data directory where `load_settings` finds them.

GitHub hands them over once, in the manifest conversion: the App id, its private key, the webhook
secret and the OAuth client's id and secret. They are written with mode 0600 (the directory 0700)
to `github-app.env` and `github-app.pem`; settings from the environment or `.env` still win, so an
operator can override any of them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ENV_FILE = "github-app.env"
PEM_FILE = "github-app.pem"


def saved_env_file(data_dir: Path) -> Path:
    return data_dir / ENV_FILE


def _write_private(path: Path, text: str) -> None:
    """Write `text` readable by this user only, replacing the file atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)  # an existing tmp file keeps its old mode through O_CREAT
    tmp.replace(path)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def save_credentials(data_dir: Path, conversion: dict[str, Any]) -> Path:
    """Save what `POST /app-manifests/{code}/conversions` returned; the env file's path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    pem = data_dir.resolve() / PEM_FILE
    _write_private(pem, str(conversion["pem"]))
    values = {
        "GITHUB_APP_ID": str(int(conversion["id"])),
        "GITHUB_PRIVATE_KEY_PATH": str(pem),
        "GITHUB_WEBHOOK_SECRET": str(conversion["webhook_secret"]),
        "GITHUB_CLIENT_ID": str(conversion["client_id"]),
        "GITHUB_CLIENT_SECRET": str(conversion["client_secret"]),
        "AUTOFIX_BOT_LOGIN": f"{conversion['slug']}[bot]",
        "AUTOFIX_APP_HTML_URL": str(conversion.get("html_url") or ""),
    }
    lines = ["# Written by `autofix serve` when the GitHub App was registered. Keep it secret."]
    lines += [f"{k}={_quoted(v)}" for k, v in values.items()]
    env_file = saved_env_file(data_dir)
    _write_private(env_file, "\n".join(lines) + "\n")
    return env_file
