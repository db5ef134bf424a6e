"""The `autofix` console script, run as a real process with a clean environment.

The working directory is a fresh tmp dir (so no developer `.env` is read) unless a test writes one.
Long-running commands are stopped with SIGTERM at the end of their `with` block, SIGKILL if they hang,
and any redis-server a killed `serve` would leave behind is killed after the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.audit import read_audit
from app.embedded_redis import PID_FILE, SOCKET_FILE
from app.signatures import verify_signature
from tests.fakes.github import generate_private_key
from tests.support import (
    APP_DELIVERIES,
    SECRET,
    AutofixProcess,
    LiveServer,
    cli_env,
    free_port,
    pid_running,
    run_autofix,
    wait_until,
)

CHECK_RUN = APP_DELIVERIES / "check_run.completed.1.json"  # a recorded check run, as an App gets it
CHECK_RUN_REPO = "Codertocat/Hello-World"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """AUTOFIX_DATA_DIR for `serve`; a redis-server still running there afterwards is killed."""
    path = tmp_path / "data"
    yield path
    try:
        pid = int((path / PID_FILE).read_text())
    except (OSError, ValueError):
        return
    with contextlib.suppress(OSError):  # gone meanwhile: nothing to do
        if pid_running(pid) and Path(os.readlink(f"/proc/{pid}/cwd")) == path.resolve():
            os.kill(pid, signal.SIGKILL)


def one_line(stderr: str) -> str:
    """The single line a failed command printed; anything more (a traceback) fails the test."""
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert "Traceback" not in stderr
    return lines[0]


def json_logs(stderr: str) -> list[dict[str, Any]]:
    """Every stderr line parsed as the one JSON object it must be."""
    logs = [json.loads(line) for line in stderr.splitlines()]
    assert all(isinstance(line, dict) and {"ts", "level", "logger", "msg"} <= line.keys() for line in logs)
    return logs


def audit_entries(redis_url: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        client = Redis.from_url(redis_url)
        try:
            return await read_audit(client)
        finally:
            await client.aclose()

    return asyncio.run(read())


def received(redis_url: str, job_id: str) -> list[dict[str, Any]]:
    """The audit entries of the worker having run `job_id` (fix_check_run records what it received)."""
    return [
        e
        for e in audit_entries(redis_url)
        if e["kind"] == "job.received" and e["function"] == "fix_check_run" and e["job_id"] == job_id
    ]


def replay(url: str, env: dict[str, str], cwd: Path, delivery: str) -> str:
    """`autofix replay` the failed check run to `url`; returns the job id the server answered with."""
    done = run_autofix(
        "replay", str(CHECK_RUN), "--event", "check_run", "--url", url, "--delivery", delivery,
        env=env, cwd=cwd,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    status_line, body = done.stdout.splitlines()[:2]
    assert status_line == f"202 Accepted  delivery {delivery}"
    [job_id] = json.loads(body)["jobs"]
    return str(job_id)


# -- commands that finish at once ------------------------------------------------------------


def test_help_lists_every_command(tmp_path: Path, home: Path) -> None:
    done = run_autofix("--help", env=cli_env(home), cwd=tmp_path)

    assert done.returncode == 0
    listed = re.findall(r"^    (\w+)\s", done.stdout, re.MULTILINE)
    assert listed == [
        "serve",
        "web",
        "worker",
        "doctor",
        "replay",
        "version",
        "report",
        "logs",
        "init",
        "fix",
    ]


def test_version(tmp_path: Path, home: Path) -> None:
    done = run_autofix("version", env=cli_env(home), cwd=tmp_path)

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    assert (done.returncode, done.stdout, done.stderr) == (0, f"autofix {project['version']}\n", "")


@pytest.fixture(scope="module")
def private_key() -> str:
    return generate_private_key()


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        pytest.param({"GITHUB_APP_ID": "abc"}, "GITHUB_APP_ID", id="app-id-not-a-number"),
        pytest.param({"REDIS_URL": "http://x"}, "REDIS_URL", id="redis-url-not-redis"),
        pytest.param({"GITHUB_PRIVATE_KEY_PATH": "/nonexistent"}, "GITHUB_PRIVATE_KEY_PATH", id="key-path"),
        pytest.param({"AUTOFIX_PORT": "99999"}, "AUTOFIX_PORT", id="port-out-of-range"),
        pytest.param({"AUTOFIX_LOG_FORMAT": "xml"}, "AUTOFIX_LOG_FORMAT", id="log-format"),
        pytest.param(
            {"GITHUB_PRIVATE_KEY": "<pem>", "GITHUB_PRIVATE_KEY_PATH": "<pem-file>"},
            "GITHUB_PRIVATE_KEY_PATH",
            id="both-key-sources",
        ),
    ],
)
def test_a_malformed_setting_exits_2_with_one_line_naming_it(
    tmp_path: Path, home: Path, private_key: str, values: dict[str, str], variable: str
) -> None:
    pem_file = tmp_path / "app.pem"
    pem_file.write_text(private_key)
    filled = {
        k: v.replace("<pem-file>", str(pem_file)).replace("<pem>", private_key) for k, v in values.items()
    }
    env = cli_env(home, GITHUB_WEBHOOK_SECRET=SECRET, **filled)

    done = run_autofix("web", env=env, cwd=tmp_path)

    assert done.returncode == 2
    assert done.stdout == ""
    line = one_line(done.stderr)
    assert line.startswith("autofix: ")
    assert variable in line


@pytest.mark.parametrize(
    ("args", "values", "variable"),
    [
        (["web"], {"REDIS_URL": "redis://127.0.0.1:1/0"}, "GITHUB_WEBHOOK_SECRET"),
        (["serve"], {"GITHUB_APP_ID": "12345"}, "GITHUB_WEBHOOK_SECRET"),  # an App, no secret
        (["web"], {"GITHUB_WEBHOOK_SECRET": SECRET}, "REDIS_URL"),
        (["worker"], {}, "REDIS_URL"),
        (["replay", str(CHECK_RUN), "--event", "check_run"], {}, "GITHUB_WEBHOOK_SECRET"),
    ],
    ids=["web-secret", "serve-secret", "web-redis", "worker-redis", "replay-secret"],
)
def test_a_missing_setting_exits_2_with_one_line_naming_it(
    tmp_path: Path, home: Path, args: list[str], values: dict[str, str], variable: str
) -> None:
    done = run_autofix(*args, env=cli_env(home, **values), cwd=tmp_path)

    assert done.returncode == 2
    assert one_line(done.stderr) == (
        f"autofix: {variable} is not set (needed by autofix {args[0]}"
        + ("; `autofix serve` starts an embedded Redis)" if variable == "REDIS_URL" else ")")
    )


def test_replay_to_a_port_nobody_listens_on_exits_1_with_one_line(tmp_path: Path, home: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/webhooks/github"
    env = cli_env(home, GITHUB_WEBHOOK_SECRET=SECRET)

    done = run_autofix("replay", str(CHECK_RUN), "--event", "check_run", "--url", url, env=env, cwd=tmp_path)

    assert done.returncode == 1
    assert done.stdout == ""
    assert one_line(done.stderr).startswith(f"autofix: cannot POST to {url}: ConnectError")


def test_replay_of_a_missing_file_exits_2_with_one_line(tmp_path: Path, home: Path) -> None:
    env = cli_env(home, GITHUB_WEBHOOK_SECRET=SECRET)

    done = run_autofix("replay", "nope.json", "--event", "ping", env=env, cwd=tmp_path)

    assert done.returncode == 2
    assert one_line(done.stderr) == "autofix: cannot read nope.json: No such file or directory"


def test_settings_come_from_dotenv_in_the_working_directory_and_the_environment_wins(
    tmp_path: Path, home: Path
) -> None:
    seen: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: Request) -> Response:
        seen.append((dict(request.headers), await request.body()))
        return JSONResponse({"ok": True}, status_code=202)

    project = tmp_path / "project"
    project.mkdir()
    dotenv_secret = "secret-from-dotenv-0123456789abcdef"
    with LiveServer(Starlette(routes=[Route("/webhooks/github", hook, methods=["POST"])])) as server:
        (project / ".env").write_text(
            f"# written by the test\nGITHUB_WEBHOOK_SECRET={dotenv_secret}\nAUTOFIX_PORT={free_port()}\n"
        )
        env = cli_env(home, AUTOFIX_PORT=server.port)  # the environment wins over .env
        args = ("replay", str(CHECK_RUN), "--event", "check_run", "--delivery", "from-dotenv")

        in_project = run_autofix(*args, env=env, cwd=project)
        elsewhere = run_autofix(*args, env=env, cwd=tmp_path)

    assert in_project.returncode == 0, in_project.stderr
    assert in_project.stdout.startswith("202 Accepted  delivery from-dotenv")
    [(headers, body)] = seen
    assert body == CHECK_RUN.read_bytes()
    assert headers["x-github-delivery"] == "from-dotenv"
    assert verify_signature([dotenv_secret.encode()], body, headers["x-hub-signature-256"])
    assert elsewhere.returncode == 2  # no .env there: the secret is simply not set
    assert "GITHUB_WEBHOOK_SECRET is not set" in one_line(elsewhere.stderr)


# -- long-running commands --------------------------------------------------------------------


def test_serve_runs_web_worker_and_a_durable_embedded_redis(
    tmp_path: Path, home: Path, data_dir: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = cli_env(
        home,
        GITHUB_WEBHOOK_SECRET=SECRET,
        AUTOFIX_DATA_DIR=data_dir,
        AUTOFIX_PORT=port,
        AUTOFIX_LOG_FORMAT="json",
    )
    redis_url = f"unix://{data_dir.resolve() / SOCKET_FILE}"

    with AutofixProcess("serve", env=env, cwd=tmp_path) as serve:
        assert serve.wait_http(f"{base}/healthz").json() == {"status": "ok"}
        assert serve.wait_http(f"{base}/readyz").json() == {"status": "ready"}
        redis_pid = int((data_dir / PID_FILE).read_text())

        second = run_autofix("serve", env=env | {"AUTOFIX_PORT": str(free_port())}, cwd=tmp_path)
        assert second.returncode == 2
        assert f"is in use by autofix serve (pid {serve.pid})" in one_line(second.stderr)

        wrong_secret = env | {"GITHUB_WEBHOOK_SECRET": "not-the-secret-of-this-server"}
        rejected = run_autofix(
            "replay", str(CHECK_RUN), "--event", "check_run", "--url", f"{base}/webhooks/github",
            env=wrong_secret, cwd=tmp_path,
        )  # fmt: skip
        assert rejected.returncode == 1
        assert rejected.stdout.startswith("401 Unauthorized")

        job_id = replay(f"{base}/webhooks/github", env, tmp_path, delivery="serve-e2e-1")
        [entry] = wait_until(lambda: received(redis_url, job_id), 15, "the worker to record the job")
        assert entry["request"]["repo"] == CHECK_RUN_REPO

        assert serve.stop(signal.SIGTERM, timeout=10) == 0
    assert not pid_running(redis_pid), "serve must stop its redis-server on SIGTERM"
    assert "Traceback" not in serve.stderr()

    logs = json_logs(serve.stderr())
    [queued] = [line for line in logs if line["msg"] == "queued"]
    assert {k: queued.get(k) for k in ("delivery_id", "event", "repo", "job_id")} == {
        "delivery_id": "serve-e2e-1",
        "event": "check_run",
        "repo": CHECK_RUN_REPO,
        "job_id": job_id,
    }
    assert [
        line["job_try"] for line in logs if line["msg"] == "received" and line.get("job_id") == job_id
    ] == [1]

    with AutofixProcess("serve", env=env, cwd=tmp_path) as again:
        again.wait_http(f"{base}/readyz")
        assert [e["id"] for e in received(redis_url, job_id)] == [entry["id"]]  # kept, and not run twice
        with sync_redis.Redis.from_url(redis_url) as r:
            assert r.exists(f"arq:result:{job_id}") == 1
            assert r.zscore("arq:queue", job_id) is None  # (the cron jobs queue their own runs)
        assert again.stop() == 0


@pytest.fixture
def shared_redis(redis_url: str) -> Iterator[str]:
    """The session's Redis, flushed before and after (the child processes leave jobs and audit there)."""
    with sync_redis.Redis.from_url(redis_url) as r:
        r.flushdb()
        yield redis_url
        r.flushdb()


def test_web_and_worker_as_separate_processes_share_one_redis(
    tmp_path: Path, home: Path, shared_redis: str
) -> None:
    redis_url = shared_redis
    port = free_port()
    env = cli_env(
        home, GITHUB_WEBHOOK_SECRET=SECRET, REDIS_URL=redis_url, AUTOFIX_PORT=port, AUTOFIX_LOG_FORMAT="json"
    )

    with (
        AutofixProcess("web", env=env, cwd=tmp_path) as web,
        AutofixProcess("worker", env=env, cwd=tmp_path) as worker,
    ):
        web.wait_http(f"http://127.0.0.1:{port}/readyz")
        job_id = replay(f"http://127.0.0.1:{port}/webhooks/github", env, tmp_path, delivery="split-1")
        wait_until(lambda: received(redis_url, job_id), 15, "the worker process to record the job")

        assert web.stop() == 0
        assert worker.stop() == 0
    about_the_job = {
        name: [line["msg"] for line in json_logs(process.stderr()) if line.get("job_id") == job_id]
        for name, process in (("web", web), ("worker", worker))
    }
    assert about_the_job == {"web": ["queued"], "worker": ["received"]}  # web queues it, the worker runs it


def test_serve_on_a_port_in_use_exits_non_zero_and_stops_its_redis(
    tmp_path: Path, home: Path, data_dir: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = cli_env(home, GITHUB_WEBHOOK_SECRET=SECRET, AUTOFIX_DATA_DIR=data_dir, AUTOFIX_PORT=port)

        done = run_autofix("serve", env=env, cwd=tmp_path, timeout=20)

    assert done.returncode != 0
    assert f"error while attempting to bind on address ('127.0.0.1', {port})" in done.stderr
    assert "embedded redis stopped" in done.stderr
    assert not (data_dir / PID_FILE).exists()  # redis-server removes it when it shuts down cleanly
    assert "Traceback" not in done.stderr


def test_serve_with_redis_url_uses_it_and_starts_no_redis(
    tmp_path: Path, home: Path, data_dir: Path, shared_redis: str
) -> None:
    port = free_port()
    env = cli_env(
        home,
        GITHUB_WEBHOOK_SECRET=SECRET,
        REDIS_URL=shared_redis,
        AUTOFIX_DATA_DIR=str(data_dir),
        AUTOFIX_PORT=port,
        AUTOFIX_LOG_FORMAT="json",
    )
    with AutofixProcess("serve", env=env, cwd=tmp_path) as serve:
        serve.wait_http(f"http://127.0.0.1:{port}/readyz")
        job_id = replay(f"http://127.0.0.1:{port}/webhooks/github", env, tmp_path, delivery="external-1")
        wait_until(
            lambda: received(shared_redis, job_id), 15, "serve's worker to record the job in REDIS_URL"
        )
        assert serve.stop() == 0
    assert not (data_dir / SOCKET_FILE).exists()
    assert not (data_dir / PID_FILE).exists()
    assert not any("embedded redis" in line["msg"] for line in json_logs(serve.stderr()))
