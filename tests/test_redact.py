import logging

import pytest

from app.logs import JsonFormatter, TextFormatter
from sandbox_runner.redact import MASK, redact

SECRETS = [
    "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
    "ghs_4242_eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJnaXRodWIifQ.c2lnbmF0dXJlLWJ5dGVz",  # stateless, with dots
    "ghp_R4nd0mClassicPersonalAccessToken01",
    "gho_0123456789abcdefOAUTHtoken",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiIxMjMiLCJpYXQiOjF9.U0lHTkFUVVJF",
    "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_secrets_are_masked_wherever_they_appear(secret: str) -> None:
    for text in (secret, f"before {secret} after", f'{{"token": "{secret}"}}', f"x={secret}\n"):
        out = redact(text)
        assert secret not in out
        assert MASK in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: token abc123", f"Authorization: token {MASK}"),
        ("authorization: Bearer abc.def.ghi", f"authorization: Bearer {MASK}"),
        (
            "https://x-access-token:s3cr3t@github.com/o/r.git",
            f"https://x-access-token:{MASK}@github.com/o/r.git",
        ),
        ("https://user:pa55@example.com/x", f"https://user:{MASK}@example.com/x"),
    ],
)
def test_labelled_credentials_keep_their_label(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    ["queued check:1:abc:test (3.11)", "ghs_ short", "see https://github.com/o/r/pull/1", "eyJ alone", ""],
)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert redact(text) == text


def test_extra_values_are_masked_too() -> None:
    assert (
        redact("webhook secret is hunter2-secret", extra=("hunter2-secret",)) == f"webhook secret is {MASK}"
    )


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()])
def test_log_lines_are_redacted_in_message_args_extra_and_traceback(formatter: logging.Formatter) -> None:
    token = SECRETS[1]
    try:
        raise RuntimeError(f"failed with {token}")
    except RuntimeError:
        record = logging.getLogger("t").makeRecord(
            "t", logging.ERROR, __file__, 1, "token %s", (token,), exc_info=__import__("sys").exc_info(),
            extra={"repo": token},
        )  # fmt: skip
    line = formatter.format(record)
    assert token not in line
    assert "ghs_4242" not in line


# --- cloud and package-registry keys: masked wherever they appear ---------------------------------

MORE_SECRETS = [
    "AKIAIOSFODNN7EXAMPLE",  # AWS access key id
    "ASIAY34FZKBOKMUTVV7A",  # AWS temporary access key id
    "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",  # Google API key
    "xoxb-2638121953-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",  # Slack bot token
    "xoxp-1234567890-0987654321-abcdefABCDEF",
    "npm_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    "pypi-AgEIcHlwaS5vcmcCJGE0ZjY2ZTQ0LTYxZGYtNDUyYi1hZDI3LTM4OTQ3NzQ2ZmZhYwACKlszLCJmNDIiXQ",
]


@pytest.mark.parametrize("secret", MORE_SECRETS)
def test_cloud_and_registry_keys_are_masked(secret: str) -> None:
    for text in (
        secret,
        f"using key {secret} for upload",
        f'{{"key": "{secret}", "n": 1}}',
        f"https://example.com/api?key={secret}&page=2",
        f"  key: {secret}\n",
        f'  File "/app/upload.py", line 3, in push\n    raise AuthError("rejected {secret}")\n',
    ):
        out = redact(text)
        assert secret not in out, text
        assert MASK in out


def test_gcp_service_account_private_key_in_json_with_literal_newlines() -> None:
    body = "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC7\\nabcDEF123\\n"
    text = (
        '{"type": "service_account", "project_id": "demo-1", "private_key_id": "1a2b3c4d5e6f7a8b9c0d",\n'
        f' "private_key": "-----BEGIN PRIVATE KEY-----\\n{body}-----END PRIVATE KEY-----\\n",\n'
        ' "client_email": "ci@demo-1.iam.gserviceaccount.com"}'
    )
    out = redact(text)
    assert "MIIEvgIBADANBg" not in out
    assert "1a2b3c4d5e6f7a8b9c0d" not in out
    assert f'"private_key": "{MASK}"' in out
    assert '"client_email": "ci@demo-1.iam.gserviceaccount.com"' in out  # not a secret
    assert '"project_id": "demo-1"' in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # shell and dotenv
        ("PASSWORD=hunter2", f"PASSWORD={MASK}"),
        ("export API_TOKEN=abc123def", f"export API_TOKEN={MASK}"),
        ('DB_PASSWORD="correct horse battery"', f'DB_PASSWORD="{MASK}"'),
        ("PGPASSWORD=s3cr3t psql -h db", f"PGPASSWORD={MASK} psql -h db"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            f"aws_secret_access_key = {MASK}",
        ),
        ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", f"AWS_SECRET_ACCESS_KEY={MASK}"),
        # JSON and Python reprs
        ('{"client_secret": "abc def", "id": 7}', f'{{"client_secret": "{MASK}", "id": 7}}'),
        ("{'password': 'p@ss:w0rd'}", f"{{'password': '{MASK}'}}"),
        ("Client(api_key='k-123', timeout=3)", f"Client(api_key='{MASK}', timeout=3)"),
        ('{"apiKey":"abc","x":1}', f'{{"apiKey":"{MASK}","x":1}}'),
        # YAML and HTTP-style headers
        ("  secret: abc123", f"  secret: {MASK}"),
        ("  webhook_secret: 'quoted value'", f"  webhook_secret: '{MASK}'"),
        ("X-Api-Key: 0123abcd", f"X-Api-Key: {MASK}"),
        ("Private-Token: glpat-abcdef", f"Private-Token: {MASK}"),
        # command lines and URLs
        ("mysql --password hunter2 -h db", f"mysql --password {MASK} -h db"),
        ("twine upload --password=pypi-short dist/*", f"twine upload --password={MASK} dist/*"),
        ("deploy --token abc.def", f"deploy --token {MASK}"),
        ("GET /cb?access_token=abc123&state=x", f"GET /cb?access_token={MASK}&state=x"),
        # generic bearer tokens
        ("curl -H 'X-Auth: Bearer abcdef123456'", f"curl -H 'X-Auth: Bearer {MASK}'"),
        ("sent Bearer 9f8e7d6c5b4a3f2e1d", f"sent Bearer {MASK}"),
    ],
)
def test_values_named_like_secrets_are_masked_and_names_kept(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_secret_values_inside_a_python_traceback() -> None:
    tb = (
        "Traceback (most recent call last):\n"
        '  File "/home/runner/work/r/r/app/db.py", line 12, in connect\n'
        '    return psycopg.connect(host="db", password="Pa55-w0rd!")\n'
        "psycopg.OperationalError: connection to postgresql://app:Pa55-w0rd!@db:5432/app failed\n"
        "E   requests.exceptions.HTTPError: 401 for url https://api.example.com/v1?api_key=AbC123xyz\n"
    )
    out = redact(tb)
    assert "Pa55-w0rd!" not in out
    assert "AbC123xyz" not in out
    assert 'File "/home/runner/work/r/r/app/db.py", line 12, in connect' in out
    assert "psycopg.OperationalError: connection to postgresql://app:" in out


ORDINARY_LINES = [
    "password reset test passed",
    "token count: 42",
    "tokenizer.py:12: in encode",
    "tests/test_tokens.py::test_password_hash PASSED",
    "FAILED tests/test_auth.py::test_token_expiry - AssertionError: assert 3 == 4",
    "max_tokens=1024 temperature=0.2",
    "token_count=17",
    "assert token == expected",
    "def login(user: str, password: str) -> bool:",
    "secrets: inherit",
    "password: ${{ secrets.DB_PASSWORD }}",
    "API_TOKEN: ***",
    "token=None",
    "uses bearer authentication",
    "AKIA is the prefix of an AWS key id",
    "KeyError: 'api_key'",
    "Asia/Tokyo 2026-11-21T06:23:30Z credentials loaded from the environment",
    "collected 574 items / 2 deselected",
    "https://github.com/o/r/actions/runs/123456789/job/987654321",
    "ghp_ is a token prefix",
    "private repository, no access",
]


@pytest.mark.parametrize("text", ORDINARY_LINES)
def test_ordinary_log_lines_are_not_changed(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize("text", [*SECRETS, *MORE_SECRETS, "PASSWORD=x1", "Bearer abcdef123456"])
def test_the_fast_pre_scan_lets_no_secret_through(text: str) -> None:
    from sandbox_runner.redact import _MAYBE

    assert _MAYBE.search(text.lower())


def test_redaction_is_idempotent() -> None:
    text = 'PASSWORD=x1 "private_key": "-----BEGIN PRIVATE KEY-----\\nA\\n-----END PRIVATE KEY-----\\n"'
    once = redact(text)
    assert redact(once) == once


def test_redaction_takes_linear_time_on_a_long_unbroken_run() -> None:
    import time

    blob = "aB3_" * 50_000
    started = time.perf_counter()
    for text in (blob, "password=" + blob, "--token " + blob, "Bearer " + blob):
        redact(text)
    assert time.perf_counter() - started < 2.0
