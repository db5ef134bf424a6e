"""The job queue's write side: remember a delivery and enqueue its jobs in one atomic Redis call.

Jobs are written in arq's own layout (`arq:job:<id>` holding the serialized job, `arq:queue` a
zset scored by run time), serialized as JSON rather than pickle so that write access to Redis
never means code execution in the worker. One Lua script does, atomically:

  1. SET NX the delivery key (the delivery id, remembered for GitHub's 3-day redelivery window);
     when it already exists the delivery is a duplicate and the job ids it produced come back;
  2. for each job: skip it when `arq:job:<id>` or `arq:result:<id>` exists (arq's own rule, so the
     same failure reported by several deliveries becomes one job), else PSETEX the job and ZADD it.

Because the delivery marker and the jobs are written together, a Redis that loses one loses both,
and a redelivery after such a loss is processed again rather than refused.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from app.pipelined_redis import PipelinedRedis
from app.routing import JobRequest
from jobs import names

QUEUE = names.FIX_QUEUE  # arq's default queue name; `/autofix` commands go to names.COMMAND_QUEUE
JOB_PREFIX = "arq:job:"  # arq.constants.job_key_prefix
RESULT_PREFIX = "arq:result:"  # arq.constants.result_key_prefix
DELIVERY_PREFIX = "autofix:delivery:"
DELIVERY_TTL_S = 4 * 24 * 3600  # GitHub allows redelivery for 3 days
JOB_EXPIRES_MS = 24 * 3600 * 1000  # arq's default: a job not started within a day expires

_ENQUEUE = """
local seen = redis.call('GET', KEYS[1])
if seen then return {0, seen} end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
local created = {1, ARGV[1]}
for i = 1, (#KEYS - 2) / 2 do
  local job_key, result_key = KEYS[1 + 2 * i], KEYS[2 + 2 * i]
  if redis.call('EXISTS', job_key, result_key) == 0 then
    redis.call('PSETEX', job_key, ARGV[3], ARGV[3 + 2 * i])
    redis.call('ZADD', KEYS[2], ARGV[4], ARGV[4 + 2 * i])
    created[#created + 1] = 1
  else
    created[#created + 1] = 0
  end
end
return created
"""
_ENQUEUE_SHA = hashlib.sha1(_ENQUEUE.encode()).hexdigest()  # noqa: S324  # Redis names scripts by SHA-1


def serialize(obj: Any) -> bytes:
    """arq's job_serializer: JSON; anything JSON cannot hold (an exception result) becomes its repr."""
    return orjson.dumps(obj, default=repr)


def deserialize(data: bytes) -> Any:
    """arq's job_deserializer. A pickled or foreign job fails here and is never executed."""
    return orjson.loads(data)


@dataclass(frozen=True)
class Enqueued:
    """What Redis accepted for one delivery."""

    duplicate: bool  # the delivery id was seen before; nothing was written
    job_ids: list[str]  # every job this delivery maps to (for a duplicate: as first recorded)
    existing: list[str]  # of those, jobs that were already queued, running or finished


class DeliveryQueue:
    """Enqueues the jobs of one webhook delivery with a single EVALSHA round trip."""

    def __init__(self, redis: PipelinedRedis) -> None:
        self._redis = redis

    async def enqueue(self, delivery_id: str, jobs: Sequence[JobRequest]) -> Enqueued:
        now_ms = int(time.time() * 1000)
        ids = [j.job_id for j in jobs]
        queues = {names.queue_for(j.function) for j in jobs}  # one event, one kind of job: one queue
        if len(queues) > 1:
            raise ValueError(f"one delivery's jobs go to one queue, not {sorted(queues)}")
        keys = [DELIVERY_PREFIX + delivery_id, queues.pop() if queues else QUEUE]
        args: list[bytes | str | int] = [orjson.dumps(ids), DELIVERY_TTL_S, JOB_EXPIRES_MS, now_ms]
        for job in jobs:
            keys += [JOB_PREFIX + job.job_id, RESULT_PREFIX + job.job_id]
            body: dict[str, Any] = {"t": None, "f": job.function, "a": [job.args], "k": {}, "et": now_ms}
            args += [serialize(body), job.job_id]
        reply = await self._redis.evalsha(_ENQUEUE_SHA, _ENQUEUE, keys, args)
        recorded = orjson.loads(reply[1])
        if reply[0] == 0:
            return Enqueued(True, recorded, [])
        return Enqueued(False, ids, [i for i, fresh in zip(ids, reply[2:], strict=True) if not fresh])
