"""`autofix doctor`: check each outside dependency once and print a table; non-zero on a failure."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import anthropic
from githubkit import AppAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy
from githubkit.exception import RequestError, RequestFailed
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.embedded_redis import EmbeddedRedisError, find_redis_server
from app.settings import Settings, SettingsError

Status = Literal["ok", "warn", "FAIL"]
TIMEOUT_S = 10.0
MIN_SECRET_CHARS = 20


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


def render_table(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'check':<{width}}  status  detail"]
    lines += [f"{c.name:<{width}}  {c.status:<6}  {c.detail}" for c in checks]
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
        policy = (await redis.config_get("maxmemory-policy")).get("maxmemory-policy")
    except (RedisError, OSError) as e:
        return Check("redis", "FAIL", f"cannot reach REDIS_URL: {type(e).__name__}: {e}")
    finally:
        await redis.aclose()
    if policy not in (None, "noeviction"):
        return Check(
            "redis", "warn", f"maxmemory-policy is {policy}; use noeviction or queued jobs may vanish"
        )
    return Check("redis", "ok", "PING answered, maxmemory-policy noeviction")


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
    auth = AppAuthStrategy(str(settings.github_app_id), settings.private_key() or "")
    gh = GitHub(auth, base_url=settings.github_api_url, timeout=TIMEOUT_S, auto_retry=False,
                http_cache=False, cache_strategy=MemCacheStrategy())  # fmt: skip
    try:
        app = (await gh.rest.apps.async_get_authenticated()).json()
    except RequestFailed as e:
        hint = " (check GITHUB_APP_ID and the private key)" if e.response.status_code == 401 else ""
        return Check("github app", "FAIL", f"GET /app answered {e.response.status_code}{hint}")
    except (RequestError, ValueError) as e:
        return Check("github app", "FAIL", f"cannot call {settings.github_api_url}: {type(e).__name__}: {e}")
    name = app.get("slug") or app.get("name") if isinstance(app, dict) else None
    return Check("github app", "ok", f"JWT accepted by GET /app: {name} (id {settings.github_app_id})")


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
        return Check(
            "anthropic", "FAIL", f"{settings.anthropic_base_url} answered {e.status_code}: {e.message}"
        )
    except anthropic.APIConnectionError as e:
        return Check("anthropic", "FAIL", f"cannot reach {settings.anthropic_base_url}: {e}")
    finally:
        await client.close()
    return Check("anthropic", "ok", f"{settings.anthropic_base_url} reachable, key accepted")


CHECKS: tuple[Callable[[Settings], Awaitable[Check]], ...] = (
    check_redis,
    check_webhook_secret,
    check_github_app,
    check_anthropic,
)


async def collect_checks(settings: Settings) -> list[Check]:
    return list(await asyncio.gather(*(check(settings) for check in CHECKS)))


def run_doctor(settings: Settings) -> int:
    checks = asyncio.run(collect_checks(settings))
    print(render_table(checks))
    failed = [c.name for c in checks if c.status == "FAIL"]
    print(f"\n{len(failed)} failed: {', '.join(failed)}" if failed else "\nall checks passed")
    return 1 if failed else 0
