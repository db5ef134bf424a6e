"""Wall time of one sandbox batch (baseline + 4 candidates) through LocalSandbox, the worker's path.

    .venv/bin/python bench/sandbox.py [--reps 2] [--keep DIR]

The project is a small real one made in a temp dir: a `textstats` package (tokenizer, counters,
a tiny report) with 39 pytest tests, one of them failing, and a set-up command that installs pytest
from the package index into the run's virtualenv. The 4 candidates: the right fix, a wrong fix,
one that renames the failing test away (tampering), and one that touches .github/workflows (refused).

Measured: the batch with `--parallel 1` and `--parallel 4`, each with a cold set-up cache (the
environment is built in the batch, as on the first job for a commit's dependencies) and a warm one
(reused from an earlier job). Medians of `--reps` batches; each batch gets a fresh checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobs.sandbox.base import Limits  # noqa: E402
from jobs.sandbox.local import LocalSandbox  # noqa: E402

PYTEST = subprocess.run(
    [sys.executable, "-c", "import pytest; print(pytest.__version__)"],
    capture_output=True,
    text=True,
    check=True,
).stdout.strip()
SETUP = f"pip install -q pytest=={PYTEST}"
COMMAND = "python -m pytest -q -p no:cacheprovider"
FAILING = ["tests/test_words.py::test_hyphenated_words_stay_whole"]

WORDS = '''\
import re

WORD = re.compile(r"[A-Za-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-cased words; hyphenated words stay whole."""
    return [w.lower() for w in WORD.findall(text)]
'''
COUNTS = """\
from collections import Counter

from textstats.words import words


def frequencies(text: str) -> Counter[str]:
    return Counter(words(text))


def top(text: str, n: int) -> list[tuple[str, int]]:
    return sorted(frequencies(text).items(), key=lambda kv: (-kv[1], kv[0]))[:n]
"""
REPORT = """\
from textstats.counts import frequencies, top


def report(text: str) -> str:
    freq = frequencies(text)
    lines = [f"{len(freq)} distinct words, {sum(freq.values())} in all"]
    lines += [f"{w}: {c}" for w, c in top(text, 3)]
    return "\\n".join(lines)
"""
TEST_WORDS = """\
import pytest

from textstats.words import words


@pytest.mark.parametrize("n", range(12))
def test_plain_words(n):
    assert words("a b " * n) == ["a", "b"] * n


def test_hyphenated_words_stay_whole():
    assert words("state-of-the-art tools") == ["state-of-the-art", "tools"]


def test_case_is_folded():
    assert words("Hello HELLO hello") == ["hello"] * 3
"""
TEST_COUNTS = """\
import pytest

from textstats.counts import frequencies, top


@pytest.mark.parametrize("n", range(1, 13))
def test_frequencies(n):
    assert frequencies("x " * n)["x"] == n


@pytest.mark.parametrize("n", range(1, 13))
def test_top(n):
    assert top("b a b c c c " * n, 2) == [("c", 3 * n), ("b", 2 * n)]
"""
TEST_REPORT = """\
from textstats.report import report


def test_report():
    assert report("a b b").splitlines() == ["2 distinct words, 3 in all", "b: 2", "a: 1"]
"""
FILES = {
    "pyproject.toml": (
        '[project]\nname = "textstats"\nversion = "0"\n[tool.pytest.ini_options]\npythonpath = ["src"]\n'
    ),
    "requirements-test.txt": f"pytest=={PYTEST}\n",
    "src/textstats/__init__.py": "",
    "src/textstats/words.py": WORDS,
    "src/textstats/counts.py": COUNTS,
    "src/textstats/report.py": REPORT,
    "tests/test_words.py": TEST_WORDS,
    "tests/test_counts.py": TEST_COUNTS,
    "tests/test_report.py": TEST_REPORT,
}


EDITS: dict[str, dict[str, str | None]] = {
    "fix": {"src/textstats/words.py": WORDS.replace("[A-Za-z0-9']+", "[A-Za-z0-9'-]+")},
    "wrong": {"src/textstats/words.py": WORDS.replace("w.lower() for w", "w for w")},
    "tamper": {"tests/test_words.py": TEST_WORDS.replace("def test_hyphenated", "def _hyphenated")},
    "ci": {".github/workflows/ci.yml": "on: push\n"},
}


def git(repo: Path, *argv: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *argv], check=True, capture_output=True, text=True).stdout


def make_candidates(repo: Path) -> dict[str, str]:
    """Each candidate's diff, made with git from the edited files."""
    diffs = {}
    for cid, edits in EDITS.items():
        for rel, text in edits.items():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            (repo / rel).write_text(text or "")
        git(repo, "add", "-A")
        diffs[cid] = git(repo, "diff", "--cached")
        git(repo, "reset", "-q", "--hard")
    return diffs


def make_project(where: Path) -> str:
    for rel, text in FILES.items():
        (where / rel).parent.mkdir(parents=True, exist_ok=True)
        (where / rel).write_text(text)
    git(where, "init", "-q", "-b", "main")
    git(where, "add", ".")
    git(where, "-c", "user.name=b", "-c", "user.email=b@e", "commit", "-qm", "textstats")
    return git(where, "rev-parse", "HEAD").strip()


async def batch(
    repo: Path, sha: str, candidates: dict[str, str], cache: Path, parallel: int
) -> tuple[float, list[str]]:
    sandbox = LocalSandbox(cache=cache)
    limits = Limits(timeout_s=300, parallel=parallel, wait_s=900)
    started = time.perf_counter()
    results = await sandbox.run(str(repo), sha, SETUP, COMMAND, candidates, failing=FAILING, limits=limits)
    elapsed = time.perf_counter() - started
    summary = []
    for r in results:
        failed = sum(t.outcome.value in ("failed", "error") for t in r.tests)
        refused = f", refused: {r.patch.reason}" if r.patch and not r.patch.applied else ""
        summary.append(
            f"{r.candidate_id}: exit {r.exit_code}, {len(r.tests)} tests, {failed} failed{refused}"
        )
    return elapsed, summary


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="keep the project and caches here")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    repo = base / "textstats"
    repo.mkdir(parents=True)
    sha = make_project(repo)
    candidates = make_candidates(repo)
    figures: dict[tuple[int, str], list[float]] = {}
    shown = False
    for rep in range(args.reps):
        for parallel in (1, 4):
            cold = base / f"cache-{rep}-{parallel}"
            for label, cache in (("cold", cold), ("warm", cold)):  # the second batch reuses the first's env
                elapsed, summary = await batch(repo, sha, candidates, cache, parallel)
                figures.setdefault((parallel, label), []).append(elapsed)
                if not shown:
                    print("\n".join(summary))
                    shown = True
                print(f"rep {rep + 1}: parallel {parallel}, {label} set-up cache: {elapsed:.1f}s", flush=True)
    print(
        f"\nbatch of 5 runs (baseline + 4 candidates), medians of {args.reps}, {len(FAILING)} failing test:"
    )
    print("| --parallel | set-up cache | wall s |\n|---|---|---|")
    for (parallel, label), values in sorted(figures.items()):
        print(f"| {parallel} | {label} | {statistics.median(values):.1f} |")


if __name__ == "__main__":
    asyncio.run(main())
