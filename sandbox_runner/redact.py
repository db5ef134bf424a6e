"""Secret redaction for anything that leaves a process as text: logs, exceptions, PR bodies, prompts.

Standard library only: the sandbox uses it on test output, the app on its own logs. Patterns cover
GitHub tokens of every kind and length (including the long stateless `ghs_…` tokens with dots),
JWTs, private keys (PEM blocks, also inside JSON with literal `\\n`, as in GCP service-account
files), credentials in URLs and Authorization headers, Anthropic, AWS, Google API, Slack, npm and
PyPI keys, generic `Bearer` tokens, and the values of variables, keys and flags named like secrets
(`PASSWORD=…`, `"client_secret": "…"`, `secret: …`, `--token …`): the name stays, the value goes.

`redact()` runs on every log line of the web app, so one scan of the lower-cased text (`_MAYBE`)
returns most lines untouched after about a microsecond; only a line that trips it pays for the
full set of patterns.
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
    # PEM private keys, with real newlines or (in JSON) literal `\n`; a cut-off block to the end
    re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S),
    re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{10,}"),
    # AWS access key ids: long-term (AKIA) and temporary (ASIA), 4 + 16 upper-case characters
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])"),  # Google API keys
    re.compile(r"\bxox[abprse]-[A-Za-z0-9\-]{10,}"),  # Slack bot, user, app and refresh tokens
    re.compile(r"\bnpm_[A-Za-z0-9]{30,}"),
    re.compile(r"\bpypi-[A-Za-z0-9_\-]{32,}"),
]
# keep the label, mask the secret: `Authorization: token X`, `x-access-token:X@`, `://user:X@`
_LABELLED = [
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:token|bearer|basic)\s+)[^\s\"',]+"),
    re.compile(r"(x-access-token:)[^@\s/]+"),
    re.compile(r"(://[^:/@\s]+:)[^@\s/]+(@)"),
    # a bearer token anywhere: 8+ token characters, at least one a digit (not "bearer authentication")
    re.compile(r"(?i)(\bbearer\s+)(?=[\w\-.~+/]*\d)[\w\-.~+/]{8,}=*"),
]
# names that hold a secret: the name ends with one of these (`DB_PASSWORD`, `clientSecret`,
# `aws_secret_access_key`, `private_key_id`), so `token_count`, `tokenizer.py` and `max_tokens` do not
_HOLDER_NAME = (
    r"[\w.\-]{0,40}?(?:password|passwd|passphrase|secret|token|api[_\-]?key|access[_\-]?key"
    r"|private[_\-]?key(?:[_\-]id)?|secret[_\-]?key(?:[_\-]base)?|auth[_\-]?key|credentials?)"
)
# `NAME=v`, `export NAME=v`, `NAME: v` (YAML, headers), `"name": "v"` (JSON), `name='v'` (Python),
# `?access_token=v&` (URLs); `: v` needs the space YAML needs, so `tokens.py:12` is not a value
_NAMED_VALUE = re.compile(
    r"(?i)((?<![\w.\-])" + _HOLDER_NAME + r"[\"']?[ \t]*(?:=(?!=)|:(?=[ \t\"']))[ \t]*)"
    r"(?:([\"'])([^\"'\n]*)\2|([^\s\"',;&)}\]]+))"
)
_FLAG_VALUE = re.compile(r"(?i)((?<![\w\-])--?" + _HOLDER_NAME + r"[ \t]+)([^\s\"'-][^\s\"']*)")
# values that name no secret: placeholders, references to one elsewhere, types in annotations
_NOT_SECRETS = frozenset({"", "none", "null", "nil", "true", "false", "undefined", "str", "bytes", "int"})

# one scan of the lower-cased text that every secret above would trip; most text has none
_MAYBE = re.compile(
    r"a(?:kia|sia|iza|uthoriz|pi[_\-]?key|ccess[_\-]?key|uth[_\-]?key)|bearer|credential|eyj"
    r"|g(?:h[opusr]_|ithub_pat_)|npm_|p(?:assw|assp|rivate|ypi-)|s(?:k-ant-|ecret)|token|xox[abprse]-"
    r"|://[^/\s]*@"
)


def _keep_name(m: re.Match[str]) -> str:
    if m.lastindex == 2:  # two groups: label, then something kept after the secret (`@`)
        return m.group(1) + MASK + m.group(2)
    return m.group(1) + MASK


def _mask_value(m: re.Match[str]) -> str:
    quote, quoted, bare = m.group(2), m.group(3), m.group(4)
    value = quoted if quote else bare
    if value.lower() in _NOT_SECRETS or value[0] in ("$*<{" if quote else "$*<{["):
        return m.group(0)  # a quoted value that starts with a mask (a cut PEM block) is masked whole
    return m.group(1) + (quote + MASK + quote if quote else MASK)


def _mask_flag(m: re.Match[str]) -> str:
    value = m.group(2)
    if value.lower() in _NOT_SECRETS or value[0] in "$*<[{":
        return m.group(0)
    return m.group(1) + MASK


def redact(text: str, extra: tuple[str, ...] = ()) -> str:
    """`text` with every secret-looking value, and each string in `extra`, masked."""
    if not extra and not _MAYBE.search(text.lower()):
        return text
    for secret in extra:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    for pattern in _LABELLED:
        text = pattern.sub(_keep_name, text)
    text = _NAMED_VALUE.sub(_mask_value, text)
    return _FLAG_VALUE.sub(_mask_flag, text)
