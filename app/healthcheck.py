"""Container health checks: `python -m app.healthcheck web|worker`; exit 0 when healthy, 1 otherwise.

  web     GET /healthz on AUTOFIX_PORT (default 8000) answers 200 within 4 s.
  worker  a worker on this host has sent a heartbeat within `stats.ALIVE_S` (REDIS_URL is needed).

Kept apart from the CLI so a check costs one small import, not the whole app, every 30 seconds.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import urllib.request

TIMEOUT_S = 4.0


def web_healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=TIMEOUT_S) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def worker_healthy(redis_url: str, host: str, now: float) -> bool:
    import json

    import redis

    from app.stats import ALIVE_S, WORKER, WORKERS

    client = redis.Redis.from_url(redis_url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
    try:
        ids: list[bytes] = client.zrangebyscore(WORKERS, now - ALIVE_S, "+inf")  # type: ignore[assignment]
        for worker_id in ids:
            info: bytes | None = client.get(WORKER.format(worker_id=worker_id.decode()))  # type: ignore[assignment]
            if info and json.loads(info).get("host") == host:
                return True
        return False
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def main(argv: list[str]) -> int:
    role = argv[0] if argv else "web"
    if role == "web":
        return 0 if web_healthy(int(os.environ.get("AUTOFIX_PORT", "8000"))) else 1
    if role == "worker":
        url = os.environ.get("REDIS_URL")
        if not url:
            print("healthcheck worker: REDIS_URL is not set", file=sys.stderr)
            return 1
        return 0 if worker_healthy(url, socket.gethostname(), time.time()) else 1
    print(f"healthcheck: unknown role {role!r} (web or worker)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
