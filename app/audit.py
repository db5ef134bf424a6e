"""The audit trail: an append-only Redis stream of what autofix received and did."""

from __future__ import annotations

import time
from typing import Any

import orjson
from redis.asyncio import Redis

AUDIT_STREAM = "autofix:audit"
AUDIT_MAXLEN = 100_000  # approximate cap; the oldest entries are trimmed first


async def append_audit(redis: Redis, kind: str, **fields: Any) -> str:
    """Append one entry; values are stored as JSON. Returns the stream entry id."""
    entry: dict[Any, Any] = {"kind": kind, "at": f"{time.time():.3f}"} | {
        k: orjson.dumps(v) for k, v in fields.items()
    }
    entry_id = await redis.xadd(AUDIT_STREAM, entry, maxlen=AUDIT_MAXLEN, approximate=True)
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


async def read_audit(redis: Redis, count: int = 100) -> list[dict[str, Any]]:
    """The newest `count` entries, oldest first, with JSON values decoded."""
    rows = await redis.xrevrange(AUDIT_STREAM, count=count)
    out = []
    for entry_id, raw in reversed(rows):
        item: dict[str, Any] = {"id": entry_id.decode()}
        for k, v in raw.items():
            key = k.decode()
            item[key] = v.decode() if key in ("kind", "at") else orjson.loads(v)
        out.append(item)
    return out
