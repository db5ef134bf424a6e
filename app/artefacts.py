"""What a job produced, for the people who review it: the failure report, the localization, each
candidate's diff and sandbox result, and every model call with its tokens and cost.

The job record (app/job_records.py) says what happened phase by phase; this says what was seen and made.
Sections are whole JSON documents in one hash, `autofix:jobart:{job_id}`, so writers never
read-modify-write each other's sections; model calls are a list, appended by parallel attempts.
Both expire with the job record.

Sections (each optional; see docs/dashboard.md):

  report        the FailureReport as JSON (sandbox_runner.report)
  localization  [{"file", "symbol", "start", "end", "score", "why"}]
  candidates    [{"id", "strategy", "outcome", "rejected_because", "agreement", "diff", "diagnosis"}]
  sandbox       [{"candidate" ("baseline" or an id), "backend", "exit_code", "timed_out", "duration_s",
                  "passed", "failed", "log_tail"}]
  verdicts      [{"candidate", "proven", "reason"}]
  links         {"pr": url, "issue": url, "check_run": url, "comment": url}

Model calls: [{"at", "model", "provider", "attempt", "input_tokens", "output_tokens",
"cache_read_tokens", "cache_write_tokens", "dollars", "seconds", "stop_reason"}]
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any, cast

from redis.asyncio import Redis

SECTIONS = "autofix:jobart:{job_id}"
CALLS = "autofix:jobart:{job_id}:calls"
TTL_S = 90 * 86_400  # as long as the job record
MAX_CALLS = 2_000
MAX_SECTION_BYTES = 2_000_000  # a huge log tail or diff is cut by its writer; this is the last stop


class JobArtefacts:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def put(self, job_id: str, **sections: Any) -> None:
        """Set whole sections (a retried job overwrites its own)."""
        mapping = {}
        for name, value in sections.items():
            data = json.dumps(value)
            if len(data) > MAX_SECTION_BYTES:
                data = json.dumps({"truncated": True, "bytes": len(data)})
            mapping[name] = data
        key = SECTIONS.format(job_id=job_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, TTL_S)
            await pipe.execute()

    async def add_model_call(self, job_id: str, call: dict[str, Any]) -> None:
        key = CALLS.format(job_id=job_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(call))
            pipe.ltrim(key, -MAX_CALLS, -1)
            pipe.expire(key, TTL_S)
            await pipe.execute()

    async def get(self, job_id: str) -> dict[str, Any]:
        """Every section present, plus "model_calls" (a list, possibly empty)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(SECTIONS.format(job_id=job_id))
            pipe.lrange(CALLS.format(job_id=job_id), 0, -1)
            sections, calls = await pipe.execute()
        out: dict[str, Any] = {k.decode(): json.loads(v) for k, v in sections.items()}
        out["model_calls"] = [json.loads(c) for c in calls]
        return out

    async def model_calls(self, job_id: str) -> list[dict[str, Any]]:
        raw = await cast("Awaitable[list[bytes]]", self.redis.lrange(CALLS.format(job_id=job_id), 0, -1))
        return [json.loads(c) for c in raw]
