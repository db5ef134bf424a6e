"""`python -m tests.fakes.github` as a maintainer runs it: a local GitHub whose webhooks reach autofix."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from redis.asyncio import Redis

from app.doctor import Check, check_github_app
from app.queue import QUEUE
from app.settings import Settings
from app.web import build_app
from tests.support import SECRET, LiveServer, free_port, make_settings

ROOT = Path(__file__).resolve().parent.parent


async def test_the_local_github_by_hand_feeds_a_running_autofix(
    tmp_path: Path, redis: Redis, redis_url: str
) -> None:
    port = free_port()
    with LiveServer(build_app(make_settings(redis_url=redis_url), redis_url)) as web:
        command = [sys.executable, "-m", "tests.fakes.github", "--dir", str(tmp_path), "--port", str(port),
                   "--webhook-url", f"{web.url}/webhooks/github", "--secret", SECRET, "--demo"]  # fmt: skip
        with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as process:  # noqa: ASYNC220
            try:
                assert process.stdout is not None
                printed = dict(process.stdout.readline().strip().split("=", 1) for _ in range(3))
                deadline = time.monotonic() + 15
                while await redis.zcard(QUEUE) < 2 and time.monotonic() < deadline:  # noqa: ASYNC110  # polls
                    await asyncio.sleep(0.1)
                queued = sorted(m.decode().split(":")[0] for m in await redis.zrange(QUEUE, 0, -1))
                settings = Settings(_env_file=None, **{k.lower(): v for k, v in printed.items()})
                check = await _until_served(settings)
            finally:
                process.terminate()
    assert queued == ["check", "issue"], "the demo's failed check and labelled issue became jobs"
    assert check.status == "ok", check.detail


async def _until_served(settings: Settings) -> Check:
    """`autofix doctor`'s GitHub check against the printed settings, once the server answers."""
    for _ in range(50):
        check = await check_github_app(settings)
        if check.status == "ok" or "cannot call" not in check.detail:
            return check
        await asyncio.sleep(0.1)
    return check
