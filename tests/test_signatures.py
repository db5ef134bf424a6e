import pytest

from app.signatures import sign, verify_signature

SECRETS = (b"current-secret",)
BODY = b'{"zen": "Keep it logically awesome."}'


def test_github_known_answer_vector() -> None:
    # GitHub's documented example (docs: "Validating webhook deliveries")
    secret, body = b"It's a Secret to Everybody", b"Hello, World!"
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(secret, body) == expected
    assert verify_signature((secret,), body, expected)


def test_accepts_the_signature_of_the_exact_body() -> None:
    assert verify_signature(SECRETS, BODY, sign(SECRETS[0], BODY))


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha1=" + "0" * 40,
        "sha256=" + "0" * 64,
        "sha256=not-hex",
        sign(b"current-secret", BODY).upper().replace("SHA256=", "sha256="),  # uppercase hex
        " " + sign(b"current-secret", BODY),
        sign(b"current-secret", BODY) + " ",
        sign(b"current-secret", BODY) + "," + sign(b"current-secret", BODY),  # two headers folded
        sign(b"other-secret", BODY),
        "sha256=\u00e9" + "0" * 63,  # non-ASCII must not raise
    ],
)
def test_rejects_anything_but_the_exact_signature(header: str | None) -> None:
    assert not verify_signature(SECRETS, BODY, header)


def test_rejects_a_signature_of_reserialised_json() -> None:
    compact = b'{"zen":"Keep it logically awesome."}'
    assert not verify_signature(SECRETS, BODY, sign(SECRETS[0], compact))


def test_rotation_accepts_current_and_previous_only() -> None:
    both = (b"new-secret", b"old-secret")
    assert verify_signature(both, BODY, sign(b"new-secret", BODY))
    assert verify_signature(both, BODY, sign(b"old-secret", BODY))
    assert not verify_signature(both, BODY, sign(b"older-secret", BODY))
    assert not verify_signature((b"new-secret",), BODY, sign(b"old-secret", BODY))


def test_no_secrets_accepts_nothing() -> None:
    assert not verify_signature((), BODY, sign(b"", BODY))
