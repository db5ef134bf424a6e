"""Webhook to PR: how long the fix-check pipeline takes around the model and the sandbox.

A generated repository of about 50,000 lines lives in the local GitHub; a push breaks one function
and its test fails in CI. The local GitHub's signed check_run webhook reaches `autofix web`, the job
goes through Redis (an embedded one) to a worker, and the pipeline runs for real — evidence, config,
gate, workspace clone, localization, publishing through the Git Data API — with the model replaced by
the scripted local model server and the sandbox by an instant fake that reports the failing test
failing before the patch and passing after. Printed: the wall time from the failed check to the PR,
and each phase's share, over several runs (target: under 3 s).

    .venv/bin/python bench/pipeline.py [--runs 5] [--modules 250]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from redis.asyncio import Redis

from app.embedded_redis import EmbeddedRedis
from app.github.client import GitHubApp
from app.job_records import JobStore
from app.web import build_app
from jobs import fix_check
from jobs.deps import Deps
from jobs.patch.agent import build_engine
from jobs.sandbox.base import DEFAULT_LIMITS, Limits
from jobs.worker import build_worker
from sandbox_runner.result import BASELINE, Outcome, PatchStatus, RunResult, TestOutcome
from tests.fakes.anthropic_messages import reply, tool_use
from tests.fakes.github.webhooks import Hookshot
from tests.patch_support import KEY, served_anthropic
from tests.support import APP_ID, OWNER, SECRET, LiveServer, local_github, make_settings

BUGGY = "    return total / (count + 1)"
FIXED = "    return total / count"
FAILING = "tests/test_mod_0137.py::test_average"
OTHERS = 400  # passing tests the instant sandbox reports
CONFIG = "candidates: 1\ntest: python -m pytest -q\npull_request: {draft: false}\n"
LOG = f"""\
FAILED {FAILING} - assert 1.5 == 2
=================================== FAILURES ===================================
________________________________ test_average __________________________________

    def test_average():
>       assert average([1, 2, 3]) == 2
E       assert 1.5 == 2

tests/test_mod_0137.py:5: AssertionError
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _

    def average(values):
        total, count = sum(values), len(values)
>       return total / (count + 1)

pkg/mod_0137.py:12: AssertionError
=========================== short test summary info ============================
FAILED {FAILING} - assert 1.5 == 2
1 failed, 400 passed in 3.21s
"""


def module(i: int) -> str:
    """About 200 lines: a docstring, constants and twenty small functions."""
    funcs = []
    for j in range(20):
        funcs.append(
            f"def func_{i}_{j}(x, y=1):\n"
            f'    """Combine x and y ({i}.{j})."""\n'
            f"    if x is None:\n        return y\n"
            f"    total = x * {j + 1} + y\n"
            f"    for k in range({j % 5 + 1}):\n        total += k\n"
            f"    return total\n"
        )
    body = f'"""Module {i}."""\n\nLIMIT = {i}\n\n\n' + "\n\n".join(funcs)
    if i == 137:
        body = (
            '"""Module 137."""\n\n\ndef helper(v):\n    return v\n\n\n\n'
            f"def average(values):\n    total, count = sum(values), len(values)\n{BUGGY}\n\n\n" + body
        )
    return body


def generate(modules: int) -> dict[str, str]:
    files = {f"pkg/mod_{i:04d}.py": module(i) for i in range(modules)}
    files["pkg/__init__.py"] = ""
    files["tests/test_mod_0137.py"] = (
        "from pkg.mod_0137 import average\n\n\ndef test_average():\n    assert average([1, 2, 3]) == 2\n"
    )
    files[".github/autofix.yml"] = CONFIG
    return files


class InstantSandbox:
    """Answers at once: the failing test fails without a patch and passes with one, 400 others pass."""

    async def run(
        self,
        repo: str,
        sha: str,
        setup: str | None,
        command: str,
        candidates: Mapping[str, str],
        *,
        failing: Sequence[str] = (),
        limits: Limits = DEFAULT_LIMITS,
    ) -> list[RunResult]:
        others = [TestOutcome(f"tests/test_other.py::test_{n}", Outcome.PASSED) for n in range(OTHERS)]

        def result(cid: str, ok: bool) -> RunResult:
            target = TestOutcome(FAILING, Outcome.PASSED if ok else Outcome.FAILED)
            patch = None if cid == BASELINE else PatchStatus(True)
            return RunResult(
                cid, patch, 0 if ok else 1, 0.01, [target, *others], "junit", OTHERS + 1, log_tail=LOG
            )

        return [result(BASELINE, False), *(result(cid, bool(diff)) for cid, diff in candidates.items())]


def private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return pem.decode()


async def one_run(
    root: Path, redis_url: str, modules: int, pem: str
) -> tuple[float, float, dict[str, float], int]:
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    with local_github(root / "git", pem) as gh, served_anthropic() as model:
        settings = make_settings(
            redis_url=redis_url,
            github_api_url=gh.url,
            github_private_key=SecretStr(pem),
            anthropic_api_key=SecretStr(KEY),
            anthropic_base_url=model.url,
            autofix_data_dir=root / "data",
        )
        edit = {"command": "str_replace", "path": "pkg/mod_0137.py", "old_str": BUGGY, "new_str": FIXED}
        diagnosis = {
            "root_cause": "average divides by count + 1",
            "where": "pkg/mod_0137.py:12",
            "why_fix_is_right": "an average is the sum over the count",
            "not_covered": "empty input",
        }
        model.state.script(reply(tool_use("editor", edit)), reply(tool_use("submit_diagnosis", diagnosis)))
        files = generate(modules)
        lines = sum(text.count("\n") for text in files.values())
        repo = gh.sim.create_repo(OWNER, "big", files=files)
        sha = subprocess.run(  # noqa: ASYNC221  # set-up, before the clock starts
            ["git", "--git-dir", str(repo.path), "rev-parse", "main"], capture_output=True, text=True
        )
        github = GitHubApp(settings, redis)
        deps = Deps(
            settings,
            redis,
            github,
            lambda inst: InstantSandbox(),
            lambda c: build_engine(settings, c),
            root / "work",
        )

        async def fix_check_run(ctx: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
            return await fix_check.fix_check_run(ctx | {"deps": deps}, request)

        with LiveServer(build_app(settings, redis_url)) as web:
            hooks = Hookshot(gh.state, f"{web.url}/webhooks/github", SECRET, APP_ID)
            started, wall = time.perf_counter(), time.time()
            gh.sim.fail_check(repo, sha.stdout.strip(), "tests", log=LOG)
            hooks.flush()
            worker = build_worker(
                settings,
                redis_url,
                burst=True,
                handle_signals=False,
                functions={"fix_check_run": fix_check_run},
            )
            try:
                await worker.async_run()
            finally:
                await worker.close()
            elapsed = time.perf_counter() - started
            hooks.close()
        prs = [i for i in repo.issues.values() if i.pull is not None]
        if len(prs) != 1:
            raise SystemExit(f"expected one PR, found {len(prs)}")
        to_pr = prs[0].created_at - wall  # the local GitHub stamps it with its (wall) clock
        (record,) = await JobStore(redis).recent(1)
        phases = {p.name: p.seconds or 0.0 for p in record.phases}
    await redis.aclose()
    return to_pr, elapsed, phases, lines


async def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--modules", type=int, default=250, help="generated modules of ~200 lines each")
    args = p.parse_args(argv)
    pem = private_key()
    with tempfile.TemporaryDirectory(prefix="autofix-bench-") as tmp:
        embedded = EmbeddedRedis(Path(tmp) / "redis")
        url = embedded.start()
        try:
            to_prs, totals, per_phase, lines = [], [], {}, 0
            for n in range(args.runs):
                to_pr, elapsed, phases, lines = await one_run(Path(tmp) / f"run{n}", url, args.modules, pem)
                to_prs.append(to_pr)
                totals.append(elapsed)
                for name, seconds in phases.items():
                    per_phase.setdefault(name, []).append(seconds)
                shown = f"{to_pr * 1000:6.0f} ms to the PR, {elapsed * 1000:6.0f} ms to the job's end"
                print(f"run {n + 1}: {shown}", flush=True)
        finally:
            embedded.stop()
    print(f"\nrepository: {lines:,} lines in {args.modules + 2} files; {args.runs} runs")
    print(
        f"failed check → PR opened: median {statistics.median(to_prs) * 1000:.0f} ms, "
        f"max {max(to_prs) * 1000:.0f} ms (target < 3000 ms)"
    )
    done = statistics.median(totals) * 1000
    print(f"failed check → job done (labels, link comment, final status): median {done:.0f} ms")
    print("phase medians (from the job record):")
    for name, values in per_phase.items():
        print(f"  {name:10s} {statistics.median(values) * 1000:7.0f} ms")


if __name__ == "__main__":
    asyncio.run(main())
