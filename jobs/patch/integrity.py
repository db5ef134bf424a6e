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

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from jobs.patch import testlines as tl
from jobs.patch.testspans import changes_within, function_spans, matching_side
from sandbox_runner.gitdiff import FilePatch, Hunk, parse_diff

_SHOWN = 120  # characters of a line quoted in a finding
_DELETED = "deleted"
_MAX_SOURCE = 2_000_000  # characters of a test file read to find a failing test's lines
NOTE_PREFIX = "test changed (the diagnosis says the test is wrong): "


@dataclass
class IntegrityResult:
    rejections: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _q(line: str) -> str:
    text = line.strip()
    return f"`{text[:_SHOWN]}{'…' if len(text) > _SHOWN else ''}`"


def _targets(path: str, failing: Sequence[str]) -> dict[str, str]:
    """The failing tests defined in `path`: qualified name (`TestCalc.test_add`) → test id. Ids are
    pytest node ids (`tests/test_x.py::TestA::test_b[1]`) or unittest's dotted ones."""
    dotted = path.removesuffix(".py").replace("/", ".")
    found = {}
    for test_id in failing:
        if "::" in test_id:
            file, *names = test_id.split("::")
            qualname = ".".join(names) if file == path else ""
        else:
            qualname = test_id[len(dotted) + 1 :] if test_id.startswith(dotted + ".") else ""
        if qualname:
            found[qualname.split("[", 1)[0]] = test_id
    return found


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


def _edits_by_context(f: FilePatch, targets: dict[str, str]) -> dict[str, list[str]]:
    """Changed lines inside a failing test, found by the `def` lines in and around each hunk; a
    removed `def` not added back is the test deleted."""
    by_name = {q.rsplit(".", 1)[-1]: q for q in targets}
    edits: dict[str, list[str]] = {}
    for hunk in f.hunks:
        name = tl.defined_function(hunk.section)
        current = (name, len(hunk.section) - len(hunk.section.lstrip())) if name else None
        for ln in hunk.lines:
            text = ln[1:]
            indent = len(text) - len(text.lstrip())
            name = tl.defined_function(text)
            if name:
                current = (name, indent)
                if (
                    ln[:1] == "-"
                    and name in by_name
                    and not any(tl.defined_function(a) == name for a in f.added)
                ):
                    edits.setdefault(by_name[name], []).append(_DELETED)
                continue
            if current and text.strip() and indent <= current[1]:
                current = None  # the function ended: a line at its own indentation or less
            if current and current[0] in by_name and ln[:1] in "+-" and text.strip():
                edits.setdefault(by_name[current[0]], []).append(f"{ln[:1]} {text.strip()}")
    return edits


def _failing_test_edits(f: FilePatch, targets: dict[str, str], source: str | None) -> list[str]:
    edits = _edits_by_context(f, targets)
    side = matching_side(f, source) if source is not None else None
    if source is not None and side is not None:  # the file at hand: exact spans replace the guess
        spans = function_spans(source)
        for qualname in targets:
            deleted = _DELETED in edits.get(qualname, [])
            inside = changes_within(f, side, spans[qualname]) if qualname in spans else []
            edits[qualname] = [_DELETED] if deleted else inside
    findings = []
    for qualname, changes in edits.items():
        if _DELETED in changes:
            findings.append(f"deletes the failing test {targets[qualname]}")
        elif changes:
            shown = "; ".join(f"`{c[:_SHOWN]}`" for c in changes[:4]) + ("; …" if len(changes) > 4 else "")
            findings.append(f"edits the failing test {targets[qualname]}: {shown}")
    return findings


def _merge_removals(path: str, findings: list[str]) -> list[str]:
    prefix = f"removes an assertion from {path}: "
    removals = [x[len(prefix) :] for x in findings if x.startswith(prefix)]
    if len(removals) < 2:
        return findings
    more = f" and {len(removals) - 2} more" if len(removals) > 2 else ""
    merged = f"removes {len(removals)} assertions from {path}: {'; '.join(removals[:2])}{more}"
    return [merged, *(x for x in findings if not x.startswith(prefix))]


def _file_findings(f: FilePatch, failing: Sequence[str], repo_dir: str | None) -> list[str]:
    path = f.new_path or f.old_path or (f.paths[-1] if f.paths else "?")
    targets = _targets(path, failing)
    is_test = bool(tl.TEST_FILE.search(path)) or bool(targets)
    gone, new = _moved(f)
    findings: list[str] = []
    if is_test and f.new_path is None and f.old_path is not None:
        findings.append(f"deletes the test file {path}")
    elif is_test and f.old_path and not tl.CODE_FILE.search(path) and not path.endswith((".md", ".rst")):
        findings.append(f"changes test data: {path}")  # golden files and fixtures hold expected values
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
        findings += _failing_test_edits(f, targets, _read(repo_dir, path))
    return findings


def _read(repo_dir: str | None, path: str) -> str | None:
    if repo_dir is None:
        return None
    try:
        with open(os.path.join(repo_dir, path), encoding="utf-8") as file:
            return file.read(_MAX_SOURCE)
    except (OSError, UnicodeDecodeError):
        return None


def check_integrity(
    diff: str, failing_tests: Sequence[str], *, test_is_wrong: bool = False, repo_dir: str | None = None
) -> IntegrityResult:
    """Rejections for a diff that makes tests pass without fixing the code; notes instead when the
    diagnosis says the failing test itself is wrong. With `repo_dir` (the checkout, before or after
    the patch), edits to a failing test are found by its exact line span, not only by nearby `def`s."""
    files = parse_diff(diff).files
    findings = list(dict.fromkeys(x for f in files for x in _file_findings(f, failing_tests, repo_dir)))
    if test_is_wrong:
        return IntegrityResult(notes=[NOTE_PREFIX + x for x in findings])
    return IntegrityResult(rejections=findings)
