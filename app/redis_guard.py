"""Does this Redis keep what we give it? Checked when `serve`, `web` and `worker` start, and by `doctor`.

Two settings decide whether an accepted delivery can vanish without anyone noticing:

- `maxmemory-policy`: anything but `noeviction` lets Redis drop keys under memory pressure, and
  arq's job keys carry TTLs, so even the `volatile-*` policies may evict queued jobs. Refused: a
  full `noeviction` Redis fails the write instead, which the webhook turns into a 503 that GitHub
  records as a failed delivery, and reconciliation redelivers it.
- `appendonly`: without the append-only file a restart loses every queued job and dedupe marker
  (snapshots alone lose minutes, and bring back jobs that already ran). A warning, because a test
  machine or a throwaway Redis may keep nothing on purpose: `AUTOFIX_REDIS_VOLATILE=true` says so.

Managed services often disable CONFIG; then nothing can be read and the operator is told to check.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.exceptions import ResponseError

SAFE_POLICY = "noeviction"


@dataclass(frozen=True)
class RedisProblem:
    fatal: bool  # refuse to start
    message: str

    def __str__(self) -> str:
        return self.message


class RedisGuardError(RuntimeError):
    """The Redis would lose jobs; `str(e)` is the message for the command line."""


def decide_redis_problems(config: dict[str, str] | None, *, volatile_ok: bool = False) -> list[RedisProblem]:
    """What is wrong with a Redis whose `CONFIG GET` answered `config` (None: CONFIG is disabled)."""
    if config is None:
        return [
            RedisProblem(
                False,
                "CONFIG is disabled, so persistence and eviction cannot be checked: make sure "
                "maxmemory-policy is noeviction and appendonly is yes",
            )
        ]
    problems = []
    policy = config.get("maxmemory-policy", SAFE_POLICY)
    if policy != SAFE_POLICY:
        problems.append(
            RedisProblem(
                True,
                f"maxmemory-policy is {policy}: Redis may evict queued jobs; "
                f"set `maxmemory-policy {SAFE_POLICY}`",
            )
        )
    if config.get("appendonly", "no") != "yes" and not volatile_ok:
        snapshots = "snapshots alone lose minutes of jobs" if config.get("save") else "nothing is on disk"
        problems.append(
            RedisProblem(
                False,
                f"appendonly is off ({snapshots}): a restart loses queued jobs; set `appendonly yes`, "
                "or AUTOFIX_REDIS_VOLATILE=true if that is intended",
            )
        )
    return problems


async def fetch_persistence_config(redis: Redis) -> dict[str, str] | None:
    """maxmemory-policy, appendonly and save, or None where CONFIG is not allowed."""
    try:
        found: dict[str, str] = {}
        for name in ("maxmemory-policy", "appendonly", "save"):
            found |= {_text(k): _text(v) for k, v in (await redis.config_get(name)).items()}
    except ResponseError:
        return None
    return found


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def check_redis(redis: Redis, *, volatile_ok: bool = False) -> list[RedisProblem]:
    """Problems with `redis` as a job store; `fatal` ones mean autofix must not run on it."""
    return decide_redis_problems(await fetch_persistence_config(redis), volatile_ok=volatile_ok)


def redacted_url(url: str) -> str:
    """`url` without its password, fit for a message or a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def render_refusal(problems: list[RedisProblem], where: str) -> str:
    """The one-paragraph message a command prints before exiting on a Redis that would lose jobs."""
    fatal = "; ".join(p.message for p in problems if p.fatal)
    return f"autofix: refusing to use the Redis at {where}: {fatal}"


async def ensure_redis_keeps_data(redis: Redis, url: str, *, volatile_ok: bool = False) -> list[str]:
    """For start-up: raise RedisGuardError on a fatal problem, else return the warnings to log."""
    problems = await check_redis(redis, volatile_ok=volatile_ok)
    if any(p.fatal for p in problems):
        raise RedisGuardError(render_refusal(problems, redacted_url(url)))
    return [p.message for p in problems]
