"""`autofix doctor`: check each outside dependency once and print a table; non-zero on a failure."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import anthropic
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from githubkit import AppAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy
from githubkit.exception import RequestError, RequestFailed
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.embedded_redis import EmbeddedRedisError, find_redis_server
from app.redis_guard import check_redis as guard_redis
from app.settings import Settings, SettingsError

Status = Literal["ok", "warn", "FAIL"]
TIMEOUT_S = 10.0
MIN_SECRET_CHARS = 20
HEADER = "check"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


def render_table(checks: list[Check]) -> str:
    """One row per check, columns aligned; a detail is always kept to one line."""
    width = max([len(HEADER), *(len(c.name) for c in checks)])
    lines = [f"{HEADER:<{width}}  status  detail"]
    lines += [f"{c.name:<{width}}  {c.status:<6}  {' '.join(c.detail.split())}" for c in checks]
    return "\n".join(lines)


async def check_redis(settings: Settings) -> Check:
    if settings.redis_url is None:
        try:
            binary = find_redis_server()
        except EmbeddedRedisError as e:
            return Check("redis", "FAIL", str(e))
        return Check(
            "redis", "ok", f"REDIS_URL unset: `serve` embeds {binary} in {settings.autofix_data_dir}"
        )
    redis = Redis.from_url(settings.redis_url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
    try:
        await redis.ping()
        problems = await guard_redis(redis, volatile_ok=settings.autofix_redis_volatile)
    except (RedisError, OSError) as e:
        return Check("redis", "FAIL", f"cannot reach REDIS_URL: {type(e).__name__}: {e}")
    finally:
        await redis.aclose()
    if problems:
        status: Status = "FAIL" if any(p.fatal for p in problems) else "warn"
        return Check("redis", status, "; ".join(p.message for p in problems))
    kept = "" if settings.autofix_redis_volatile else ", appendonly yes"
    return Check("redis", "ok", f"PING answered, maxmemory-policy noeviction{kept}")


async def check_webhook_secret(settings: Settings) -> Check:
    if settings.github_webhook_secret is None:
        return Check("webhook secret", "FAIL", "GITHUB_WEBHOOK_SECRET is not set: every delivery gets 401")
    size = len(settings.github_webhook_secret.get_secret_value())
    rotation = "; previous secret also accepted" if settings.github_webhook_secret_previous else ""
    if size < MIN_SECRET_CHARS:
        return Check("webhook secret", "warn", f"only {size} characters; use a long random secret{rotation}")
    return Check("webhook secret", "ok", f"set ({size} characters){rotation}")


async def check_github_app(settings: Settings) -> Check:
    try:
        settings.require("github_app_id", "github_private_key", needed_by="the worker")
    except SettingsError as e:
        return Check("github app", "FAIL", str(e))
    pem = settings.private_key() or ""
    problem = describe_key_problem(pem)
    if problem is not None:
        source = "GITHUB_PRIVATE_KEY" if settings.github_private_key else "GITHUB_PRIVATE_KEY_PATH"
        return Check("github app", "FAIL", f"{source}: {problem}")
    auth = AppAuthStrategy(str(settings.github_app_id), pem)
    gh = GitHub(auth, base_url=settings.github_api_url, timeout=TIMEOUT_S, auto_retry=False,
                http_cache=False, cache_strategy=MemCacheStrategy())  # fmt: skip
    try:
        app = (await gh.rest.apps.async_get_authenticated()).json()
    except RequestFailed as e:
        status = e.response.status_code
        return Check("github app", "FAIL", describe_github_failure(status, _github_message(e), settings))
    except RequestError as e:
        return Check("github app", "FAIL", f"cannot call {settings.github_api_url}: {type(e).__name__}: {e}")
    name = (app.get("slug") or app.get("name")) if isinstance(app, dict) else None
    return Check("github app", "ok", f"JWT accepted by GET /app: {name} (id {settings.github_app_id})")


def describe_key_problem(pem: str) -> str | None:
    """Why `pem` cannot sign the App's JWTs (RS256 needs an RSA private key), or None when it can."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as e:
        return f"not a usable PEM private key ({str(e).split('.')[0]})"  # first sentence only
    if not isinstance(key, rsa.RSAPrivateKey):
        return "not an RSA key (GitHub App keys are RSA)"
    return None


def describe_github_failure(status: int, message: str, settings: Settings) -> str:
    said = f"GET /app answered {status}" + (f": {message}" if message else "")
    if status == 401 and "claim" in message:
        return f"{said} (is this machine's clock right?)"
    if status == 401:
        return f"{said} (check GITHUB_APP_ID and the private key)"
    if status == 404:
        return f"{said} (no App {settings.github_app_id} at {settings.github_api_url}? check GITHUB_APP_ID)"
    return said


def _github_message(e: RequestFailed) -> str:
    try:
        body = e.response.raw_response.json()
    except ValueError:
        return ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""


async def check_anthropic(settings: Settings) -> Check:
    if settings.anthropic_api_key is None:
        return Check("anthropic", "FAIL", "ANTHROPIC_API_KEY is not set (needed by the worker)")
    client = anthropic.AsyncAnthropic(
        api_key=settings.anthropic_api_key.get_secret_value(),
        base_url=settings.anthropic_base_url,
        max_retries=0,
        timeout=TIMEOUT_S,
    )
    try:
        await client.models.list(limit=1)
    except anthropic.APIStatusError as e:
        said = f"{settings.anthropic_base_url} answered {e.status_code}: {_anthropic_message(e)}"
        return Check("anthropic", "FAIL", said)
    except anthropic.APIConnectionError as e:
        cause = f" ({type(e.__cause__).__name__}: {e.__cause__})" if e.__cause__ else ""
        return Check("anthropic", "FAIL", f"cannot reach {settings.anthropic_base_url}: {e}{cause}")
    finally:
        await client.close()
    return Check("anthropic", "ok", f"{settings.anthropic_base_url} reachable, key accepted")


def _anthropic_message(e: anthropic.APIStatusError) -> str:
    """The API's own `error.message` (the SDK's `e.message` repeats the whole body)."""
    error = e.body.get("error") if isinstance(e.body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return e.message


CHECKS: tuple[Callable[[Settings], Awaitable[Check]], ...] = (
    check_redis,
    check_webhook_secret,
    check_github_app,
    check_anthropic,
)


async def collect_checks(settings: Settings) -> list[Check]:
    return list(await asyncio.gather(*(_run_check(check, settings) for check in CHECKS)))


async def _run_check(check: Callable[[Settings], Awaitable[Check]], settings: Settings) -> Check:
    """A check that crashes becomes a FAIL row: the doctor must still report on everything else."""
    try:
        return await check(settings)
    except Exception as e:
        name = check.__name__.removeprefix("check_").replace("_", " ")
        return Check(name, "FAIL", f"unexpected {type(e).__name__}: {e}")


def run_doctor(settings: Settings) -> int:
    checks = asyncio.run(collect_checks(settings))
    print(render_table(checks))
    failed = [c.name for c in checks if c.status == "FAIL"]
    print(f"\n{len(failed)} failed: {', '.join(failed)}" if failed else "\nall checks passed")
    return 1 if failed else 0
