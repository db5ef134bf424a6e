"""Long-running commands: `web` (uvicorn), `worker` (arq), and `serve` (both, plus embedded Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Iterator

import uvicorn

from app.embedded_redis import DataDirLock, EmbeddedRedis
from app.settings import Settings
from app.web import build_app

log = logging.getLogger("autofix")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Server(uvicorn.Server):
    """uvicorn's server, minus the re-raise of the stop signal once it has shut down.

    uvicorn re-raises a caught SIGTERM/SIGINT after `serve()` returns, so the default handler kills
    the process on the spot: `serve` never got to stop its worker and its embedded redis-server,
    which was left running. A stop signal is a request to stop cleanly: finish, clean up, exit 0.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals can only be handled in the main thread
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


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
    return _Server(config)


def run_web(settings: Settings, redis_url: str, host: str, port: int) -> None:
    log.info("web listening on http://%s:%d", host, port)
    uvicorn_server(settings, redis_url, host, port).run()


def run_worker(settings: Settings, redis_url: str) -> None:
    from jobs.worker import keep_working  # the web-only commands never load the worker

    async def main() -> None:
        # the fix worker and the command worker, each on its own queue; SIGINT/SIGTERM: arq cancels
        # its main task, and running jobs are re-queued
        with contextlib.suppress(asyncio.CancelledError):
            await keep_working(settings, redis_url)

    asyncio.run(main())


def run_setup(settings: Settings, host: str, port: int) -> bool:
    """Serve the set-up pages until the GitHub App is registered; False if stopped by a signal first."""
    from app.setup.web import build_setup_app

    done = threading.Event()
    server: _Server | None = None

    def registered() -> None:
        done.set()
        if server is not None:
            server.should_exit = True

    config = uvicorn.Config(
        build_setup_app(settings, registered),
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        server_header=False,
    )
    server = _Server(config)
    log.info("no GitHub App yet: open http://%s:%d/setup to register one", host, port)
    server.run()
    return done.is_set()


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
            log.info("embedded redis stopped")
        lock.release()


async def _serve(settings: Settings, redis_url: str, host: str, port: int) -> None:
    from jobs.worker import keep_working

    server = uvicorn_server(settings, redis_url, host, port)
    working = asyncio.create_task(keep_working(settings, redis_url, handle_signals=False))  # uvicorn: signals

    def workers_ended(task: asyncio.Task[None]) -> None:  # never a web that accepts what nobody runs
        if not task.cancelled():
            log.error("the workers stopped (%r): stopping the web too", task.exception())
            server.should_exit = True

    working.add_done_callback(workers_ended)
    tasks = [working]
    if settings.webhook_proxy_url:
        from app.smee import run_proxy

        local = f"http://127.0.0.1:{port}/webhooks/github"
        tasks.append(asyncio.create_task(run_proxy(settings.webhook_proxy_url, local)))
    log.info("serving on http://%s:%d (web + worker)", host, port)
    try:
        await server.serve()
    finally:
        for task in tasks:  # the workers close, cancelling running jobs: arq re-queues them
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
