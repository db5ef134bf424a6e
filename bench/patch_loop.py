"""The patch engine's own overhead and its cache use, against the fake Anthropic API on loopback.

Runs `propose` (k attempts of a scripted three-step fix: view, edit, submit) on a small repository with
the real localization, tools, copies, guard and integrity checks, and prints the wall time per job and
per model call, the tokens per job and the share of prompt tokens read from the cache (the fake
simulates caching from the request's breakpoints, counting a token per four JSON characters).

    .venv/bin/python bench/patch_loop.py [--jobs 5] [--k 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobs.patch.candidates import propose
from jobs.patch.localize import build_context
from jobs.patch.prompts import Task
from sandbox_runner.failure import Frame
from tests.patch_support import anthropic_provider, engine, fix_script, make_repo, report, served_anthropic


async def one_job(url: str, root: Path, k: int) -> tuple[float, int, int, int]:
    repo = make_repo(root / "repo")
    failure = report(
        frames=[Frame("calc/stats.py", 2, "mean", True), Frame("tests/test_stats.py", 5, "test_mean", True)]
    )
    started = time.perf_counter()
    context = build_context(repo, report=failure)
    async with engine(anthropic_provider(url)) as eng:
        proposal = await propose(
            engine=eng, checkout=repo, scratch=root / "s", context=context, task=Task(report=failure), k=k
        )
    elapsed = time.perf_counter() - started
    u = proposal.usage
    prompt = u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens
    return elapsed, u.calls, prompt, u.cache_read_input_tokens


async def main(jobs: int, k: int) -> None:
    times, per_call, read_share, prompts = [], [], [], []
    with served_anthropic() as fake:
        for _ in range(jobs):
            fake.state.script(*[turn for _ in range(k) for turn in fix_script()])
            with tempfile.TemporaryDirectory() as tmp:
                elapsed, calls, prompt, read = await one_job(fake.url, Path(tmp), k)
            times.append(elapsed)
            per_call.append(elapsed / calls)
            read_share.append(read / prompt)
            prompts.append(prompt)
    print(f"jobs={jobs} k={k} steps/attempt=3")
    print(
        f"wall time per job: median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
    )
    print(
        "wall time per model call (fake server, tools, copies, git included): "
        f"median {statistics.median(per_call) * 1000:.0f} ms"
    )
    print(
        f"prompt tokens per job: {statistics.median(prompts):.0f}; "
        f"read from cache: {statistics.median(read_share):.0%}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.k))
