"""The `autofix` command. Settings are built here, once, when a command starts."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine, Sequence
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

from app.embedded_redis import SOCKET_FILE, EmbeddedRedisError
from app.logs import configure_logging
from app.redis_guard import RedisGuardError
from app.settings import Settings, SettingsError, load_settings

WEB_NEEDS = ("github_webhook_secret",)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="autofix",
        description="Autofix: a GitHub App that reproduces failing checks and proposes proven fixes.",
        epilog="Settings come from the environment and ./.env; see README.md.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in (
        ("serve", "web + worker in one process, with an embedded Redis when REDIS_URL is unset"),
        ("web", "the webhook receiver only (scale out: many replicas on one REDIS_URL)"),
    ):
        s = sub.add_parser(name, help=text, description=text)
        s.add_argument("--host", help="address to listen on (default: AUTOFIX_HOST, 127.0.0.1)")
        s.add_argument("--port", type=int, help="port to listen on (default: AUTOFIX_PORT, 8000)")
    sub.add_parser("worker", help="the job worker only (scale out: many workers on one REDIS_URL)")
    sub.add_parser("doctor", help="check Redis, the App credentials, Anthropic and the webhook secret")
    r = sub.add_parser("replay", help="sign a payload file with the webhook secret and POST it to a server")
    r.add_argument("file", type=Path, help="a webhook payload (JSON), e.g. one saved from GitHub")
    r.add_argument("--event", required=True, help="the X-GitHub-Event value, e.g. check_run")
    r.add_argument("--url", help="default: http://AUTOFIX_HOST:AUTOFIX_PORT/webhooks/github")
    r.add_argument("--delivery", help="X-GitHub-Delivery to send (default: a new UUID)")
    sub.add_parser("version", help="print the version")
    rp = sub.add_parser("report", help="jobs, proven fixes, PRs, time-to-PR, cost and refusals over a window")
    rp.add_argument("--since", default="7d", help="7d, 36h or a date like 2026-11-14 (default: 7d)")
    rp.add_argument("--repo", help="owner/name: this repository only (rebuilt from its job records)")
    rp.add_argument("--format", choices=("md", "json"), default="md", help="default: md")
    jl = sub.add_parser("logs", help="print a job's log lines (kept 14 days)")
    jl.add_argument("--job", required=True, metavar="ID", help="the job id (see the dashboard or the PR)")
    jl.add_argument("--follow", "-f", action="store_true", help="keep printing until the job ends")
    rb = sub.add_parser(
        "rebuild-state", help="rebuild Redis's decisions from the state blocks of the bot's pull requests"
    )
    rb.add_argument("--days", type=int, default=30, help="closed PRs updated this recently (default: 30)")
    lg = sub.add_parser("report-log", help="print the FailureReport of a CI job log (no settings needed)")
    lg.add_argument("file", help="a GitHub Actions job log, `gh run view --log` output or console output")
    lg.add_argument("--json", action="store_true", help="print the report as JSON")
    ini = sub.add_parser("init", help="write the sandbox workflow and a starter .github/autofix.yml")
    ini.add_argument("path", nargs="?", type=Path, default=Path("."), help="a checkout (default: here)")
    ini.add_argument("--uses", default=None, help="OWNER/REPO holding the reusable sandbox workflow")
    ini.add_argument("--ref", default=None, help="its commit SHA or tag (pin a commit SHA)")
    fx = sub.add_parser(
        "fix", help="find, prove and apply a fix in a local checkout (same engine as the bot)"
    )
    fx.add_argument("path", nargs="?", type=Path, default=Path("."), help="a git checkout (default: here)")
    fx.add_argument(
        "--command", dest="test_command", help="test command (default: `test:` in .github/autofix.yml)"
    )
    what = fx.add_mutually_exclusive_group()
    what.add_argument("--log", type=Path, help="a CI log of the failure (else: run --command to see it)")
    what.add_argument("--issue", type=Path, help="a file with an issue's text to fix")
    fx.add_argument("--dry-run", action="store_true", help="print the proven diff without applying it")
    fx.add_argument("--print-context", action="store_true", help="print the localization as JSON and stop")
    fx.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(f"autofix {dist_version('autofix')}")
        return 0
    if args.command == "init":
        from app.init_cmd import DEFAULT_REF, UPSTREAM, run_init

        return run_init(args.path, args.uses or UPSTREAM, args.ref or DEFAULT_REF)
    if args.command == "fix":
        return _fix(args)
    if args.command == "report-log":
        from sandbox_runner.__main__ import run_report

        return run_report(args.file, as_json=args.json)
    try:
        settings = load_settings()
        configure_logging(settings.autofix_log_format, settings.autofix_log_level)
        return _dispatch(args, settings)
    except (SettingsError, EmbeddedRedisError) as e:
        print(f"autofix: {e}", file=sys.stderr)
        return 2
    except RedisGuardError as e:
        print(str(e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from app import runners

    if args.command in ("serve", "web"):
        host, port = args.host or settings.autofix_host, args.port or settings.autofix_port
        unregistered = settings.github_app_id is None and settings.github_webhook_secret is None
        if args.command == "serve" and unregistered:
            if not runners.run_setup(settings, host, port):  # no App yet: register one first
                return 0
            settings = load_settings()
        settings.require(*WEB_NEEDS, needed_by=f"autofix {args.command}")
        if args.command == "serve":
            if settings.redis_url is not None:  # the embedded Redis is configured by us
                _guard_redis(settings, settings.redis_url)
            runners.run_serve(settings, host, port)
        else:
            runners.run_web(settings, _guard_redis(settings, _redis_url(settings, "web")), host, port)
        return 0
    if args.command == "worker":
        runners.run_worker(settings, _guard_redis(settings, _redis_url(settings, "worker")))
        return 0
    if args.command == "rebuild-state":
        return _rebuild_state(args, settings)
    if args.command == "doctor":
        from app.doctor import run_doctor

        return run_doctor(settings)
    if args.command == "replay":
        from app.replay import run_replay

        return run_replay(settings, args.file, args.event, args.url, args.delivery)
    if args.command == "report":
        return _report(args, settings)
    if args.command == "logs":
        return _logs(args, _reading_redis_url(settings, "logs"))
    raise AssertionError(args.command)


def _guard_redis(settings: Settings, url: str) -> str:
    """Refuse a Redis that would lose jobs (an evicting one); log what is merely risky. Returns `url`."""
    import asyncio
    import logging

    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from app.redis_guard import ensure_redis_keeps_data

    async def check() -> list[str]:
        redis = Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
        try:
            return await ensure_redis_keeps_data(redis, url, volatile_ok=settings.autofix_redis_volatile)
        finally:
            await redis.aclose()

    log = logging.getLogger("autofix")
    try:
        warnings = asyncio.run(check())
    except (RedisError, OSError) as e:  # not up yet: web answers 503 and workers retry until it is
        log.warning(
            "redis: cannot check it now (%s); it is checked again by autofix doctor", type(e).__name__
        )
        return url
    for warning in warnings:
        log.warning("redis: %s", warning)
    return url


def _rebuild_state(args: argparse.Namespace, settings: Settings) -> int:

    from redis.asyncio import Redis

    from app.github.client import GitHubApp
    from jobs.rebuild_state import rebuild_state

    settings.require("github_app_id", "github_private_key", needed_by="autofix rebuild-state")
    redis_url = _reading_redis_url(settings, "rebuild-state")

    async def run() -> str:
        redis = Redis.from_url(redis_url)
        try:
            summary = await rebuild_state(GitHubApp(settings, redis), redis, settings, days=args.days)
        finally:
            await redis.aclose()
        return "\n".join(summary.lines())

    return _with_redis(run)


def _report(args: argparse.Namespace, settings: Settings) -> int:
    import time

    from redis.asyncio import Redis

    from app.report import SinceError, fetch_report, parse_since, render_json, render_md

    now = time.time()
    try:
        since = parse_since(args.since, now)
    except SinceError as e:
        print(f"autofix: {e}", file=sys.stderr)
        return 2
    redis_url = _reading_redis_url(settings, "report")

    async def run() -> str:
        redis = Redis.from_url(redis_url)
        try:
            report = await fetch_report(redis, since=since, now=now, repo=args.repo)
        finally:
            await redis.aclose()
        return render_json(report) if args.format == "json" else render_md(report)

    return _with_redis(run)


def _logs(args: argparse.Namespace, redis_url: str) -> int:
    from redis.asyncio import Redis

    from app.job_records import JobStore
    from app.joblog import fetch_lines, follow_lines, render_line
    from app.queue import JOB_PREFIX

    missing = f"no job {args.job!r} and no log for it (job logs are kept 14 days)"

    async def run() -> str:
        redis = Redis.from_url(redis_url)
        store = JobStore(redis)

        async def finished() -> bool:
            """Done or failed; a job still queued (no record yet) is not finished."""
            record = await store.get(args.job)
            if record is None:
                return not await redis.exists(JOB_PREFIX + args.job)
            return record.status in ("done", "failed")

        try:
            lines = [render_line(f) for _, f in await fetch_lines(redis, args.job)]
            if not lines and await finished() and await store.get(args.job) is None:
                raise LookupError(missing)
            if not args.follow:
                return "\n".join(lines)
            async for fields in follow_lines(redis, args.job, finished):
                print(render_line(fields), flush=True)
            return ""
        finally:
            await redis.aclose()

    return _with_redis(run)


def _with_redis(run: Callable[[], Coroutine[Any, Any, str]]) -> int:
    """Run a reading command: its text on stdout; a missing job or Redis out of reach, one line."""
    import asyncio

    from redis.exceptions import RedisError

    from sandbox_runner.redact import redact

    try:
        text = asyncio.run(run())
    except LookupError as e:
        print(f"autofix: {e.args[0]}", file=sys.stderr)
        return 1
    except (RedisError, OSError) as e:
        print(redact(f"autofix: cannot read Redis: {type(e).__name__}: {e}"), file=sys.stderr)
        return 1
    if text:
        print(text.rstrip("\n"))
    return 0


def _fix(args: argparse.Namespace) -> int:
    import asyncio

    from jobs.local_fix import FixRequest, run_fix

    req = FixRequest(
        args.path, args.test_command, args.log, args.issue, args.dry_run, args.print_context, args.json
    )
    try:
        return asyncio.run(run_fix(req, load_settings))
    except SettingsError as e:
        print(f"autofix: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _reading_redis_url(settings: Settings, command: str) -> str:
    """REDIS_URL, else the embedded Redis of an `autofix serve` running on the data directory."""
    if settings.redis_url is None:
        sock = settings.autofix_data_dir / SOCKET_FILE
        if sock.is_socket():
            return f"unix://{sock.resolve()}"
        raise SettingsError(
            f"REDIS_URL is not set and no `autofix serve` is running on {settings.autofix_data_dir} "
            f"(needed by autofix {command})"
        )
    return settings.redis_url


def _redis_url(settings: Settings, command: str) -> str:
    if settings.redis_url is None:
        raise SettingsError(
            f"REDIS_URL is not set (needed by autofix {command}; `autofix serve` starts an embedded Redis)"
        )
    return settings.redis_url


if __name__ == "__main__":
    sys.exit(main())
