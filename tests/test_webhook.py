"""POST /webhooks/github in-process, with real signatures and a real Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from redis.asyncio import Redis

from app.queue import DELIVERY_PREFIX, JOB_PREFIX, QUEUE
from app.webhook import MAX_BODY_BYTES
from jobs import names
from tests.conftest import _client_for
from tests.support import (
    APP_DELIVERIES,
    PREVIOUS_SECRET,
    SECRET,
    all_fixture_names,
    app_fixture,
    app_fixture_bytes,
    deliver,
    event_of,
    fixture_json,
    make_settings,
    signed_headers,
)
from tests.test_routing import EXPECTED_JOBS

CHECK = "check_run.completed.1.json"
CHECK_JOB = EXPECTED_JOBS[CHECK][1]
CHECK_BODY = app_fixture_bytes(CHECK)  # the failed check run as an App receives it (with an installation)


async def _queued(redis: Redis) -> list[str]:
    return [m.decode() for m in await redis.zrange(QUEUE, 0, -1)]


async def _job(redis: Redis, job_id: str) -> dict[str, Any]:
    raw = await redis.get(JOB_PREFIX + job_id)
    assert raw is not None, f"no job {job_id}"
    data: dict[str, Any] = orjson.loads(raw)
    return data


@pytest.mark.parametrize("name", all_fixture_names())
async def test_every_real_payload_through_the_endpoint(
    client: httpx.AsyncClient, redis: Redis, name: str
) -> None:
    """Each recorded payload as an App receives it (repository-hook fixtures get an installation)."""
    r = await deliver(client, event_of(name), app_fixture_bytes(name), delivery="d-1")
    if name.startswith("ping."):
        assert (r.status_code, r.json()) == (200, {"delivery": "d-1", "pong": True})
        assert await redis.dbsize() == 0
        return
    assert r.status_code == 202
    body = r.json()
    if name in EXPECTED_JOBS:
        function, prefix = EXPECTED_JOBS[name]
        [job_id] = body["jobs"]
        assert job_id.startswith(prefix)
        assert await _queued(redis) == [job_id]
        job = await _job(redis, job_id)
        assert job["f"] == function
        assert job["a"][0]["repo" if function != names.RECORD_INSTALLATION else "installation_id"]
        assert json.loads(await redis.get(DELIVERY_PREFIX + "d-1")) == [job_id]
    else:
        assert body["jobs"] == []
        assert body["ignored"]
        assert await redis.dbsize() == 0, "an ignored delivery must store nothing"


@pytest.mark.parametrize("name", all_fixture_names())
async def test_every_real_payload_without_an_installation_through_the_endpoint(
    client: httpx.AsyncClient, redis: Redis, name: str
) -> None:
    """A6: without `installation` (a repository hook's delivery), what would be a job is 400 naming
    the field and stores nothing; ping and ignored events keep the answer they get with one."""
    payload = fixture_json(name)
    payload.pop("installation", None)
    r = await deliver(client, event_of(name), payload, delivery="d-1")
    assert await redis.dbsize() == 0
    if name in EXPECTED_JOBS:
        assert r.status_code == 400
        assert r.json()["delivery"] == "d-1"
        assert "'installation'" in r.json()["error"]
        return
    same = await deliver(client, event_of(name), app_fixture(name), delivery="d-1")
    assert (r.status_code, r.json()) == (same.status_code, same.json())
    assert r.status_code == (200 if name.startswith("ping.") else 202)


def test_derived_app_deliveries_are_the_recorded_payloads_plus_an_installation() -> None:
    """fixtures/app_deliveries/ (for `autofix replay`) differ from the recordings by `installation` only."""
    derived = sorted(p.name for p in APP_DELIVERIES.glob("*.json"))
    assert derived
    for name in derived:
        copy = json.loads((APP_DELIVERIES / name).read_bytes())
        assert "installation" not in fixture_json(name)
        assert copy == app_fixture(name)
        assert app_fixture_bytes(name) == (APP_DELIVERIES / name).read_bytes()


# -- signatures ------------------------------------------------------------------------------------


async def _post(client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/webhooks/github", content=body, headers=headers)


@pytest.mark.parametrize(
    "signature",
    [None, "", "sha256=" + "0" * 64, "sha1=deadbeef", "forged"],
)
async def test_bad_signatures_get_401_and_store_nothing(
    client: httpx.AsyncClient, redis: Redis, signature: str | None
) -> None:
    body = CHECK_BODY
    headers = signed_headers(body, "check_run")
    headers.pop("x-hub-signature-256")
    if signature is not None:
        headers["x-hub-signature-256"] = signature
    r = await _post(client, body, headers)
    assert r.status_code == 401
    assert await redis.dbsize() == 0


async def test_signature_with_another_secret_is_refused(client: httpx.AsyncClient, redis: Redis) -> None:
    r = await deliver(client, "check_run", CHECK_BODY, secret=PREVIOUS_SECRET)
    assert r.status_code == 401
    assert await redis.dbsize() == 0


async def test_tampered_body_is_refused(client: httpx.AsyncClient, redis: Redis) -> None:
    body = CHECK_BODY
    headers = signed_headers(body, "check_run")
    r = await _post(client, body.replace(b"failure", b"success", 1), headers)
    assert r.status_code == 401


@pytest.fixture
async def rotating_client(redis: Redis, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(redis_url=redis_url, github_webhook_secret_previous=PREVIOUS_SECRET)
    async for c in _client_for(settings, redis_url):
        yield c


async def test_rotation_accepts_both_secrets(rotating_client: httpx.AsyncClient, redis: Redis) -> None:
    old = await deliver(rotating_client, "check_run", CHECK_BODY, secret=PREVIOUS_SECRET)
    new = await deliver(rotating_client, "check_run", CHECK_BODY, secret=SECRET)
    stale = await deliver(rotating_client, "check_run", CHECK_BODY, secret="retired-secret")
    assert (old.status_code, new.status_code, stale.status_code) == (202, 202, 401)
    assert await _queued(redis) == [CHECK_JOB]


# -- 413 and 400 ----------------------------------------------------------------------------------


async def test_declared_oversize_body_is_413_without_reading(client: httpx.AsyncClient, redis: Redis) -> None:
    body = b"{}"
    headers = signed_headers(body, "check_run") | {"content-length": str(MAX_BODY_BYTES + 1)}
    sent = 0

    async def trickle() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(40):
            sent += 1
            yield b" " * (1024 * 1024)

    r = await client.post("/webhooks/github", content=trickle(), headers=headers)
    assert r.status_code == 413
    assert sent <= 1, "the body was read although its declared length was over the limit"
    assert await redis.dbsize() == 0


async def test_chunked_oversize_body_is_cut_off_at_the_limit(client: httpx.AsyncClient, redis: Redis) -> None:
    chunk = b" " * (1024 * 1024)
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(40):
            sent += 1
            yield chunk

    headers = signed_headers(b"", "check_run")
    r = await client.post("/webhooks/github", content=chunks(), headers=headers)
    assert r.status_code == 413
    assert sent <= MAX_BODY_BYTES // len(chunk) + 2
    assert await redis.dbsize() == 0


async def test_body_of_exactly_the_limit_is_read(client: httpx.AsyncClient, redis: Redis) -> None:
    payload = CHECK_BODY
    body = payload + b" " * (MAX_BODY_BYTES - len(payload))  # JSON with trailing whitespace
    r = await _post(client, body, signed_headers(body, "check_run"))
    assert r.status_code == 202
    assert await _queued(redis) == [CHECK_JOB]


@pytest.mark.parametrize(
    ("drop", "override"),
    [
        ("x-github-event", {}),
        ("x-github-delivery", {}),
        (None, {"x-github-event": "Check Run"}),
        (None, {"x-github-delivery": "a" * 101}),
        (None, {"x-github-delivery": "../../etc"}),
    ],
)
async def test_missing_or_malformed_headers_are_400(
    client: httpx.AsyncClient, redis: Redis, drop: str | None, override: dict[str, str]
) -> None:
    body = CHECK_BODY
    headers = signed_headers(body, "check_run") | override
    if drop:
        headers.pop(drop)
    r = await _post(client, body, headers)
    assert r.status_code == 400
    assert await redis.dbsize() == 0


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'"text"', b"null", b"\xff\xfe{}"])
async def test_signed_body_that_is_not_a_json_object_is_400(
    client: httpx.AsyncClient, redis: Redis, body: bytes
) -> None:
    r = await _post(client, body, signed_headers(body, "check_run"))
    assert r.status_code == 400
    assert r.json()["error"] == "body is not a JSON object"
    assert await redis.dbsize() == 0


async def test_payload_missing_a_needed_field_is_400_naming_it(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    payload = app_fixture(CHECK)
    del payload["check_run"]["head_sha"]
    r = await deliver(client, "check_run", payload)
    assert r.status_code == 400
    assert "head_sha" in r.json()["error"]
    assert await redis.dbsize() == 0


# -- de-duplication --------------------------------------------------------------------------------


async def test_same_delivery_50_times_concurrently_is_one_job(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    body = CHECK_BODY
    answers = await asyncio.gather(*(deliver(client, "check_run", body, delivery="same") for _ in range(50)))
    assert {r.status_code for r in answers} == {202}
    fresh = [r for r in answers if not r.json().get("duplicate")]
    assert len(fresh) == 1
    assert all(r.json()["jobs"] == [CHECK_JOB] for r in answers)
    assert await _queued(redis) == [CHECK_JOB]
    assert len(await redis.keys(JOB_PREFIX + "*")) == 1


async def test_several_deliveries_of_one_failure_are_one_job(client: httpx.AsyncClient, redis: Redis) -> None:
    payload = app_fixture(CHECK)
    answers = []
    for run_id in range(5):  # e.g. a re-run: new check run id, new delivery, same sha and check name
        payload["check_run"]["id"] = 1000 + run_id
        answers.append(await deliver(client, "check_run", payload))
    assert [r.json().get("already_queued") for r in answers] == [None] + [[CHECK_JOB]] * 4
    assert await _queued(redis) == [CHECK_JOB]


async def test_other_failures_on_the_same_delivery_stream_are_separate(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    payload = app_fixture(CHECK)
    for name in ("lint", "test (3.11)", "test (3.12)"):
        payload["check_run"]["name"] = name
        assert (await deliver(client, "check_run", payload)).status_code == 202
    assert len(await _queued(redis)) == 3


async def test_redelivery_after_redis_lost_everything_is_processed_again(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    body = CHECK_BODY
    assert (await deliver(client, "check_run", body, delivery="lost")).status_code == 202
    await redis.flushdb()  # Redis restarted without persistence: marker and job went together
    again = await deliver(client, "check_run", body, delivery="lost")
    assert again.status_code == 202
    assert "duplicate" not in again.json()
    assert await _queued(redis) == [CHECK_JOB]


# -- operations ------------------------------------------------------------------------------------


async def test_health_readiness_and_metrics(client: httpx.AsyncClient, redis: Redis) -> None:
    await deliver(client, "check_run", CHECK_BODY, delivery="m-1")
    await deliver(client, "check_run", CHECK_BODY, delivery="m-1")
    await deliver(client, "push", app_fixture_bytes("push.none.1.json"))
    await deliver(client, "check_run", CHECK_BODY, secret="wrong")
    await deliver(client, "made_up_event", b"{}")
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    text = (await client.get("/metrics")).text
    for line in (
        'autofix_webhook_deliveries_total{event="check_run",outcome="queued"} 1.0',
        'autofix_webhook_deliveries_total{event="check_run",outcome="duplicate"} 1.0',
        'autofix_webhook_deliveries_total{event="push",outcome="ignored"} 1.0',  # a tag push: no revert
        'autofix_webhook_deliveries_total{event="other",outcome="ignored"} 1.0',
        'autofix_webhook_deliveries_total{event="check_run",outcome="unauthorized"} 1.0',
        "autofix_webhook_enqueue_seconds_count 2.0",
        'autofix_queue_depth{queue="fix"} 1.0',
    ):
        assert line in text, line


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_other_methods_are_405(client: httpx.AsyncClient, redis: Redis, method: str) -> None:
    r = await client.request(method, "/webhooks/github")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert await redis.dbsize() == 0


async def test_unknown_paths_are_404_from_starlette(client: httpx.AsyncClient) -> None:
    assert (await client.post("/webhooks/gitlab", content=b"{}")).status_code == 404


async def test_metrics_show_what_became_of_the_bots_pull_requests(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    await redis.hset("autofix:stats:pr_outcomes", mapping={"merged": 3, "closed": 1, "reverted": 1})
    text = (await client.get("/metrics")).text
    for outcome, count in (("merged", 3), ("closed", 1), ("reverted", 1)):
        assert f'autofix_pr_outcomes{{outcome="{outcome}"}} {count}.0' in text
