"""Who a request is: an App (RS256 JWT) or an installation (token), checked as GitHub checks them."""

from __future__ import annotations

import base64
import json
import secrets
import string
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.github.errors import ApiError
from tests.fakes.github.state import TOKEN_LIFETIME_S, App, GitHubState, Installation, Repo, Token

JWT_MAX_LIFETIME_S = 600  # GitHub refuses an App JWT valid for more than ten minutes
CLOCK_DRIFT_S = 60  # ... and tolerates this much clock difference on `iat`

# GitHub's own wording, so clients and their error handling meet the real messages
REQUIRES_AUTHENTICATION = "Requires authentication"
BAD_CREDENTIALS = "Bad credentials"
JWT_UNDECODABLE = "A JSON web token could not be decoded"
JWT_EXP_TOO_FAR = "'Expiration time' claim ('exp') is too far in the future"
JWT_EXPIRED = (
    "'Expiration time' claim ('exp') must be a numeric value representing the future time at which "
    "the assertion expires"
)
JWT_IAT_INVALID = (
    "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
)
INTEGRATION_NOT_FOUND = "Integration not found"
NOT_ACCESSIBLE = "Resource not accessible by integration"
PERMISSIONS_NOT_GRANTED = "The permissions requested are not granted to this installation."
REPOSITORY_NOT_ACCESSIBLE = (
    "There is at least one repository that does not exist or is not accessible to the parent installation."
)
LEVELS = {"none": 0, "read": 1, "write": 2, "admin": 3}


def generate_private_key() -> str:
    """A new App private key as GitHub's download has it: PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return pem.decode()


def public_key_of(private_key_pem: str) -> str:
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode()


def authenticate_app(state: GitHubState, authorization: str | None) -> App:
    """The App a `Bearer <JWT>` header proves to be, or ApiError as GitHub would answer."""
    scheme, _, token = (authorization or "").partition(" ")
    if not token:
        raise ApiError(401, REQUIRES_AUTHENTICATION)
    if scheme.lower() != "bearer" or token.startswith("ghs_"):
        raise ApiError(401, JWT_UNDECODABLE)  # an installation or user token where a JWT is needed
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        app = state.apps.get(int(str(issuer)))
    except (jwt.PyJWTError, TypeError, ValueError):
        raise ApiError(401, JWT_UNDECODABLE) from None
    if app is None:
        raise ApiError(404, INTEGRATION_NOT_FOUND)
    try:
        claims = jwt.decode(
            token,
            app.public_key,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "iss"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        raise ApiError(401, JWT_UNDECODABLE) from None  # signed with another key, or not RS256
    check_jwt_times(claims, state.clock())
    return app


def check_jwt_times(claims: dict[str, Any], now: float) -> None:
    iat, exp = claims["iat"], claims["exp"]
    if not isinstance(iat, int) or iat > now + CLOCK_DRIFT_S:
        raise ApiError(401, JWT_IAT_INVALID)
    if not isinstance(exp, int | float) or exp <= now:
        raise ApiError(401, JWT_EXPIRED)
    if exp - iat > JWT_MAX_LIFETIME_S or exp > now + JWT_MAX_LIFETIME_S + CLOCK_DRIFT_S:
        raise ApiError(401, JWT_EXP_TOO_FAR)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def build_token_text(token_format: str, installation_id: int) -> str:
    """A fresh token string: `ghs_` + 36 characters, or the long stateless form with dots."""
    if token_format == "long":
        header = _b64(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())
        payload = _b64(json.dumps({"iid": installation_id, "n": secrets.token_hex(16)}).encode())
        return f"ghs_{installation_id}_{header}.{payload}.{_b64(secrets.token_bytes(48))}"
    alphabet = string.ascii_letters + string.digits
    return "ghs_" + "".join(secrets.choice(alphabet) for _ in range(36))


def issue_token(state: GitHubState, inst: Installation, body: dict[str, Any]) -> Token:
    """An installation token, narrowed to `repositories`/`repository_ids` and `permissions` from the
    request body as GitHub narrows it: never beyond what the installation holds (422 otherwise)."""
    asked = body.get("permissions") or {}
    if any(
        LEVELS.get(str(level), 9) > LEVELS.get(inst.permissions.get(name, "none"), 0)
        for name, level in asked.items()
    ):
        raise ApiError(422, PERMISSIONS_NOT_GRANTED)
    permissions = dict(asked) if asked else dict(inst.permissions)
    repos = _narrowed_repositories(state, inst, body)
    token = Token(
        build_token_text(state.token_format, inst.id),
        inst.id,
        state.clock() + TOKEN_LIFETIME_S,
        permissions,
        repos,
    )
    with state.lock:
        state.tokens[token.token] = token
    return token


def _narrowed_repositories(state: GitHubState, inst: Installation, body: dict[str, Any]) -> list[str] | None:
    names, ids = body.get("repositories") or [], body.get("repository_ids") or []
    if not names and not ids:
        return None
    by_name = [state.repos.get(f"{inst.account.login}/{n}") for n in names]
    by_id = [next((r for r in state.repos.values() if r.id == i), None) for i in ids]
    wanted = [*by_name, *by_id]
    if any(r is None or not inst.covers(r.full_name) for r in wanted):
        raise ApiError(422, REPOSITORY_NOT_ACCESSIBLE)
    return list(dict.fromkeys(r.full_name for r in wanted if r is not None))


def authenticate_token(state: GitHubState, authorization: str | None) -> Token:
    """The live installation token in `Authorization: token …` (or `Bearer …`); 401 otherwise."""
    scheme, _, text = (authorization or "").partition(" ")
    if not text:
        raise ApiError(401, REQUIRES_AUTHENTICATION)
    token = state.tokens.get(text) if scheme.lower() in ("token", "bearer") else None
    if token is None or token.expires_at <= state.clock() or token.installation_id not in state.installations:
        raise ApiError(401, BAD_CREDENTIALS)
    return token


def can_see(state: GitHubState, token: Token, repo: Repo) -> bool:
    inst = state.installations[token.installation_id]
    if not inst.covers(repo.full_name):
        return False
    return token.repositories is None or repo.full_name in token.repositories


def require(token: Token, permission: str, level: str) -> None:
    """403 as GitHub answers when the token's permissions do not reach `level`."""
    if LEVELS.get(token.permissions.get(permission, "none"), 0) < LEVELS[level]:
        raise ApiError(403, NOT_ACCESSIBLE)
