"""A job's own log: every log line carrying a `job_id` also goes to a Redis stream for that job.

`autofix logs --job ID` reads it back from any host, while the job runs (`--follow`) or for 14 days
after. The worker installs the handler once (`install(redis)` in its start-up, `await uninstall(h)`
at shutdown).

Most lines inside a job do not pass `extra={"job_id": …}`: the worker runs each job function inside
`job_context(...)` (`in_job_context` wraps one), and lines logged while it runs carry the job's ids,
in this stream and, through `ContextFilter`, on stderr too.

Logging must never slow a job down: `emit` only appends to a bounded in-memory queue; a task flushes
the queue to Redis in pipelined batches. When Redis is slow and the queue is full, new lines are
dropped and counted (`handle.dropped`), not waited for. Lines are redacted (app/logs.py) before
they leave the process.

  autofix:joblog:{job_id}   stream: ts, level, logger, msg, ctx (JSON of the context fields), exc
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from app.logs import CONTEXT_FIELDS
from sandbox_runner.redact import redact

STREAM = "autofix:joblog:{job_id}"
MAXLEN = 5_000  # lines kept per job (approximately: XADD MAXLEN ~)
TTL_S = 14 * 86_400
QUEUE_MAX = 10_000  # lines waiting for Redis; more are dropped
BATCH = 500  # lines per pipeline
FLUSH_S = 0.1  # how often an idle flusher looks at the queue

log = logging.getLogger("autofix.joblog")
_CURRENT: ContextVar[Mapping[str, Any] | None] = ContextVar("autofix_job", default=None)


@contextlib.contextmanager
def job_context(job_id: str, **fields: Any) -> Iterator[None]:
    """Lines logged inside (in this task and the tasks it starts) carry `job_id` and `fields`."""
    token = _CURRENT.set({"job_id": job_id} | {k: v for k, v in fields.items() if v is not None})
    try:
        yield
    finally:
        _CURRENT.reset(token)


JobFn = Callable[..., Awaitable[Any]]


def in_job_context(name: str, fn: JobFn) -> JobFn:
    """An arq job function whose lines carry its job id, try, function name and repo."""

    @functools.wraps(fn)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if ctx.get("job_id") is None:
            return await fn(ctx, *args, **kwargs)
        request = args[0] if args and isinstance(args[0], dict) else {}
        fields = {"job_try": ctx.get("job_try"), "function": name, "repo": request.get("repo")}
        with job_context(str(ctx["job_id"]), **fields):
            return await fn(ctx, *args, **kwargs)

    return run


def add_context(record: logging.LogRecord) -> None:
    """The current job's fields, on a record that does not carry them already."""
    current = _CURRENT.get()
    for key, value in (current or {}).items():
        if record.__dict__.get(key) is None:
            setattr(record, key, value)


class ContextFilter(logging.Filter):
    """For the other handlers (stderr): job lines get the job's ids there too."""

    def filter(self, record: logging.LogRecord) -> bool:
        add_context(record)
        return True


def build_entry(record: logging.LogRecord, formatter: logging.Formatter) -> dict[str, str] | None:
    """The stream fields of one log record, or None when it is not about a job."""
    job_id = record.__dict__.get("job_id")
    if job_id is None:
        return None
    ctx = {k: record.__dict__[k] for k in CONTEXT_FIELDS if record.__dict__.get(k) is not None}
    entry = {
        "job_id": str(job_id),
        "ts": f"{record.created:.3f}",
        "level": record.levelname,
        "logger": record.name,
        "msg": redact(record.getMessage()),
        "ctx": redact(json.dumps(ctx, default=str)),
    }
    if record.exc_info:
        entry["exc"] = redact(formatter.formatException(record.exc_info))
    return entry


def render_line(fields: Mapping[str, str]) -> str:
    """One stream entry as app/logs.py's TextFormatter prints a line (without the job id: every
    line of a job's log has it)."""
    ts = time.strftime("%H:%M:%S", time.localtime(float(fields.get("ts") or 0)))
    line = f"{ts} {fields.get('level', ''):<7} {fields.get('msg', '')}"
    ctx = json.loads(fields.get("ctx") or "{}")
    extras = [f"{k}={ctx[k]}" for k in CONTEXT_FIELDS if k != "job_id" and ctx.get(k) is not None]
    if extras:
        line += "  " + " ".join(extras)
    if fields.get("exc"):
        line += "\n" + fields["exc"]
    return line


class JobLogHandler(logging.Handler):
    """Queues job lines for the flusher; never blocks, never raises into the caller."""

    def __init__(self, queue_max: int = QUEUE_MAX) -> None:
        super().__init__()
        self.queue: collections.deque[dict[str, str]] = collections.deque()
        self.queue_max = queue_max
        self.dropped = 0
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            add_context(record)
            entry = build_entry(record, self._formatter)
        except Exception:  # a message whose arguments do not format: logging's own rule is to go on
            self.handleError(record)
            return
        if entry is None:
            return
        if len(self.queue) >= self.queue_max:
            self.dropped += 1
            return
        self.queue.append(entry)


@dataclass
class JobLog:
    """What `install` returns: the handler and its flusher task."""

    redis: Redis
    handler: JobLogHandler
    task: asyncio.Task[None] | None = None
    written: int = 0
    errors: int = 0
    context_filter: ContextFilter = field(default_factory=ContextFilter)
    _reported_drops: int = field(default=0, repr=False)

    @property
    def dropped(self) -> int:
        return self.handler.dropped

    async def flush(self) -> None:
        """Write what is queued now, in batches (one pipeline per batch)."""
        queue = self.handler.queue
        while queue:
            batch = [queue.popleft() for _ in range(min(BATCH, len(queue)))]
            try:
                await self._write(batch)
                self.written += len(batch)
            except Exception as e:  # Redis down: these lines are lost, the job goes on
                self.errors += 1
                self.handler.dropped += len(batch)
                log.warning("job log lines lost: %s", type(e).__name__)
        if self.handler.dropped > self._reported_drops:
            log.warning("job log: %d lines dropped so far", self.handler.dropped)
            self._reported_drops = self.handler.dropped

    async def _write(self, batch: list[dict[str, str]]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            keys = set()
            for entry in batch:
                key = STREAM.format(job_id=entry["job_id"])
                keys.add(key)
                fields: dict[Any, Any] = {k: v for k, v in entry.items() if k != "job_id"}
                pipe.xadd(key, fields, maxlen=MAXLEN, approximate=True)
            for key in keys:
                pipe.expire(key, TTL_S)
            await pipe.execute()

    async def run(self) -> None:
        while True:
            if self.handler.queue:
                await self.flush()
            else:
                await asyncio.sleep(FLUSH_S)


def install(redis: Redis, *, queue_max: int = QUEUE_MAX) -> JobLog:
    """Send job lines to Redis from now on. Call inside the running event loop (the worker's start-up)."""
    handle = JobLog(redis, JobLogHandler(queue_max))
    root = logging.getLogger()
    for other in root.handlers:
        other.addFilter(handle.context_filter)
    root.addHandler(handle.handler)
    handle.task = asyncio.get_running_loop().create_task(handle.run(), name="autofix-joblog")
    return handle


async def uninstall(handle: JobLog) -> None:
    """Stop capturing, write what is still queued, stop the flusher."""
    root = logging.getLogger()
    root.removeHandler(handle.handler)
    for other in root.handlers:
        other.removeFilter(handle.context_filter)
    if handle.task is not None:
        handle.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await handle.task
    await handle.flush()


# -- reading ----------------------------------------------------------------------------------------


def _decoded(fields: Mapping[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode(errors="replace") for k, v in fields.items()}


async def fetch_lines(redis: Redis, job_id: str, after: str = "-") -> list[tuple[str, dict[str, str]]]:
    """The job's lines after entry id `after` ("-": from the start), oldest first."""
    low = after if after == "-" else f"({after}"
    rows = await redis.xrange(STREAM.format(job_id=job_id), min=low, max="+")
    return [(i.decode(), _decoded(f)) for i, f in rows]


async def follow_lines(
    redis: Redis,
    job_id: str,
    finished: Callable[[], Awaitable[bool]],
    *,
    block_ms: int = 1000,
    grace_s: float = 1.0,
) -> AsyncIterator[dict[str, str]]:
    """Every line of the job, then new ones as they come, until `finished()` says the job is over.
    The worker writes lines a moment after logging them, so reading goes on for `grace_s` after the
    end, until a read comes back empty."""
    key, last, ended_at = STREAM.format(job_id=job_id), "0-0", None
    while True:
        if ended_at is None and await finished():
            ended_at = time.monotonic()
        wait = block_ms if ended_at is None else max(int(grace_s * 250), 1)
        replies = await redis.xread({key: last}, block=wait, count=BATCH)
        for _stream, rows in replies or []:
            for entry_id, fields in rows:
                last = entry_id.decode()
                yield _decoded(fields)
        if ended_at is not None and not replies and time.monotonic() - ended_at >= grace_s:
            return
