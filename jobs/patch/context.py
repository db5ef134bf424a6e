"""The data the patch engine passes between its stages: the localization `Context`, and `Candidate`s.

Plain, JSON-serialisable dataclasses, so `autofix fix --print-context --json`, the job record and the
dashboard all show the same thing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CodeLocation:
    """One ranked code region: a function, class or line range, and why it was ranked."""

    file: str  # repository-relative, forward slashes
    symbol: str | None  # `Class.method`, `function`, or None for a bare line range
    start_line: int  # 1-based, inclusive
    end_line: int  # inclusive
    score: float  # higher is likelier; only the order is meaningful
    why: list[str] = field(default_factory=list)  # e.g. ["innermost project frame", "named in the message"]


@dataclass
class Context:
    """What the model is shown first: ranked locations, an outline of the files involved, the source
    of the top regions, all within a token budget."""

    locations: list[CodeLocation] = field(default_factory=list)  # best first
    outline: dict[str, list[str]] = field(default_factory=dict)  # file -> ["class A:", "  def f(x):", …]
    snippets: dict[str, str] = field(default_factory=dict)  # "file:start-end" -> numbered source text
    tokens: int = 0  # estimated tokens of outline + snippets
    budget: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Diagnosis:
    """What the model submits with a candidate: free text alone never ends a candidate."""

    root_cause: str
    where: str  # file:line or symbol
    why_fix_is_right: str
    not_covered: str  # what the fix does not cover, or "nothing known"
    test_is_wrong: bool = False  # the model claims the failing test itself is wrong


@dataclass
class Usage:
    """Tokens and dollars of one model call, or summed over many."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    dollars: float = 0.0
    calls: int = 0

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_creation_input_tokens += other.cache_creation_input_tokens
        self.cache_read_input_tokens += other.cache_read_input_tokens
        self.dollars += other.dollars
        self.calls += other.calls


@dataclass
class Candidate:
    """One proposed patch. `diff` is `git diff` output, normalised; `outcome` says how the attempt ended
    ("submitted", "budget_exhausted", "no_submission", "no_change", "guard_rejected",
    "integrity_rejected", "model_error"); `detail` says why in one line."""

    id: str
    strategy: str
    diff: str
    diagnosis: Diagnosis | None
    outcome: str
    usage: Usage = field(default_factory=Usage)
    steps: int = 0
    agreement: int = 1  # how many attempts produced this same diff
    rejected_because: list[str] = field(default_factory=list)  # guard / test-integrity reasons
    detail: str = ""  # one line on how it ended, e.g. which budget ran out and by how much

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
