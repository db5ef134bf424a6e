"""Checklist C, GitHub and Anthropic API faults: what tests/test_github_errors.py,
tests/test_github_client.py, tests/test_github_faults.py, tests/test_github_ops_actions.py and
tests/test_patch_agent.py leave open.

The Anthropic SDK speaks httpx2, which respx cannot see, so a slow model is a real local server.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
import respx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from app.github.actions_logs import download_job_log
from app.github.client import Installation
from jobs.patch.llm import AnthropicProvider
from jobs.patch.provider import ModelRequest, Unavailable
from tests.support import LiveServer
from tests.test_github_ops_actions import BLOB, SIGNED, redirect

MESSAGE = orjson.dumps(
    {
        "id": "msg_trickle",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [{"type": "text", "text": "done"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 2},
    }
)
TRICKLE_S = 0.25  # between bytes: far inside any per-read timeout
TOTAL_S = 4.0


async def _trickle(request: Request) -> StreamingResponse:
    await request.body()

    async def body() -> AsyncIterator[bytes]:
        pad = int(TOTAL_S / TRICKLE_S)
        for _ in range(pad):  # JSON allows leading whitespace: the answer is valid, just slow
            yield b" "
            await asyncio.sleep(TRICKLE_S)
        yield MESSAGE

    return StreamingResponse(body(), media_type="application/json", headers={"request-id": "req_trickle"})


async def test_C10_a_trickling_model_response_hits_an_overall_deadline() -> None:
    """C10: the Anthropic response trickles slowly (the per-read timeout never fires) -> an overall
    deadline is enforced, the call fails, no connection is left open."""
    app = Starlette(routes=[Route("/v1/messages", _trickle, methods=["POST"])])
    with LiveServer(app) as server:
        provider = AnthropicProvider(
            api_key="sk-ant-test", base_url=server.url, model="claude-sonnet-4-6", timeout=1.0
        )
        request = ModelRequest(
            system="s", tools=[], messages=[{"role": "user", "content": "hi"}], max_tokens=16
        )
        started = time.monotonic()
        try:
            with pytest.raises(Unavailable):
                await provider.complete(request)
        finally:
            await provider.aclose()
        assert time.monotonic() - started < 2 * 1.0


LOG_BYTES = 512 * 1024 * 1024
LAST_LINE = b"FAILED tests/test_calc.py::test_add - assert 1 == 2\n"


async def _enormous_log() -> AsyncIterator[bytes]:
    line = b"2026-11-21T05:00:00.0000000Z " + b"x" * 98 + b"\n"
    chunk = line * (64 * 1024 // len(line))
    for _ in range(LOG_BYTES // len(chunk)):
        yield chunk
    yield LAST_LINE


async def test_C8_an_enormous_log_is_streamed_and_only_its_tail_kept(
    inst: Installation, api: respx.MockRouter
) -> None:
    """C8: an enormous log (half a gigabyte here) -> streamed; only the tail is kept (bounded KB);
    memory stays bounded."""
    api.get("/repos/o/r/actions/jobs/1/logs").mock(return_value=redirect(SIGNED))
    api.get(BLOB).mock(return_value=httpx.Response(200, content=_enormous_log()))
    tracemalloc.start()
    try:
        log = await download_job_log(inst, "o", "r", 1, max_bytes=64 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert log.truncated
    assert log.size > LOG_BYTES - 64 * 1024
    assert log.text.endswith(LAST_LINE.decode())
    assert len(log.text.encode()) <= 64 * 1024
    assert peak < 16 * 1024 * 1024, f"{peak / 2**20:.0f} MiB held while streaming"
