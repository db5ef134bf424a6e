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
