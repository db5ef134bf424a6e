"""Spectrum-based fault localization: which functions the failing tests ran and the passing ones did not.

Pure. The input is the run-time trace of a pytest run (`RunResult.coverage`, written by the
`sandbox_runner/autofix_trace.py` plugin): per test, its outcome and the project functions it
started. A function's suspicion is its Ochiai score, failed(f) / sqrt(total_failed * (failed(f) +
passed(f))): 1.0 when every failing test ran it and no passing test did, 0 when no failing test ran it; its
suspicion is that score x the share of the failing tests that ran it (`Spectrum.suspicion`).
It sees what static reading cannot (data-driven dispatch, operators on inferred types, properties,
closures), but not the order among the functions every failing test runs: `localize` combines both.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

FAILED = ("failed", "error")
PASSED = ("passed", "xfailed")  # an xfail ran the code and behaved as expected of it
_GENERATED = re.compile(r"^<(?!locals>).*>$")  # `<lambda>`, `<listcomp>`, `<genexpr>`, `<module>`

Key = tuple[str, str, int]  # (file, qualname as `outline` spells it, first line of the code object)


@dataclass(frozen=True)
class Spectrum:
    """Per function (a trace Key, or what `resolve` made of it), how many failing and passing tests ran it."""

    counts: dict[Hashable, tuple[int, int]] = field(default_factory=dict)
    total_failed: int = 0
    total_passed: int = 0
    failing_tests: tuple[str, ...] = ()
    outside: frozenset[Hashable] = frozenset()  # ran outside every test (at import): no test's evidence

    def ochiai(self, key: Hashable) -> float:
        failed, passed = self.counts.get(key, (0, 0))
        return ochiai(failed, passed, self.total_failed)

    def suspicion(self, key: Hashable) -> float:
        """Ochiai x the share of the failing tests that ran it: one bug, the usual case, is run by
        every test it fails, so a function only some failing tests ran (a helper of one of
        them, `__ne__` beside the `__eq__` at fault) must not outrank it on fewer passing tests."""
        failed = self.counts.get(key, (0, 0))[0]
        return self.ochiai(key) * failed / self.total_failed if self.total_failed else 0.0

    def scores(self) -> dict[Hashable, float]:
        """Every function some failing test ran, with its suspicion."""
        return {k: s for k in self.counts if (s := self.suspicion(k)) > 0}


def ochiai(failed: int, passed: int, total_failed: int) -> float:
    if failed <= 0 or total_failed <= 0:
        return 0.0
    return failed / math.sqrt(total_failed * (failed + passed))


def qualname(co_qualname: str) -> str | None:
    """`outline`'s name for a code object's qualname: `f.<locals>.g` -> `f.g`; a lambda or a
    comprehension counts as the function it is written in; None for module code."""
    parts: list[str] = []
    for part in co_qualname.split("."):
        if part == "<locals>":
            continue
        if _GENERATED.match(part):
            break
        parts.append(part)
    return ".".join(parts) or None


def from_trace(
    data: dict[str, Any] | None,
    failing: list[str] | None = None,
    resolve: Callable[[Key], Hashable | None] | None = None,
) -> Spectrum | None:
    """The spectrum of a trace; None when it has no failing test (nothing to localize from).
    `failing`: test ids known to fail besides those the trace says failed. `resolve`: what a
    function counts as (the definition holding it, so a lambda counts as its function; None:
    not counted); each test counts once per resolved key."""
    if not data or data.get("version") != 1:
        return None
    table = data.get("functions") or []
    keys: list[Hashable | None] = []
    for entry in table:
        try:
            path, name, line = str(entry[0]), qualname(str(entry[1])), int(entry[2])
        except (IndexError, TypeError, ValueError):
            keys.append(None)
            continue
        key = (path, name, line) if name else None
        keys.append(resolve(key) if resolve is not None and key is not None else key)
    forced = set(failing or [])
    counts: dict[Hashable, list[int]] = {}
    failed_ids: list[str] = []
    total = [0, 0]
    for test in data.get("tests") or []:
        outcome = "failed" if test.get("id") in forced else test.get("outcome")
        slot = 0 if outcome in FAILED else 1 if outcome in PASSED else None
        if slot is None:
            continue
        total[slot] += 1
        if slot == 0:
            failed_ids.append(str(test.get("id")))
        seen: set[Hashable] = set()
        for i in test.get("functions") or []:
            found = keys[i] if isinstance(i, int) and 0 <= i < len(keys) else None
            if found is not None and found not in seen:
                seen.add(found)
                counts.setdefault(found, [0, 0])[slot] += 1
    if total[0] == 0:
        return None
    outside = {keys[i] for i in data.get("outside") or [] if isinstance(i, int) and 0 <= i < len(keys)}
    return Spectrum(
        {k: (v[0], v[1]) for k, v in counts.items()},
        total[0],
        total[1],
        tuple(failed_ids),
        frozenset(k for k in outside if k is not None),
    )
