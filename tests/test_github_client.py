"""The GitHub client core against respx (githubkit speaks httpx) and a real Redis."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import rsa
from redis.asyncio import Redis

from app.github.client import TOKEN_KEY, TOKEN_MARGIN_S, WRITE_BURST, WRITE_SPACING_S, GitHubApp
from app.github.errors import (
    Forbidden,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
    Unprocessable,
    Unreachable,
)
from app.settings import Settings
from tests.github_support import INSTALLATION, Clock, mint

# GitHub's newer stateless installation tokens are long and contain dots: no shape assumptions
LONG_TOKEN = "ghs_4242_" + "eyJhbGciOiJFUzI1NiJ9." * 3 + "s1gn4tur3-_x" * 20


def _issue(number: int = 1) -> dict[str, Any]:
    return {"number": number, "title": "Broken", "state": "open"}


async def test_token_is_minted_once_and_shared_through_redis(
    github: GitHubApp, app_settings: Settings, redis: Redis, key: rsa.RSAPrivateKey, api: respx.MockRouter
) -> None:
    minted = mint(api, key, ["ghs_first", "ghs_second"])
    issue = api.get("/repos/o/r/issues/1").respond(200, json=_issue())
    other_worker = GitHubApp(app_settings, redis)

    await github.installation(INSTALLATION).read(lambda gh: gh.rest.issues.async_get("o", "r", 1))
    await other_worker.installation(INSTALLATION).read(lambda gh: gh.rest.issues.async_get("o", "r", 1))

    assert minted.call_count == 1
    assert [c.request.headers["authorization"] for c in issue.calls] == ["token ghs_first"] * 2
    ttl = await redis.ttl(TOKEN_KEY.format(INSTALLATION))
    assert 3600 - TOKEN_MARGIN_S - 10 <= ttl <= 3600 - TOKEN_MARGIN_S


async def test_a_401_drops_the_token_and_retries_once(
    github: GitHubApp, key: rsa.RSAPrivateKey, api: respx.MockRouter
) -> None:
    minted = mint(api, key, ["ghs_revoked", "ghs_fresh"])
    bad = {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
    issue = api.get("/repos/o/r/issues/1").mock(
        side_effect=[httpx.Response(401, json=bad), httpx.Response(200, json=_issue())]
    )
    response = await github.installation(INSTALLATION).read(lambda gh: gh.rest.issues.async_get("o", "r", 1))
    assert response.json()["number"] == 1
    assert minted.call_count == 2
    assert issue.calls[-1].request.headers["authorization"] == "token ghs_fresh"


async def test_a_second_401_is_unauthorized(
    github: GitHubApp, key: rsa.RSAPrivateKey, api: respx.MockRouter
) -> None:
    mint(api, key, ["ghs_one", "ghs_two"])
    api.get("/repos/o/r/issues/1").respond(401, json={"message": "Bad credentials"})
    with pytest.raises(Unauthorized, match="Bad credentials"):
        await github.installation(INSTALLATION).read(lambda gh: gh.rest.issues.async_get("o", "r", 1))


@pytest.mark.parametrize(
    ("response", "kind", "wait"),
    [
        (httpx.Response(403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "{reset}"},
                        json={"message": "API rate limit exceeded"}), RateLimited, 121),
        (httpx.Response(403, headers={"retry-after": "30"}, json={"message": "secondary rate limit"}),
         RateLimited, 30),
        (httpx.Response(403, json={"message": "You have exceeded a secondary rate limit"}), RateLimited, 60),
        (httpx.Response(429, json={"message": "Too many"}), RateLimited, 60),
        (httpx.Response(502, text="<html>Bad Gateway</html>"), ServerError, 2),
        (httpx.Response(403, json={"message": "Resource not accessible by integration"}), Forbidden, None),
        (httpx.Response(404, json={"message": "Not Found"}), NotFound, None),
    ],
)  # fmt: skip
async def test_errors_become_typed_with_the_time_to_retry(
    github: GitHubApp, clock: Clock, key: rsa.RSAPrivateKey, api: respx.MockRouter,
    response: httpx.Response, kind: type[Exception], wait: float | None,
) -> None:  # fmt: skip
    if "x-ratelimit-reset" in response.headers:
        response.headers["x-ratelimit-reset"] = str(int(clock.now) + 120)
    mint(api, key, ["ghs_x"])
    route = api.get("/repos/o/r/issues/1").mock(return_value=response)
    with pytest.raises(kind) as caught:
        await github.installation(INSTALLATION).read(lambda gh: gh.rest.issues.async_get("o", "r", 1))
    assert route.call_count == 1, "githubkit's own retries (and sleeps) are off"
    if wait is not None:
        assert caught.value.retry_at == pytest.approx(
            int(clock.now) + wait if wait == 121 else clock.now + wait
        )  # type: ignore[attr-defined]


async def test_timeouts_and_refused_connections_are_unreachable(
    github: GitHubApp, key: rsa.RSAPrivateKey, api: respx.MockRouter
) -> None:
    mint(api, key, ["ghs_x"])
    api.get("/repos/o/r/issues/1").mock(side_effect=httpx.ConnectTimeout("slow"))
    api.get("/repos/o/r/issues/2").mock(side_effect=httpx.ConnectError("refused"))
    for number in (1, 2):
        with pytest.raises(Unreachable):
            await github.installation(INSTALLATION).read(
                lambda gh, n=number: gh.rest.issues.async_get("o", "r", n)
            )


async def test_writes_are_spaced_per_installation_across_workers(
    github: GitHubApp, app_settings: Settings, redis: Redis, clock: Clock, key: rsa.RSAPrivateKey,
    api: respx.MockRouter,
) -> None:  # fmt: skip
    mint(api, key, ["ghs_x"])
    api.post("/repos/o/r/issues/1/comments").respond(201, json={"id": 1, "body": "hi"})
    other_worker = GitHubApp(app_settings, redis, clock=clock, sleep=clock.sleep)
    start = clock.now

    for client in (github, other_worker) * WRITE_BURST:  # a burst, then the sustained rate
        await client.installation(INSTALLATION).write(
            lambda gh: gh.rest.issues.async_create_comment("o", "r", 1, body="hi")
        )

    waits = [WRITE_SPACING_S] * WRITE_BURST  # 2 * WRITE_BURST writes: the second half wait their turn
    assert clock.slept == pytest.approx(waits, abs=0.01)
    assert clock.now - start == pytest.approx(WRITE_BURST * WRITE_SPACING_S, abs=0.01)  # Lua keeps 14 digits


async def test_a_long_write_queue_defers_instead_of_sleeping(
    github: GitHubApp, redis: Redis, clock: Clock, key: rsa.RSAPrivateKey, api: respx.MockRouter
) -> None:
    mint(api, key, ["ghs_x"])
    comment = api.post("/repos/o/r/issues/1/comments").respond(201, json={"id": 1})
    await redis.set(f"autofix:gh:writes:{INSTALLATION}", str(clock.now + 45))  # 45 writes ahead of us
    with pytest.raises(RateLimited) as caught:
        await github.installation(INSTALLATION).write(
            lambda gh: gh.rest.issues.async_create_comment("o", "r", 1, body="x")
        )
    assert caught.value.retry_at == pytest.approx(clock.now + 45 - (WRITE_BURST - 1) * WRITE_SPACING_S)
    assert clock.slept == []
    assert comment.call_count == 0


async def test_no_token_in_logs_or_exceptions_on_any_error_path(
    github: GitHubApp, key: rsa.RSAPrivateKey, api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mint(api, key, [LONG_TOKEN, LONG_TOKEN, LONG_TOKEN])
    api.get("/repos/o/r/issues/1").respond(401, json={"message": "Bad credentials"})
    api.get("/repos/o/r/issues/2").respond(403, json={"message": "Resource not accessible by integration"})
    api.get("/repos/o/r/issues/3").respond(502, text="oops")
    api.get("/repos/o/r/issues/4").mock(side_effect=httpx.ReadTimeout("slow"))
    texts = []
    for number in (1, 2, 3, 4):
        try:
            await github.installation(INSTALLATION).read(
                lambda gh, n=number: gh.rest.issues.async_get("o", "r", n)
            )
        except Exception as e:
            texts += [str(e), repr(e), "".join(traceback.format_exception(e))]
            logging.getLogger("test").exception("call failed")
    pem_line = github.settings.private_key().splitlines()[1]  # type: ignore[union-attr]
    everything = "\n".join(texts) + caplog.text
    assert LONG_TOKEN not in everything
    assert "ghs_4242" not in everything
    assert pem_line not in everything
    assert "Bearer ey" not in everything
    assert json.dumps(LONG_TOKEN) not in everything


async def test_validation_failures_carry_githubs_details(
    github: GitHubApp, key: Any, api: respx.MockRouter
) -> None:
    mint(api, key, ["ghs_x"])
    api.post("/repos/o/r/pulls").respond(
        422,
        json={
            "message": "Validation Failed",
            "errors": [
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": "A pull request already exists for o:b.",
                }
            ],
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
            "status": "422",
        },
    )
    with pytest.raises(Unprocessable, match=r"Validation Failed: A pull request already exists for o:b\."):
        await github.installation(INSTALLATION).write(
            lambda gh: gh.rest.pulls.async_create("o", "r", title="t", head="b", base="main")
        )


async def test_requests_in_flight_never_exceed_the_processs_cap(
    app_settings: Settings, redis: Redis, key: rsa.RSAPrivateKey, api: respx.MockRouter
) -> None:
    """C5: GitHub allows no more than 100 concurrent requests; one process never has more than
    AUTOFIX_GITHUB_CONCURRENCY in flight, App and installation calls alike, across every GitHubApp
    it holds (the worker has two)."""
    settings = app_settings.model_copy(update={"autofix_github_concurrency": 3})
    fix_worker, command_worker = GitHubApp(settings, redis), GitHubApp(settings, redis)
    mint(api, key, ["ghs_x"])
    in_flight, most = 0, 0

    def slow(answer: Any) -> Callable[[httpx.Request], Awaitable[httpx.Response]]:
        async def respond(request: httpx.Request) -> httpx.Response:
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.05)
            in_flight -= 1
            return httpx.Response(200, json=answer)

        return respond

    app = api.get("/app").mock(side_effect=slow({"id": 1}))
    issue = api.get("/repos/o/r/issues/1").mock(side_effect=slow(_issue()))
    await fix_worker.installation(INSTALLATION).token()  # minted once, before the burst

    await asyncio.gather(
        *(client.call(lambda gh: gh.arequest("GET", "/app")) for client in (fix_worker, command_worker) * 5),
        *(
            client.installation(INSTALLATION).read(lambda gh: gh.rest.issues.async_get("o", "r", 1))
            for client in (fix_worker, command_worker)
        ),
    )

    assert (app.call_count, issue.call_count) == (10, 2)
    assert most == 3


def test_the_concurrency_cap_stays_under_githubs() -> None:
    with pytest.raises(ValueError, match="between 1 and 99"):
        Settings(autofix_github_concurrency=100)


def test_every_client_shares_one_tls_context(app_settings: Settings, redis: Redis) -> None:
    """githubkit makes an httpx client per request; each loading the CA bundle cost ~30 ms of CPU on
    the event loop (found by bench/chaos.py: command jobs took 9 s at p50)."""
    from githubkit import TokenAuthStrategy

    app = GitHubApp(app_settings, redis)
    one, two = app._client(TokenAuthStrategy("a")), app._client(TokenAuthStrategy("b"))
    assert one.config.ssl_verify is two.config.ssl_verify is app.gh.config.ssl_verify
    assert isinstance(one.config.ssl_verify, ssl.SSLContext)
    assert one.config.ssl_verify.verify_mode == ssl.CERT_REQUIRED  # still verified
