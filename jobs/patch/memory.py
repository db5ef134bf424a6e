"""Fix memory: proven fixes remembered per repository, offered as hints for similar failures.

A record holds what a later attempt can use without the old job: the failure's fingerprint and the
parts `similarity` compares, the files the fix touched, a one-line diff summary and the diagnosis's
root cause, and later the outcome of the PR that carried it. A fix whose PR was closed unmerged or
reverted is *rejected*: it is never offered again, neither for its own fingerprint nor as a hint for
a similar one, and `is_rejected(fingerprint)` tells the gate (issue 6) not to try the same thing twice.

Choosing hints (`choose_hints`) is pure; `FixMemory` is the Redis edge. Per repository, a hash
`autofix:memory:{repo_id}` maps fingerprint -> record JSON, and a sorted set of the same name plus
`:order` keeps insertion times so the oldest records go first past `MAX_RECORDS`. Rejected
fingerprints also go to the set `…:rejected`, which is never trimmed: forgetting a fix is fine,
forgetting that a maintainer turned it down is not.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from redis.asyncio import Redis
from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from jobs.patch.context import Candidate
from sandbox_runner.failure import FailureClass, Finding, Frame
from sandbox_runner.fingerprint import RELATED, similarity
from sandbox_runner.report import FailureReport

MAX_RECORDS = 500  # per repository
MAX_HINTS = 3
REJECTED = frozenset({"closed", "reverted"})  # PR outcomes that mean "do not offer this again"
PR_OUTCOMES = frozenset({"open", "merged"}) | REJECTED
KEY = "autofix:memory:{repo_id}"


@dataclass
class MemoryRecord:
    fingerprint: str
    failure_class: str
    exception_type: str | None
    message: str | None
    failing_tests: list[str]
    frames: list[tuple[str, str | None]]  # project frames (file, function), outermost first
    files: list[str]  # what the fix touched
    diff_summary: str  # "src/a.py +3 -1, src/b.py +1 -0"
    root_cause: str
    recorded_at: float
    pr_number: int | None = None
    pr_outcome: str | None = None  # "open" | "merged" | "closed" | "reverted"
    uses: list[str] = field(default_factory=list)  # fingerprints this record was offered to

    @property
    def rejected(self) -> bool:
        return self.pr_outcome in REJECTED

    def finding(self) -> Finding:
        """The record as a Finding, so the fingerprint module's `similarity` can compare it."""
        return Finding(
            parser="memory",
            failing_tests=list(self.failing_tests),
            exception_type=self.exception_type,
            message=self.message,
            frames=[Frame(file, None, function, True) for file, function in self.frames],
            failure_class=_failure_class(self.failure_class),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MemoryRecord:
        fields = dict(data)
        fields["frames"] = [(str(f), fn) for f, fn in data.get("frames", [])]
        return cls(**fields)


@dataclass(frozen=True)
class Hint:
    """A remembered fix offered to the model: how alike the failures are, and what fixed the old one."""

    record: MemoryRecord
    similarity: float


def _failure_class(value: str) -> FailureClass | None:
    try:
        return FailureClass(value)
    except ValueError:
        return None


def finding_of(report: FailureReport) -> Finding:
    return Finding(
        parser=report.parser or "report",
        failing_tests=list(report.failing_tests),
        exception_type=report.exception_type,
        message=report.message,
        frames=list(report.frames),
        locations=list(report.locations),
        failure_class=_failure_class(report.failure_class),
    )


def summarise_diff(diff: str) -> tuple[list[str], str]:
    """The files a unified diff touches and a `path +added -removed` summary, in diff order."""
    try:
        files = list(PatchSet(diff))
    except UnidiffParseError:
        return [], "unparseable diff"
    return [f.path for f in files], ", ".join(f"{f.path} +{f.added} -{f.removed}" for f in files)


def build_record(report: FailureReport, candidate: Candidate, *, now: float) -> MemoryRecord:
    files, summary = summarise_diff(candidate.diff)
    return MemoryRecord(
        fingerprint=report.fingerprint,
        failure_class=report.failure_class,
        exception_type=report.exception_type,
        message=(report.message or "").splitlines()[0][:500] if report.message else None,
        failing_tests=list(report.failing_tests[:50]),
        frames=[(f.file, f.function) for f in report.frames if f.project][-20:],
        files=files,
        diff_summary=summary,
        root_cause=candidate.diagnosis.root_cause[:2000] if candidate.diagnosis else "",
        recorded_at=now,
    )


def choose_hints(records: list[MemoryRecord], report: FailureReport, limit: int = MAX_HINTS) -> list[Hint]:
    """The remembered fixes worth showing for `report`: not rejected, the same failure or a related one
    (`similarity` of at least RELATED), most alike first, then newest."""
    finding = finding_of(report)
    scored = []
    for record in records:
        if record.rejected:
            continue
        score = 1.0 if record.fingerprint == report.fingerprint else similarity(record.finding(), finding)
        if score >= RELATED:
            scored.append(Hint(record, round(score, 3)))
    scored.sort(key=lambda h: (-h.similarity, -h.record.recorded_at))
    return scored[:limit]


class FixMemory:
    """The Redis edge of fix memory for one repository."""

    def __init__(self, redis: Redis, repo_id: int, *, max_records: int = MAX_RECORDS) -> None:
        self.redis = redis
        self.key = KEY.format(repo_id=repo_id)
        self.order = self.key + ":order"
        self.rejections = self.key + ":rejected"
        self.max_records = max_records

    async def remember(
        self, report: FailureReport, candidate: Candidate, *, now: float | None = None
    ) -> None:
        """Store the proven fix for `report` (replacing an older fix for the same fingerprint, unless
        that one was rejected: a rejection is kept so the fingerprint is never retried blindly)."""
        if await self.is_rejected(report.fingerprint):
            return
        record = build_record(report, candidate, now=time.time() if now is None else now)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.key, record.fingerprint, json.dumps(record.to_json()))
            pipe.zadd(self.order, {record.fingerprint: record.recorded_at})
            await pipe.execute()
        await self._trim()

    async def set_pr(self, fingerprint: str, number: int, outcome: str) -> bool:
        """Record the PR that carried a remembered fix and what became of it; False if unknown."""
        if outcome not in PR_OUTCOMES:
            raise ValueError(f"unknown PR outcome {outcome!r}; expected one of {sorted(PR_OUTCOMES)}")
        record = await self.get(fingerprint)
        if record is None:
            return False
        record.pr_number, record.pr_outcome = number, outcome
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.key, fingerprint, json.dumps(record.to_json()))
            if record.rejected:
                pipe.sadd(self.rejections, fingerprint)
            await pipe.execute()
        return True

    async def get(self, fingerprint: str) -> MemoryRecord | None:
        raw = await cast("Awaitable[bytes | None]", self.redis.hget(self.key, fingerprint))
        return MemoryRecord.from_json(json.loads(raw)) if raw else None

    async def is_rejected(self, fingerprint: str) -> bool:
        return bool(await cast("Awaitable[int]", self.redis.sismember(self.rejections, fingerprint)))

    async def records(self) -> list[MemoryRecord]:
        raw = await cast("Awaitable[list[bytes]]", self.redis.hvals(self.key))
        return [MemoryRecord.from_json(json.loads(r)) for r in raw]

    async def hints(self, report: FailureReport, limit: int = MAX_HINTS) -> list[Hint]:
        return choose_hints(await self.records(), report, limit)

    async def _trim(self) -> None:
        excess = int(await self.redis.zcard(self.order)) - self.max_records
        if excess <= 0:
            return
        members = await self.redis.zrange(self.order, 0, excess - 1)
        oldest = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.key, *oldest)
            pipe.zrem(self.order, *oldest)
            await pipe.execute()
