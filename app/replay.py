"""`autofix replay`: sign a saved payload with the configured secret and POST it, as GitHub would."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import httpx

from app.settings import Settings, SettingsError
from app.signatures import sign

TIMEOUT_S = 15.0


def build_request_headers(secret: bytes, body: bytes, event: str, delivery: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/autofix-replay",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(secret, body),
    }


def run_replay(settings: Settings, file: Path, event: str, url: str | None, delivery: str | None) -> int:
    settings.require("github_webhook_secret", needed_by="autofix replay")
    try:
        body = file.read_bytes()
    except OSError as e:
        raise SettingsError(f"cannot read {file}: {e.strerror}") from None
    url = url or f"http://{settings.autofix_host}:{settings.autofix_port}/webhooks/github"
    delivery = delivery or str(uuid.uuid4())
    secret = settings.webhook_secrets()[0]
    try:
        r = httpx.post(url, content=body, headers=build_request_headers(secret, body, event, delivery),
                       timeout=TIMEOUT_S)  # fmt: skip
    except httpx.HTTPError as e:
        print(f"autofix: cannot POST to {url}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"{r.status_code} {r.reason_phrase}  delivery {delivery}")
    print(r.text)
    return 0 if r.is_success else 1
