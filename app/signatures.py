"""Webhook signatures: HMAC-SHA256 of the raw body, as GitHub sends it in `X-Hub-Signature-256`.

Pure and synchronous. Only `sha256=` is accepted (GitHub's legacy SHA-1 header is ignored), the
comparison is constant-time, and every configured secret is tried so a rotation loses nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

PREFIX = "sha256="


def sign(secret: bytes, body: bytes) -> str:
    """The header value GitHub would send for `body`."""
    return PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(secrets: Sequence[bytes], body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of `body` under one of `secrets`."""
    if not header or not header.startswith(PREFIX):
        return False
    given = header.encode("utf-8", "surrogateescape")
    # compare_digest on bytes never raises; every secret is checked (no early exit on a miss)
    matches = [hmac.compare_digest(sign(s, body).encode(), given) for s in secrets]
    return any(matches)
