"""Secret redaction for anything that leaves a process as text: logs, exceptions, PR bodies, prompts.

Standard library only: the sandbox uses it on test output, the app on its own logs. Patterns cover
GitHub tokens of every kind and length (including the long stateless `ghs_…` tokens with dots),
JWTs, private keys, credentials in URLs and Authorization headers, and Anthropic keys.
"""

from __future__ import annotations

import re

MASK = "[REDACTED]"

_PATTERNS = [
    # GitHub: ghp_ (classic PAT), gho_ (OAuth), ghu_ (user-to-server), ghs_ (installation), ghr_ (refresh)
    re.compile(r"\bgh[opusr]_[A-Za-z0-9_.\-]{16,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    # JSON web tokens (App JWTs): three base64url parts, the first two starting with '{"' = eyJ
    re.compile(r"\beyJ[A-Za-z0-9_\-]+\.eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"),
    re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S),
    re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{10,}"),
]
# keep the label, mask the secret: `Authorization: token X`, `x-access-token:X@`, `://user:X@`
_LABELLED = [
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:token|bearer|basic)\s+)[^\s\"',]+"),
    re.compile(r"(x-access-token:)[^@\s/]+"),
    re.compile(r"(://[^:/@\s]+:)[^@\s/]+(@)"),
]
# one scan that every secret above would trip: most text has none, and returns after it
_MAYBE = re.compile(
    r"gh[opusr]_|github_pat_|eyJ|PRIVATE KEY|sk-ant-|(?i:authorization)|x-access-token|://[^/\s]*@"
)


def redact(text: str, extra: tuple[str, ...] = ()) -> str:
    """`text` with every secret-looking value, and each string in `extra`, masked."""
    if not extra and not _MAYBE.search(text):
        return text
    for secret in extra:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    for pattern in _LABELLED:
        text = pattern.sub(lambda m: m.group(1) + MASK + (m.group(2) if m.lastindex == 2 else ""), text)
    return text
