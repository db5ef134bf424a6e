"""Long-running commands: `web` (uvicorn), `worker` (arq), and `serve` (both, plus embedded Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import uvicorn

from app.embedded_redis import DataDirLock, EmbeddedRedis
from app.settings import Settings
from app.web import build_app

log = logging.getLogger("autofix")


def uvicorn_server(settings: Settings, redis_url: str, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        build_app(settings, redis_url),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,  # every delivery is logged once, with its context, by the endpoint
        log_config=None,  # keep our structured logging
        proxy_headers=True,
        timeout_graceful_shutdown=20,
        server_header=False,
    )
    return uvicorn.Server(config)


def run_web(settings: Settings, redis_url: str, host: str, port: int) -> None:
    log.info("web listening on http://%s:%d", host, port)
    uvicorn_server(settings, redis_url, host, port).run()


def run_worker(settings: Settings, redis_url: str) -> None:
    from jobs.worker import build_worker  # the web-only commands never load the worker

    async def main() -> None:
        worker = build_worker(settings, redis_url)
        try:
            await worker.async_run()
        except asyncio.CancelledError:
            pass  # SIGINT/SIGTERM: arq cancelled its main task; running jobs are re-queued
        finally:
            await worker.close()

    asyncio.run(main())


def run_serve(settings: Settings, host: str, port: int) -> None:
    """Web and worker in one process; an embedded Redis in the data directory unless REDIS_URL is set."""
    lock = DataDirLock(settings.autofix_data_dir)
    lock.acquire()
    embedded = None
    try:
        redis_url = settings.redis_url
        if redis_url is None:
            embedded = EmbeddedRedis(settings.autofix_data_dir)
            redis_url = embedded.start()
            log.info("embedded redis started in %s", embedded.data_dir)
        asyncio.run(_serve(settings, redis_url, host, port))
    finally:
        if embedded is not None:
            embedded.stop()
        lock.release()


async def _serve(settings: Settings, redis_url: str, host: str, port: int) -> None:
    from jobs.worker import build_worker

    server = uvicorn_server(settings, redis_url, host, port)
    worker = build_worker(settings, redis_url, handle_signals=False)  # uvicorn owns the signals
    worker_task = asyncio.create_task(worker.async_run())
    log.info("serving on http://%s:%d (web + worker)", host, port)
    try:
        await server.serve()
    finally:
        await worker.close()  # cancels running jobs: arq re-queues them for the next start
        worker_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker_task
