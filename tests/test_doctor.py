"""`autofix doctor` against live local fakes of GitHub and Anthropic and real redis-servers."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest
import redis as sync_redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.doctor import Check, check_redis, check_webhook_secret, collect_checks, render_table, run_doctor
from app.embedded_redis import EmbeddedRedis
from tests.fakes import anthropic as fake_anthropic
from tests.fakes import github as fake_github
from tests.support import APP_ID, SECRET, LiveServer, cli_env, free_port, make_settings, run_autofix

ANTHROPIC_KEY = "sk-ant-api03-doctor-test-key"
CHECK_NAMES = ["redis", "webhook secret", "github app", "anthropic"]
StateT = TypeVar("StateT")


@dataclass
class Served(Generic[StateT]):
    state: StateT
    url: str


@pytest.fixture(scope="module")
def app_key() -> str:
    return fake_github.generate_private_key()


@pytest.fixture(scope="module")
def other_key() -> str:
    return fake_github.generate_private_key()


@pytest.fixture
def github(app_key: str) -> Iterator[Served[fake_github.GitHubState]]:
    state = fake_github.GitHubState()
    state.add_app(APP_ID, app_key)
    with LiveServer(fake_github.build_app(state)) as server:
        yield Served(state, server.url)


@pytest.fixture
def anthropic() -> Iterator[Served[fake_anthropic.AnthropicState]]:
    state = fake_anthropic.AnthropicState(api_keys={ANTHROPIC_KEY})
    with LiveServer(fake_anthropic.build_app(state)) as server:
        yield Served(state, server.url)


@pytest.fixture
def healthy(
    redis_url: str,
    app_key: str,
    github: Served[fake_github.GitHubState],
    anthropic: Served[fake_anthropic.AnthropicState],
) -> dict[str, Any]:
    """Settings under which every check passes (plus make_settings' secret and App id)."""
    return {
        "redis_url": redis_url,
        "autofix_redis_volatile": True,  # the shared test Redis keeps nothing on disk, on purpose
        "github_private_key": app_key,
        "github_api_url": github.url,
        "anthropic_api_key": ANTHROPIC_KEY,
        "anthropic_base_url": anthropic.url,
    }


def by_name(checks: list[Check]) -> dict[str, Check]:
    assert [c.name for c in checks] == CHECK_NAMES
    return {c.name: c for c in checks}


# -- all good ---------------------------------------------------------------------------------


async def test_every_check_passes_against_working_services(
    healthy: dict[str, Any],
    github: Served[fake_github.GitHubState],
    anthropic: Served[fake_anthropic.AnthropicState],
) -> None:
    checks = by_name(await collect_checks(make_settings(**healthy)))

    assert {name: c.status for name, c in checks.items()} == dict.fromkeys(CHECK_NAMES, "ok")
    assert checks["github app"].detail == f"JWT accepted by GET /app: autofix-test (id {APP_ID})"
    [app_call] = github.state.seen("GET", "/app")
    assert app_call.headers["authorization"].startswith("Bearer ey")  # the App's JWT, not a token
    [models_call] = anthropic.state.seen("GET", "/v1/models")
    assert models_call.headers["authorization"] == f"Bearer {ANTHROPIC_KEY}"
    assert "anthropic-version" in models_call.headers


def cli_settings(home: Path, **values: Any) -> dict[str, str]:
    names = {"redis_url", "github_private_key", "github_api_url", "anthropic_api_key", "anthropic_base_url"}
    names |= {"autofix_redis_volatile"}
    assert set(values) <= names | {"github_private_key_path"}
    env = {name.upper(): str(value) for name, value in values.items()}
    return cli_env(home, GITHUB_APP_ID=APP_ID, GITHUB_WEBHOOK_SECRET=SECRET, **env)


def table_rows(stdout: str) -> dict[str, tuple[str, str]]:
    """name -> (status, detail) from the printed table; the header must be the first line."""
    lines = stdout.splitlines()
    assert re.fullmatch(r"check +status +detail", lines[0])
    rows = {}
    for line in lines[1:]:
        if not line:
            break
        match = re.fullmatch(r"(.+?) +(ok|warn|FAIL) +(.*)", line)
        assert match, line
        rows[match[1]] = (match[2], match[3])
    return rows


def test_the_doctor_command_prints_a_row_per_check_and_exits_0(
    tmp_path: Path, healthy: dict[str, Any], app_key: str
) -> None:
    key_file = tmp_path / "app.private-key.pem"
    key_file.write_text(app_key)
    values = healthy | {"github_private_key_path": key_file}
    del values["github_private_key"]

    done = run_autofix("doctor", env=cli_settings(tmp_path, **values), cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    rows = table_rows(done.stdout)
    assert list(rows) == CHECK_NAMES
    assert {status for status, _ in rows.values()} == {"ok"}
    assert done.stdout.endswith("\nall checks passed\n")


def test_the_doctor_command_fails_on_a_private_key_github_does_not_know(
    tmp_path: Path, healthy: dict[str, Any], other_key: str
) -> None:
    env = cli_settings(tmp_path, **(healthy | {"github_private_key": other_key}))

    done = run_autofix("doctor", env=env, cwd=tmp_path)

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    rows = table_rows(done.stdout)
    assert rows["github app"] == (
        "FAIL",
        "GET /app answered 401: A JSON web token could not be decoded "
        "(check GITHUB_APP_ID and the private key)",
    )
    assert [status for status, _ in rows.values()] == ["ok", "ok", "FAIL", "ok"]
    assert done.stdout.endswith("\n1 failed: github app\n")


# -- what goes wrong, check by check ------------------------------------------------------------


@pytest.mark.parametrize(
    ("skew_s", "said"),
    [
        (+20 * 60, fake_github.JWT_EXPIRED),  # GitHub's clock ahead: the JWT expired already
        (-20 * 60, fake_github.JWT_IAT_INVALID),  # GitHub's clock behind: issued in the future
    ],
    ids=["host-clock-behind", "host-clock-ahead"],
)
async def test_a_clock_off_by_minutes_is_reported_as_such(
    healthy: dict[str, Any], github: Served[fake_github.GitHubState], skew_s: int, said: str
) -> None:
    github.state.clock = lambda: time.time() + skew_s

    checks = by_name(await collect_checks(make_settings(**healthy)))

    assert checks["github app"] == Check(
        "github app", "FAIL", f"GET /app answered 401: {said} (is this machine's clock right?)"
    )


async def test_an_app_id_github_does_not_know(healthy: dict[str, Any], github: Served[Any]) -> None:
    checks = by_name(await collect_checks(make_settings(**(healthy | {"github_app_id": 999}))))

    assert checks["github app"].status == "FAIL"
    assert checks["github app"].detail == (
        f"GET /app answered 404: Integration not found (no App 999 at {github.url}? check GITHUB_APP_ID)"
    )


def _ec_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode()


@pytest.mark.parametrize(
    ("key", "detail"),
    [
        (
            "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n",
            "GITHUB_PRIVATE_KEY: not a usable PEM private key (Could not deserialize key data)",
        ),
        (_ec_key(), "GITHUB_PRIVATE_KEY: not an RSA key (GitHub App keys are RSA)"),
    ],
    ids=["garbled", "not-rsa"],
)
async def test_a_key_that_cannot_sign_is_reported_before_calling_github(
    healthy: dict[str, Any], github: Served[fake_github.GitHubState], key: str, detail: str
) -> None:
    checks = by_name(await collect_checks(make_settings(**(healthy | {"github_private_key": key}))))

    assert checks["github app"] == Check("github app", "FAIL", detail)
    assert github.state.requests == []


async def test_a_check_that_crashes_is_a_fail_row_and_the_others_still_run(
    tmp_path: Path, healthy: dict[str, Any], app_key: str
) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(app_key)
    values = healthy | {"github_private_key": None, "github_private_key_path": key_file}
    settings = make_settings(**values)
    key_file.unlink()  # rotated away after start-up

    checks = by_name(await collect_checks(settings))

    assert checks["github app"].status == "FAIL"
    assert checks["github app"].detail.startswith("unexpected FileNotFoundError: ")
    assert [c.status for c in checks.values()] == ["ok", "ok", "FAIL", "ok"]


async def test_a_wrong_anthropic_key(healthy: dict[str, Any], anthropic: Served[Any]) -> None:
    checks = by_name(await collect_checks(make_settings(**(healthy | {"anthropic_api_key": "sk-ant-wrong"}))))

    assert checks["anthropic"] == Check(
        "anthropic", "FAIL", f"{anthropic.url} answered 401: invalid x-api-key"
    )


def test_unreachable_services_fail_quickly_without_a_traceback(
    healthy: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    unreachable = {"github_api_url": nobody, "anthropic_base_url": nobody}
    settings = make_settings(**(healthy | unreachable | {"redis_url": f"redis://127.0.0.1:{free_port()}/0"}))
    started = time.monotonic()

    exit_code = run_doctor(settings)

    assert time.monotonic() - started < 5
    assert exit_code == 1
    out = capsys.readouterr()
    rows = table_rows(out.out)
    assert {name: status for name, (status, _) in rows.items()} == {
        "redis": "FAIL",
        "webhook secret": "ok",
        "github app": "FAIL",
        "anthropic": "FAIL",
    }
    assert rows["redis"][1].startswith("cannot reach REDIS_URL: ConnectionError: ")
    assert rows["github app"][1].startswith(f"cannot call {nobody}: RequestError: ")
    assert rows["anthropic"][1].startswith(f"cannot reach {nobody}: Connection error.")
    assert out.out.endswith("\n3 failed: redis, github app, anthropic\n")
    assert "Traceback" not in out.err


# -- Redis and the webhook secret ---------------------------------------------------------------


async def test_redis_that_may_evict_jobs_fails(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    url = server.start()
    try:
        with sync_redis.Redis.from_url(url) as r:
            r.config_set("maxmemory-policy", "allkeys-lru")

        check = await check_redis(make_settings(redis_url=url))
    finally:
        server.stop()

    assert check == Check(
        "redis",
        "FAIL",
        "maxmemory-policy is allkeys-lru: Redis may evict queued jobs; set `maxmemory-policy noeviction`",
    )


async def test_without_redis_url_serve_will_embed_one(tmp_path: Path) -> None:
    check = await check_redis(make_settings(autofix_data_dir=tmp_path / "data"))

    assert check.status == "ok"
    assert check.detail.startswith("REDIS_URL unset: `serve` embeds ")
    assert check.detail.endswith(f"redis-server in {tmp_path / 'data'}")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"github_webhook_secret": None},
            ("FAIL", "GITHUB_WEBHOOK_SECRET is not set: every delivery gets 401"),
        ),
        ({"github_webhook_secret": "hunter2"}, ("warn", "only 7 characters; use a long random secret")),
        ({}, ("ok", f"set ({len(SECRET)} characters)")),
        (
            {"github_webhook_secret_previous": "old-secret-old-secret-old"},
            ("ok", f"set ({len(SECRET)} characters); previous secret also accepted"),
        ),
    ],
    ids=["missing", "short", "set", "rotating"],
)
async def test_the_webhook_secret(values: dict[str, Any], expected: tuple[str, str]) -> None:
    check = await check_webhook_secret(make_settings(**values))

    assert (check.status, check.detail) == expected


# -- the table (pure) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("checks", "lines"),
    [
        (
            [Check("db", "ok", "fine"), Check("a much longer name", "FAIL", "broken")],
            [
                "check               status  detail",
                "db                  ok      fine",
                "a much longer name  FAIL    broken",
            ],
        ),
        (
            [Check("db", "ok", "fine"), Check("x", "warn", "hmm")],
            ["check  status  detail", "db     ok      fine", "x      warn    hmm"],
        ),
    ],
    ids=["names-longer-than-the-header", "names-shorter-than-the-header"],
)
def test_render_table_aligns_the_columns(checks: list[Check], lines: list[str]) -> None:
    assert render_table(checks).splitlines() == lines


def test_render_table_keeps_every_detail_on_one_line() -> None:
    table = render_table([Check("x", "warn", "line one\nline two\r\n\tthree")])

    assert table.splitlines() == ["check  status  detail", "x      warn    line one line two three"]


def test_render_table_of_nothing_is_the_header() -> None:
    assert render_table([]) == "check  status  detail"
