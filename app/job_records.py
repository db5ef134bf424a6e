"""The job record: what a fix attempt did, phase by phase, and the checkpoints that make retries safe.

Every job keeps one JSON document at `autofix:jobrec:{job_id}` (the dashboard, `/autofix status`
and the PR body read it) and an entry in the sorted set `autofix:jobrecs` by last update. Each change
is also published on `autofix:jobrec:events` for live views.

A phase is entered with `async with store.phase(job_id, "gate") as p:` and ends done (or failed, with
the exception's text, when the body raises). Side effects go through `store.once(job_id, key, make)`:
the first run calls `make()` and saves its (JSON) result as a checkpoint; a retried job finds the
checkpoint and gets the saved result back without calling `make()` again. The window between a side
effect and its checkpoint is closed by the side effect itself being find-or-create (issue 9).

`finish` also counts the job in the stats (app/telemetry.py), once per job id.

Only one worker runs a given job at a time (arq's job lock), so read-modify-write needs no lock.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar, cast

from redis.asyncio import Redis

from app.telemetry import count_job

PHASES = (
    "evidence",
    "gate",
    "reproduce",
    "workspace",
    "localize",
    "propose",
    "validate",
    "publish",
    "record",
)
KEY = "autofix:jobrec:{job_id}"
INDEX = "autofix:jobrecs"
EVENTS = "autofix:jobrec:events"
TTL_S = 90 * 86_400
MAX_INDEX = 50_000

T = TypeVar("T")
INTERRUPTED = "Stopped from outside (the job's time limit, or a shutdown that re-queues it)."


@dataclass
class PhaseRecord:
    name: str
    status: str = "running"  # running | done | failed | skipped
    started_at: float = 0.0
    finished_at: float | None = None
    outcome: str | None = None  # short code, e.g. "reproduced", "proven", "pr_opened"
    detail: dict[str, Any] = field(default_factory=dict)
    tries: int = 1

    @property
    def seconds(self) -> float | None:
        return None if self.finished_at is None else round(self.finished_at - self.started_at, 3)


@dataclass
class JobRecord:
    job_id: str
    kind: str  # "fix_check_run" | "fix_issue" | "run_command" …
    repo: str  # owner/name
    created_at: float
    updated_at: float
    status: str = "running"  # running | done | failed
    outcome: str | None = None  # e.g. "pr_opened", "skipped", "unproven"
    reason: str | None = None  # one sentence for people
    request: dict[str, Any] = field(default_factory=dict)
    phases: list[PhaseRecord] = field(default_factory=list)
    checkpoints: dict[str, Any] = field(default_factory=dict)
    tries: int = 1

    def phase_named(self, name: str) -> PhaseRecord | None:
        return next((p for p in reversed(self.phases) if p.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobRecord:
        fields = dict(data)
        fields["phases"] = [PhaseRecord(**p) for p in data.get("phases", [])]
        return cls(**fields)


class Phase:
    """The handle a phase body fills in: its outcome code and details."""

    def __init__(self, record: PhaseRecord) -> None:
        self.record = record

    @property
    def outcome(self) -> str | None:
        return self.record.outcome

    @outcome.setter
    def outcome(self, value: str) -> None:
        self.record.outcome = value

    @property
    def detail(self) -> dict[str, Any]:
        return self.record.detail


class JobStore:
    def __init__(self, redis: Redis, *, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.clock = clock

    async def get(self, job_id: str) -> JobRecord | None:
        raw = await cast("Awaitable[bytes | None]", self.redis.get(KEY.format(job_id=job_id)))
        return JobRecord.from_json(json.loads(raw)) if raw else None

    async def ended(self, job_id: str) -> dict[str, Any] | None:
        """The answer to a late redelivery of a job that already ended (B4), or None to run it."""
        previous = await self.get(job_id)
        if previous is None or previous.status != "done":
            return None
        return {"outcome": "duplicate", "reason": f"job {job_id} already ended: {previous.outcome}"}

    async def start(self, job_id: str, kind: str, repo: str, request: dict[str, Any]) -> JobRecord:
        """The job's record: a new one, or the existing one with its try counted (a retry)."""
        record = await self.get(job_id)
        now = self.clock()
        if record is None:
            record = JobRecord(job_id, kind, repo, now, now, request=request)
        else:
            record.tries += 1
            record.status = "running"
        await self.save(record)
        return record

    async def save(self, record: JobRecord) -> None:
        record.updated_at = self.clock()
        data = json.dumps(record.to_json())
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(KEY.format(job_id=record.job_id), data, ex=TTL_S)
            pipe.zadd(INDEX, {record.job_id: record.updated_at})
            pipe.zremrangebyrank(INDEX, 0, -MAX_INDEX - 1)
            pipe.publish(EVENTS, json.dumps({"job_id": record.job_id, "status": record.status}))
            await pipe.execute()

    async def begin(self, record: JobRecord, name: str) -> PhaseRecord:
        """Enter phase `name` (resuming it when a crashed try left it running)."""
        if name not in PHASES:
            raise ValueError(f"unknown phase {name!r}")
        previous = record.phase_named(name)
        if previous is not None and previous.status == "running":  # a retry after a crash mid-phase
            previous.tries += 1
            phase = previous
        else:
            phase = PhaseRecord(name, started_at=self.clock())
            record.phases.append(phase)
        await self.save(record)
        return phase

    async def end(self, record: JobRecord, phase: PhaseRecord, *, error: BaseException | None = None) -> None:
        phase.status, phase.finished_at = ("failed" if error else "done"), self.clock()
        if error is not None:
            phase.detail.setdefault("error", f"{type(error).__name__}: {error}"[:500])
        await self.save(record)

    @asynccontextmanager
    async def phase(self, record: JobRecord, name: str) -> AsyncIterator[Phase]:
        phase = await self.begin(record, name)
        try:
            yield Phase(phase)
        except BaseException as e:
            await self.end(record, phase, error=e)
            raise
        await self.end(record, phase)

    async def skip(self, record: JobRecord, name: str, outcome: str) -> None:
        now = self.clock()
        record.phases.append(PhaseRecord(name, "skipped", now, now, outcome))
        await self.save(record)

    async def once(self, record: JobRecord, key: str, make: Callable[[], Awaitable[T]]) -> T:
        """The side effect `make()`, run at most once per job (its JSON result is the checkpoint)."""
        if key in record.checkpoints:
            return cast(T, record.checkpoints[key])
        result = await make()
        record.checkpoints[key] = result
        await self.save(record)
        return result

    async def finish(self, record: JobRecord, outcome: str, reason: str, *, failed: bool = False) -> None:
        record.status = "failed" if failed else "done"
        record.outcome, record.reason = outcome, reason
        await self.save(record)
        await count_job(self.redis, record, now=self.clock())

    async def interrupt(self, record: JobRecord, reason: str = INTERRUPTED) -> None:
        """A job cancelled from outside (arq's job timeout, a shutdown): its running phase and the job are
        marked failed, so nothing shows "running" for good. Not counted as finished (no telemetry): a job a
        shutdown re-queues starts again as its next try and finishes for real."""
        now = self.clock()
        for phase in record.phases:
            if phase.status == "running":
                phase.status, phase.finished_at = "failed", now
                phase.detail.setdefault("error", "interrupted")
        record.status, record.outcome, record.reason = "failed", "interrupted", reason
        await self.save(record)

    async def recent(self, limit: int = 50) -> list[JobRecord]:
        """The newest `limit` records, newest first, in two round trips (a command's thread lookup
        reads hundreds)."""
        ids = await self.redis.zrevrange(INDEX, 0, limit - 1)
        if not ids:
            return []
        keys = [KEY.format(job_id=i.decode() if isinstance(i, bytes) else str(i)) for i in ids]
        raws = await cast("Awaitable[list[bytes | None]]", self.redis.mget(keys))
        return [JobRecord.from_json(json.loads(raw)) for raw in raws if raw]
