"""`summary.json`: each candidate judged against the baseline on the failing tests (proof rules).

Standard library only. Written by `sandbox_runner run` when `--failing` names the tests to fix.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from sandbox_runner.gitdiff import parse_diff
from sandbox_runner.proof import choose, judge
from sandbox_runner.result import BASELINE, RunResult


def build_summary(results: list[RunResult], failing: list[str], diff_lines: dict[str, int]) -> dict[str, Any]:
    """The verdict of every candidate and the one chosen (None: no candidate is proven)."""
    baseline = next(r for r in results if r.candidate_id == BASELINE)
    verdicts = [judge(baseline, r, failing) for r in results if r.candidate_id != BASELINE]
    best = choose(verdicts, diff_lines=diff_lines)
    return {
        "failing": failing,
        "baseline": {t: (o.value if (o := baseline.outcome_of(t)) else None) for t in failing},
        "verdicts": [_plain(v) for v in verdicts],
        "chosen": best.candidate_id if best else None,
    }


def write_summary(out: Path, results: list[RunResult], failing: list[str], patches: dict[str, Path]) -> None:
    sizes = {}
    for cid, path in patches.items():
        with contextlib.suppress(OSError, ValueError):
            sizes[cid] = parse_diff(path.read_text(errors="surrogateescape")).changed_lines
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(build_summary(results, failing, sizes), indent=2))


def _plain(value: Any) -> Any:
    """A verdict as JSON: dataclasses to dicts, enums to their values."""
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return getattr(value, "value", value)
