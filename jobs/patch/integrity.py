"""Test-integrity rules: a candidate must fix the code, not the test that shows the bug. Pure.

Over a candidate's diff and the failing test ids, `check_integrity` finds what makes a test pass
without fixing anything: removed or weakened assertions (`assert x == y` → `assert x`, a wider
`pytest.approx`/`places=` tolerance, `pytest.raises(ValueError)` → `Exception`), added skips and
xfails, tests deselected by configuration or a conftest hook, and edits to the failing test itself.
Each finding rejects the candidate, unless the diagnosis says the test itself is wrong: then nothing
is rejected and every finding becomes a note for the pull request, so a reviewer reads plainly which
test was changed and how.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from jobs.patch import testlines as tl
from sandbox_runner.gitdiff import FilePatch, Hunk, parse_diff

_SHOWN = 120  # characters of a line quoted in a finding
NOTE_PREFIX = "test changed (the diagnosis says the test is wrong): "


@dataclass
class IntegrityResult:
    rejections: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _q(line: str) -> str:
    text = line.strip()
    return f"`{text[:_SHOWN]}{'…' if len(text) > _SHOWN else ''}`"


def _failing_functions(failing: Sequence[str]) -> list[tuple[str, str, str]]:
    """(file or dotted module prefix, function, test id) for each failing test id."""
    out = []
    for test_id in failing:
        if "::" in test_id:
            file, *_, name = test_id.split("::")
            out.append((file, name.split("[", 1)[0], test_id))
        elif "." in test_id:
            module, name = test_id.rsplit(".", 1)
            out.append((module, name.split("[", 1)[0], test_id))
    return out


def _owns(path: str, where: str) -> bool:
    if where.endswith(".py") or "/" in where:
        return path == where
    dotted = path.rsplit(".", 1)[0].replace("/", ".")
    return where == dotted or where.startswith(dotted + ".")  # `tests.test_x.TestA` in tests/test_x.py


def _moved(f: FilePatch) -> tuple[Counter[str], Counter[str]]:
    """Lines only removed and only added in the file: a line moved elsewhere in it is neither."""
    removed, added = Counter(ln.strip() for ln in f.removed), Counter(ln.strip() for ln in f.added)
    return removed - added, added - removed


def _assertion_findings(path: str, hunk: Hunk, gone: Counter[str], new: Counter[str]) -> list[str]:
    removed = [
        ln[1:] for ln in hunk.lines if ln[:1] == "-" and tl.is_assertion(ln[1:]) and gone[ln[1:].strip()]
    ]
    added = [ln[1:] for ln in hunk.lines if ln[:1] == "+" and tl.is_assertion(ln[1:]) and new[ln[1:].strip()]]
    findings = []
    for old, now in zip(removed, added, strict=False):
        if tl.strength(now) < tl.strength(old):
            findings.append(f"weakens an assertion in {path}: {_q(old)} → {_q(now)}")
        elif tl.broadened_raises(old, now):
            findings.append(f"broadens an expected exception in {path}: {_q(old)} → {_q(now)}")
    findings += [f"removes an assertion from {path}: {_q(old)}" for old in removed[len(added) :]]
    findings += [
        f"adds an assertion that cannot fail to {path}: {_q(now)}" for now in added if not tl.strength(now)
    ]
    old_lines = [ln[1:] for ln in hunk.lines if ln[:1] == "-"]
    for ln in hunk.lines:
        widened = ln[:1] == "+" and tl.widened_tolerance(old_lines, ln[1:])
        if widened:
            findings.append(f"widens a tolerance to {widened} in {path}: {_q(ln[1:])}")
    return findings


def _failing_test_edits(path: str, f: FilePatch, targets: dict[str, str]) -> list[str]:
    """Changed lines inside a failing test's function, found by the `def` lines around them."""
    edits: dict[str, list[str]] = {}
    for hunk in f.hunks:
        current: tuple[str, int] | None = None
        name = tl.defined_function(hunk.section)
        if name:
            current = (name, len(hunk.section) - len(hunk.section.lstrip()))
        for ln in hunk.lines:
            text = ln[1:]
            indent = len(text) - len(text.lstrip())
            name = tl.defined_function(text)
            if name:
                current = (name, indent)
                if (
                    ln[:1] == "-"
                    and name in targets
                    and not any(tl.defined_function(a) == name for a in f.added)
                ):
                    edits.setdefault(name, []).append("deleted")
                continue
            if current and text.strip() and indent <= current[1]:
                current = None  # the function ended: a line at its own indentation or less
            if current and current[0] in targets and ln[:1] in "+-" and text.strip():
                edits.setdefault(current[0], []).append(f"{ln[:1]} {text.strip()[:_SHOWN]}")
    findings = []
    for name, changes in edits.items():
        if "deleted" in changes:
            findings.append(f"deletes the failing test {targets[name]}")
        else:
            shown = "; ".join(f"`{c}`" for c in changes[:4]) + ("; …" if len(changes) > 4 else "")
            findings.append(f"edits the failing test {targets[name]}: {shown}")
    return findings


def _merge_removals(path: str, findings: list[str]) -> list[str]:
    prefix = f"removes an assertion from {path}: "
    removals = [x[len(prefix) :] for x in findings if x.startswith(prefix)]
    if len(removals) < 2:
        return findings
    more = f" and {len(removals) - 2} more" if len(removals) > 2 else ""
    merged = f"removes {len(removals)} assertions from {path}: {'; '.join(removals[:2])}{more}"
    return [merged, *(x for x in findings if not x.startswith(prefix))]


def _file_findings(f: FilePatch, failing: list[tuple[str, str, str]]) -> list[str]:
    path = f.new_path or f.old_path or (f.paths[-1] if f.paths else "?")
    targets = {name: test_id for where, name, test_id in failing if _owns(path, where)}
    is_test = bool(tl.TEST_FILE.search(path)) or bool(targets)
    gone, new = _moved(f)
    findings: list[str] = []
    if is_test and f.new_path is None and f.old_path is not None:
        findings.append(f"deletes the test file {path}")
    for line in f.added:
        if not new[line.strip()]:
            continue
        if tl.CODE_FILE.search(path) and tl.SKIP.search(line):
            findings.append(f"adds a skip or xfail to {path}: {_q(line)}")
        elif (tl.CONFIG_FILE.search(path) or path.endswith("conftest.py")) and tl.DESELECT.search(line):
            findings.append(f"changes which tests run in {path}: {_q(line)}")
        elif path.endswith(".py") and (hook := tl.HOOK.match(line)):
            findings.append(
                f"adds the pytest hook {hook.group(1)} in {path}, which can deselect or skip tests"
            )
    if is_test and f.new_path is not None:  # a deleted test file is one finding, not one per assert
        found = [x for hunk in f.hunks for x in _assertion_findings(path, hunk, gone, new)]
        findings += _merge_removals(path, found)
    if targets:
        findings += _failing_test_edits(path, f, targets)
    return findings


def check_integrity(
    diff: str, failing_tests: Sequence[str], *, test_is_wrong: bool = False
) -> IntegrityResult:
    """Rejections for a diff that makes tests pass without fixing the code; notes instead when the
    diagnosis says the failing test itself is wrong."""
    failing = _failing_functions(failing_tests)
    findings = list(dict.fromkeys(x for f in parse_diff(diff).files for x in _file_findings(f, failing)))
    if test_is_wrong:
        return IntegrityResult(notes=[NOTE_PREFIX + x for x in findings])
    return IntegrityResult(rejections=findings)
