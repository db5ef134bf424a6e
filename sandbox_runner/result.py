"""`result.json`: what one sandbox run (the baseline or one candidate) found. Standard library only.

This is the contract between `sandbox_runner run` (which writes one file per run) and the worker's
sandbox backends (which read them), whether the run happened in a local subprocess or on a GitHub
Actions runner. `docs/sandbox-protocol.md` documents every field; bump SCHEMA_VERSION on any change
a reader of the previous version would misread, and keep `from_json` reading the fields it knows.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1
BASELINE = "baseline"  # the candidate id of the run without a patch


class Outcome(enum.Enum):
    """One test's outcome, as JUnit XML or the runner's output states it."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # error in setup/teardown or collection
    SKIPPED = "skipped"
    XFAILED = "xfailed"
    XPASSED = "xpassed"


@dataclass(frozen=True)
class TestOutcome:
    __test__ = False  # not a pytest test class

    id: str  # pytest node id (`tests/test_x.py::TestA::test_b[1]`) or `module.Class.test` for unittest
    outcome: Outcome
    duration_s: float | None = None
    message: str | None = None  # first line of the failure message, redacted


@dataclass
class PatchStatus:
    """Whether the candidate's patch went in, and if not, why (a guard rule or `git apply`'s error)."""

    applied: bool
    reason: str | None = None  # None when applied; e.g. "forbidden path: .github/workflows/ci.yml"
    files: list[str] = field(default_factory=list)  # the paths the patch touches


@dataclass
class RunResult:
    """One run of the test command, from a clean tree, with or without a candidate's patch."""

    candidate_id: str  # BASELINE or the candidate's id
    patch: PatchStatus | None  # None for the baseline
    exit_code: int | None  # None when the command never ran (patch refused, setup failed) or was killed
    duration_s: float
    tests: list[TestOutcome] = field(default_factory=list)
    tests_source: str = "none"  # "junit" | "parsed" | "none"
    collected: int | None = None  # tests the runner collected, when it says
    report: dict[str, Any] | None = None  # FailureReport.to_json() of the output, when the run failed
    log_head: str = ""  # redacted
    log_tail: str = ""  # redacted
    timed_out: bool = False
    limits_hit: list[str] = field(default_factory=list)  # "cpu", "memory", "processes", "file_size", "output"
    setup: dict[str, Any] | None = None  # {"exit_code", "duration_s", "cached", "log_tail"} when set-up ran
    isolation: dict[str, bool] = field(default_factory=dict)  # {"network": True, "pid": True, ...}
    coverage: dict[str, Any] | None = None  # the run-time trace (`autofix_trace`), when asked for
    schema_version: int = SCHEMA_VERSION

    def outcome_of(self, test_id: str) -> Outcome | None:
        return next((t.outcome for t in self.tests if t.id == test_id), None)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tests"] = [{**asdict(t), "outcome": t.outcome.value} for t in self.tests]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunResult:
        """Read a result.json written by this or an older schema version; unknown keys are ignored."""
        version = int(data.get("schema_version", 0))
        if version < 1 or version > SCHEMA_VERSION:
            raise ValueError(f"result.json schema version {version} is not supported (max {SCHEMA_VERSION})")
        patch = data.get("patch")
        return cls(
            candidate_id=str(data["candidate_id"]),
            patch=PatchStatus(
                applied=bool(patch["applied"]),
                reason=patch.get("reason"),
                files=list(patch.get("files") or []),
            )
            if patch
            else None,
            exit_code=data.get("exit_code"),
            duration_s=float(data.get("duration_s") or 0.0),
            tests=[
                TestOutcome(
                    id=str(t["id"]),
                    outcome=Outcome(t["outcome"]),
                    duration_s=t.get("duration_s"),
                    message=t.get("message"),
                )
                for t in data.get("tests") or []
            ],
            tests_source=str(data.get("tests_source") or "none"),
            collected=data.get("collected"),
            report=data.get("report"),
            log_head=str(data.get("log_head") or ""),
            log_tail=str(data.get("log_tail") or ""),
            timed_out=bool(data.get("timed_out")),
            limits_hit=list(data.get("limits_hit") or []),
            setup=data.get("setup"),
            isolation=dict(data.get("isolation") or {}),
            coverage=data.get("coverage") if isinstance(data.get("coverage"), dict) else None,
            schema_version=version,
        )
