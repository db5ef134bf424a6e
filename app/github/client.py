"""Authenticated calls to GitHub on behalf of the App and its installations.

- The App's own calls (`/app`, token minting, hook deliveries) carry an RS256 JWT (githubkit's
  AppAuthStrategy: `iat` 60 s in the past, `exp` within 10 minutes).
- Installation tokens are down-scoped (app/github/scopes.py): every token asks for the manifest's
  permissions only, and a job's token for its one repository. They are cached in Redis, shared by
  every worker, until 5 minutes before their one-hour expiry, in one hash per installation with a
  field per scope. A 401 drops every token of the installation, mints a new one and retries once.
- Every call has explicit timeouts and githubkit's own retries off: rate limits and 5xx become
  `app.github.errors` exceptions carrying the time to retry, which the job turns into an arq retry.
- Content-creating calls for one installation are spaced (1 s apart, across all workers, through
  a reservation in Redis), as GitHub asks of integrations; a wait longer than 30 s defers instead.
- At most AUTOFIX_GITHUB_CONCURRENCY requests are in flight from one process (GitHub allows 100
  at once); the rest wait their turn.
- Every response is counted, and its rate-limit reading kept, in memory by `self.meter`
  (app/github/meter.py); the worker's heartbeat writes them to the stats, so no request waits on it.

Operations call `await inst.read(lambda gh: gh.rest.….async_…(…))` or `inst.write(…)`: the
lambda gets a githubkit client authenticated as the installation.
"""

from __future__ import annotations

import asyncio
import functools
import random
import ssl
import time
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar, cast

import httpx
import orjson
from githubkit import AppAuthStrategy, GitHub, TokenAuthStrategy
from githubkit.cache import MemCacheStrategy
from githubkit.exception import RequestError, RequestFailed, RequestTimeout
from redis.asyncio import Redis

from app.github.errors import GitHubError, RateLimited, Unauthorized, Unprocessable, classify, unreachable
from app.github.meter import ApiMeter
from app.github.scopes import build_mint_body, build_scope, build_token_permissions, build_within
from app.settings import Settings

T = TypeVar("T")
Call = Callable[[GitHub[Any]], Awaitable[T]]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# a hash per installation: field = scope (app/github/scopes.py), value = {token, expires_at}
TOKEN_KEY = "autofix:gh:tokens:{}"  # noqa: S105  # a key name, not a secret
TOKEN_MARGIN_S = 5 * 60
WRITE_KEY = "autofix:gh:writes:{}"
WRITE_SPACING_S = 1.0  # sustained: one content-creating request a second (GitHub allows 80 a minute)
WRITE_BURST = 4  # writes that may go at once after a quiet spell: one fix's tree, commit, branch and PR
MAX_WRITE_WAIT_S = 30.0

# Reserve the next write slot for an installation, by the generic cell rate algorithm: the key holds
# the theoretical arrival time (TAT) of the next write at the sustained rate; a write may go up to
# (burst - 1) spacings before it. Returns the slot (as a string: Lua numbers come back as integers),
# or a slot beyond max_wait without reserving it.
_RESERVE_WRITE = """
local now, spacing = tonumber(ARGV[1]), tonumber(ARGV[2])
local max_wait, burst = tonumber(ARGV[3]), tonumber(ARGV[4])
local tat = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local slot = math.max(now, tat - (burst - 1) * spacing)
if slot - now > max_wait then return tostring(slot) end
redis.call('SET', KEYS[1], tostring(tat + spacing), 'PX', math.ceil((tat + spacing - now) * 1000) + 1000)
return tostring(slot)
"""


# one cap per process: every GitHubApp on an event loop shares its semaphore (the worker runs two)
_IN_FLIGHT: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def _in_flight(size: int) -> asyncio.Semaphore:
    per_loop = _IN_FLIGHT.setdefault(asyncio.get_running_loop(), {})
    return per_loop.setdefault(size, asyncio.Semaphore(size))


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for the process. githubkit builds an httpx client for every request, and
    each would otherwise load the CA bundle anew: 30 ms of CPU that blocks the event loop, per call."""
    return httpx.create_ssl_context()  # certifi's bundle, or SSL_CERT_FILE / SSL_CERT_DIR


def _message(response: httpx.Response) -> str:
    """GitHub's `message`, with the details of a validation failure (422 puts them in `errors`)."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.reason_phrase or "no message"
    if not isinstance(body, dict) or not body.get("message"):
        return response.reason_phrase or "no message"
    details = [
        str(e.get("message") or e.get("code"))
        for e in body.get("errors") or []
        if isinstance(e, dict) and (e.get("message") or e.get("code"))
    ]
    return f"{body['message']}: {'; '.join(details)}" if details else str(body["message"])


class GitHubApp:
    """The App: its JWT client, the shared token cache, and installation clients."""

    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        *,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        settings.require("github_app_id", "github_private_key", needed_by="the GitHub client")
        self.settings, self.redis = settings, redis
        self.clock, self.sleep, self.jitter = clock, sleep, jitter
        self._transport = transport
        self.meter = ApiMeter(redis)
        self._hooks = {"request": [], "response": [self.meter.on_response]}
        auth = AppAuthStrategy(str(settings.github_app_id), settings.private_key() or "")
        self.gh = self._client(auth)
        self.permissions = build_token_permissions()
        self._reserve_write = redis.register_script(_RESERVE_WRITE)

    def _client(self, auth: AppAuthStrategy | TokenAuthStrategy) -> GitHub[Any]:
        return GitHub(
            auth,
            base_url=self.settings.github_api_url,
            ssl_verify=_tls(),
            timeout=TIMEOUT,
            auto_retry=False,
            http_cache=False,
            cache_strategy=MemCacheStrategy(),  # never githubkit's process-wide cache
            async_transport=self._transport,
            async_event_hooks=self._hooks,
            user_agent="autofix",
        )

    async def call(self, fn: Call[T], *, attempt: int = 1) -> T:
        """A call authenticated as the App itself (JWT)."""
        return await self._mapped(self.gh, fn, attempt)

    def installation(
        self, installation_id: int, *, repository_id: int | None = None, attempt: int = 1
    ) -> Installation:
        """A client for one installation; `attempt` (the job's try) lengthens backoffs. With
        `repository_id` (a job's repository), its token reaches that repository only."""
        return Installation(self, installation_id, attempt, repository_id)

    async def token(self, installation_id: int, *, repository_id: int | None = None) -> str:
        key, scope = TOKEN_KEY.format(installation_id), build_scope(repository_id)
        cached = await cast("Awaitable[bytes | None]", self.redis.hget(key, scope))
        if cached is not None:
            entry = orjson.loads(cached)
            if entry["expires_at"] - TOKEN_MARGIN_S > self.clock():
                return str(entry["token"])
        data = await self._mint(installation_id, repository_id)
        expires_at = datetime.fromisoformat(data["expires_at"]).timestamp()
        ttl = int(expires_at - self.clock() - TOKEN_MARGIN_S)
        if ttl > 0:  # the hash lives as long as its newest token; older fields are checked on read
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(
                    key, scope, orjson.dumps({"token": data["token"], "expires_at": expires_at}).decode()
                )
                pipe.expire(key, ttl)
                await pipe.execute()
        return str(data["token"])

    async def _mint(self, installation_id: int, repository_id: int | None) -> dict[str, Any]:
        """A new token with the manifest's permissions; if the installation holds fewer (a new
        permission not yet accepted), with what it holds."""
        body = build_mint_body(self.permissions, repository_id)
        try:
            return await self._post_mint(installation_id, body)
        except Unprocessable:
            installation = await self.call(lambda gh: gh.rest.apps.async_get_installation(installation_id))
            held = build_within(self.permissions, installation.json().get("permissions") or {})
            if not held or held == self.permissions:  # never `{}`: GitHub reads it as every permission
                raise  # not the permissions: the repository is gone or not covered by the installation
            return await self._post_mint(installation_id, build_mint_body(held, repository_id))

    async def _post_mint(self, installation_id: int, body: dict[str, Any]) -> dict[str, Any]:
        minted = await self.call(
            lambda gh: gh.rest.apps.async_create_installation_access_token(
                installation_id, data=cast(Any, body)
            )
        )
        return cast("dict[str, Any]", minted.json())

    async def drop_token(self, installation_id: int) -> None:
        """Forget every token of the installation, whatever its scope."""
        await self.redis.delete(TOKEN_KEY.format(installation_id))

    async def _mapped(self, gh: GitHub[Any], fn: Call[T], attempt: int) -> T:
        """Run `fn` within the process's cap on requests in flight, turning githubkit's exceptions
        into ours (never carrying request headers)."""
        try:
            async with _in_flight(self.settings.autofix_github_concurrency):
                return await fn(gh)
        except RequestFailed as e:
            error = classify(
                e.response.status_code,
                e.response.headers,
                _message(e.response.raw_response),
                now=self.clock(),
                attempt=attempt,
                jitter=self.jitter(),
            )
            raise error or GitHubError("unexpected response", e.response.status_code) from None
        except RequestTimeout:
            raise unreachable("timed out", now=self.clock(), attempt=attempt, jitter=self.jitter()) from None
        except RequestError as e:
            reason = type(e.exc).__name__ if getattr(e, "exc", None) else "connection failed"
            raise unreachable(reason, now=self.clock(), attempt=attempt, jitter=self.jitter()) from None


class Installation:
    """Calls on behalf of one installation."""

    def __init__(self, app: GitHubApp, installation_id: int, attempt: int, repository_id: int | None) -> None:
        self.app, self.id, self.attempt, self.repository_id = app, installation_id, attempt, repository_id

    async def read(self, fn: Call[T]) -> T:
        return await self._with_token(fn)

    async def write(self, fn: Call[T]) -> T:
        """A content-creating call: waits for this installation's next write slot first."""
        now = self.app.clock()
        slot = float(
            await self.app._reserve_write(
                keys=[WRITE_KEY.format(self.id)],
                args=[repr(now), WRITE_SPACING_S, MAX_WRITE_WAIT_S, WRITE_BURST],
            )
        )
        if slot - now > MAX_WRITE_WAIT_S:
            raise RateLimited(f"write queue for installation {self.id} is {slot - now:.0f}s long", slot)
        if slot - now > 0.001:  # Lua rounds: a slot within a millisecond is now
            await self.app.sleep(slot - now)
        return await self._with_token(fn)

    async def token(self) -> str:
        """The installation token (scoped like every call), for `git` over HTTPS (app.github.git_auth)."""
        return await self.app.token(self.id, repository_id=self.repository_id)

    async def _with_token(self, fn: Call[T]) -> T:
        for renewed in (False, True):
            gh = self.app._client(TokenAuthStrategy(await self.token()))
            try:
                return await self.app._mapped(gh, fn, self.attempt)
            except Unauthorized:
                await self.app.drop_token(self.id)  # revoked or expired early: mint anew, once
                if renewed:
                    raise
        raise AssertionError("unreachable")
