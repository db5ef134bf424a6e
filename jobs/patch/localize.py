"""Localization: rank the checkout's code regions by the evidence of a failure, without a model.

Evidence, strongest first: the project frames of the traceback (innermost first) and the functions
they sit in; for a failing PR, the functions its changed lines touch; the failing tests and what they
call (what the failing line of a test calls above all, resolved through the test module's imports);
symbols named in the error message and pytest's `where …` lines; frames of the other failures in the
log excerpt; for an issue, the tracebacks, paths and identifiers quoted in its text and a lexical
match of its words against symbol names. Reach follows values too: the callees whose results a
function returns (all of a constructor's) decay less; the functions that bound a callback the
innermost frame was reached through (`bindings`) and those whose text templates show in the
failure's message (`literals`) are suspects. For a bug several calls below an assertion that shows
only the test's frame: the search goes 4 calls deep through operators, builtins, `getattr` by a
built name and subclass overrides (`calls`); the functions writing what a call on the failing line
reads on another object, and those whose names share a rarer word with the failing test's name
(`testnames`), break ties among siblings. Nothing is imported or run: files are read and parsed
with `ast`. The result is a `Context` within a token budget (see `snippets`).

With a run-time trace of the failing run (`RunResult.coverage`, the functions each test started),
spectrum-based evidence joins in last (`spectrum`): each function's static weight is scaled by how
strongly the failing tests and not the passing ones ran it (Ochiai), so a function no failing test
ran falls to a fraction of its weight, and every function the failing tests ran gains a weight of
its own: what no static reading reaches (dispatch through data, operators, properties) still ranks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jobs.patch.bindings import add_indirect_call
from jobs.patch.calls import CONSTRUCTORS, Callee, callees, imported_files, per_node
from jobs.patch.context import Context
from jobs.patch.evidence import add_changed_lines, add_import_time_calls, add_message_names
from jobs.patch.issue_evidence import (
    parse_location_blocks,
    parse_text_evidence,
)
from jobs.patch.literals import add_output_text
from jobs.patch.outline import Definition, SourceFile
from jobs.patch.regions import Board
from jobs.patch.snippets import render_context
from jobs.patch.spectrum import Key, from_trace
from jobs.patch.state import attribute_reads, attribute_writers, self_reads, state_writers
from jobs.patch.symbols import RepoIndex, is_test_path
from jobs.patch.testnames import name_matches
from jobs.patch.testsource import (
    backward_slice,
    resolve_test_id,
    return_slice,
    slice_levels,
    statement_lines,
    test_class,
)
from jobs.patch.textsearch import global_defs, rank_by_words
from sandbox_runner.failure import Frame
from sandbox_runner.report import FailureReport, build_report

FRAME = 10.0  # the innermost project frame outside the tests
FRAME_DECAY = 0.7  # per frame outwards
TEST_FRAME = 1.0
FAILING_LINE_CALL = 6.0  # called on the line of the test that failed
SLICE_DECAY = 0.8  # per assignment between a call and the failing line that uses its result
TEST_CALL = 3.0  # called elsewhere in a failing test
REACH_DECAY = 0.55  # per call further from the evidence
RETURN_DECAY = 0.75  # per call whose result the caller returns: the value flows on to the evidence
CLOSURE_DECAY = 0.9  # a function nested in a reached one: it runs when the returned closure is called
REACH_DEPTH = 4
MAX_REACH = 400  # functions visited per search
EXPAND_FLOOR = 0.3  # a function reached more weakly is kept, but what it calls is not searched
FRAME_LINE_CALL = 2.0  # called on the line where a project frame stopped
FAILING_TEST = 0.5
MESSAGE = 4.0
EXCERPT_FRAME = 6.0  # the innermost frame of another failure in the excerpt
ISSUE_FRAME = 0.8  # a traceback quoted in an issue, relative to one from a log
NAMED = 5.0
TEST_NAME = 5.0  # reached by a failing test whose name shares its rarer words (`testnames`)
READ_WRITER = 0.75  # writes an attribute a call on the test's failing line reads, x its share of them
STATE_WRITER = 3.0  # a method of the frame's class writing a `self.x` the frame's line reads
MAX_TESTS = 20
RUNTIME = 6.0  # run by every failing test and no passing one (Ochiai 1), on top of the static evidence
RUNTIME_FLOOR = 0.25  # the share of its static weight a function keeps when no failing test ran it
_WHERE = re.compile(r"^E\s+[+]?\s*(?:where|and)\b")


def build_context(
    checkout: Path,
    *,
    report: FailureReport | None = None,
    issue_text: str | None = None,
    changed_lines: dict[str, list[tuple[int, int]]] | None = None,
    budget_tokens: int = 6000,
    trace: dict[str, Any] | None = None,
) -> Context:
    """Ranked locations, an outline of the files involved and numbered snippets of the top regions,
    within `budget_tokens` (estimated as characters / 4). `trace`: the failing run's
    `RunResult.coverage`, when it was traced."""
    index = RepoIndex.build(checkout)
    board = Board()
    test_lines: dict[tuple[str, str], int] = {}
    if report is not None:
        _frames(index, board, report.frames, 1.0, "traceback", test_lines)
        _excerpt_frames(index, board, report.excerpt, test_lines)
    if issue_text:
        _issue(index, board, issue_text, test_lines)
    if changed_lines:
        add_changed_lines(index, board, changed_lines)
    _failing_tests(index, board, report.failing_tests if report else [], test_lines)
    if report is not None:
        assertion = (report.exception_type or "").endswith("AssertionError")
        where = "\n".join(ln for ln in report.excerpt.splitlines() if _WHERE.match(ln))
        # an assertion's message shows values (reprs, data), a raised error's names what went wrong
        message = "\n".join([report.exception_type or "", report.message or ""])
        add_message_names(
            index, board, message, MESSAGE * (0.4 if assertion else 1.0), "named in the error message"
        )
        add_message_names(index, board, where, MESSAGE, "named in pytest's `where` lines")
        add_output_text(index, board, report.message or "", report.excerpt)
    add_import_time_calls(index, board)
    if trace:
        _runtime(index, board, trace, report.failing_tests if report else [])
    return render_context(index, board.ranked(), budget_tokens)


def _runtime(index: RepoIndex, board: Board, trace: dict[str, Any], failing: list[str]) -> None:
    """Spectrum evidence: scale each project function's weight by its Ochiai score (down to
    RUNTIME_FLOOR for one no failing test ran, unless it ran at import time, outside any test),
    then add RUNTIME x score to every function the failing tests ran."""
    defs: dict[tuple[str, str], Definition] = {}

    def resolve(key: Key) -> tuple[str, str] | None:
        path = index.map_path(key[0])
        src = index.source(path) if path else None
        if src is None or is_test_path(src.path):
            return None  # a test's own function: the static evidence ranks the tests
        d = next((x for x in src.defs if x.qualname == key[1] and x.start <= key[2] <= x.end), None)
        d = d or src.enclosing(key[2])
        if d is None or d.kind != "def":
            return None
        defs.setdefault((src.path, d.qualname), d)
        return (src.path, d.qualname)

    spectrum = from_trace(trace, failing, resolve)
    scores = spectrum.scores() if spectrum else {}
    if spectrum is None or not scores:
        return  # no failing test ran any project function: nothing to tell the functions apart
    for region in board.regions.values():
        src = None if region.is_test or region.symbol is None else index.source(region.file)
        d = next((x for x in src.defs if x.qualname == region.symbol), None) if src else None
        if d is None or d.kind != "def":
            continue
        score = scores.get((region.file, region.symbol), 0.0)
        if score == 0.0 and (region.file, region.symbol) in spectrum.outside:
            continue  # it ran at import time, before any test: the trace cannot tell
        factor = RUNTIME_FLOOR + (1 - RUNTIME_FLOOR) * score
        region.parts = [p * factor for p in region.parts]
        region.score *= factor
    for key, score in scores.items():
        failed, passed = spectrum.counts[key]
        why = f"run by {failed} of {spectrum.total_failed} failing tests and {passed} passing ones"
        board.add_def(key[0], defs[key], RUNTIME * score, why)  # type: ignore[index]


def _frames(
    index: RepoIndex,
    board: Board,
    frames: list[Frame],
    scale: float,
    what: str,
    test_lines: dict[tuple[str, str], int],
) -> None:
    depth = 0
    for frame in reversed(frames):
        path = index.map_path(frame.file, project=frame.project)
        src = index.source(path) if path else None
        if src is None or frame.line is None:
            continue
        if is_test_path(src.path):
            region = board.add_line(src, frame.line, TEST_FRAME * scale, f"failing test's frame ({what})")
            if region.symbol is not None:
                test_lines.setdefault((src.path, region.symbol), frame.line)
            continue
        why = "innermost project frame" if depth == 0 else f"project frame #{depth + 1} from the innermost"
        weight = FRAME * FRAME_DECAY**depth * scale
        region = board.add_line(src, frame.line, weight, f"{why} ({what})")
        d = next((x for x in src.defs if x.qualname == region.symbol), None)
        if d is not None:
            hot = backward_slice(d, statement_lines(d, frame.line))
            seeds = [
                (c.path, c.definition, FRAME_LINE_CALL * scale * c.share)
                for c in callees(index, src, d, board.files(), hot)
            ]
            for key, (weight, callee) in _reach(index, board.files(), seeds).items():
                if key != (src.path, d.qualname):
                    board.add_def(key[0], callee, weight, "run by what a frame's line calls")
            for writer in state_writers(src, d, self_reads(d, hot)):
                board.add_def(src.path, writer, STATE_WRITER * FRAME_DECAY**depth * scale,
                              "sets state the frame's line reads")  # fmt: skip
        depth += 1
    add_indirect_call(index, board, frames, scale, what)


def _excerpt_frames(
    index: RepoIndex, board: Board, excerpt: str, test_lines: dict[tuple[str, str], int]
) -> None:
    """Frames of every failure the log excerpt shows (the report keeps the first failure's only):
    per function, its best weight over the failures, innermost first, and a little per repeat."""
    best: dict[tuple[str, str | None, int], tuple[float, int, int]] = {}
    for block in parse_location_blocks(excerpt):
        depth = 0
        for frame in reversed(block):
            path = index.map_path(frame.file, project=frame.project)
            src = index.source(path) if path else None
            if src is None or frame.line is None:
                continue
            d = src.enclosing(frame.line)
            if is_test_path(src.path):
                if d is not None:
                    test_lines.setdefault((src.path, d.qualname), frame.line)
                continue
            key = (src.path, d.qualname if d else None, 0 if d else frame.line)
            weight = EXCERPT_FRAME * FRAME_DECAY**depth
            old = best.get(key)
            best[key] = (max(weight, old[0]) if old else weight, (old[1] + 1) if old else 1, frame.line)
            depth += 1
    for (path, _, _), (weight, count, line) in best.items():
        src = index.source(path)
        assert src is not None
        board.add_line(src, line, weight + min(2.0, 0.5 * (count - 1)), "in a failure's traceback")


def _failing_tests(
    index: RepoIndex, board: Board, test_ids: list[str], test_lines: dict[tuple[str, str], int]
) -> None:
    """Each failing test, and what it may run: votes over the tests, normalised by their number."""
    tests: dict[tuple[str, str], tuple[str, Definition]] = {}
    test_ids_of: dict[tuple[str, str], str] = {}
    for test_id in test_ids[:MAX_TESTS]:
        found = resolve_test_id(index, test_id)
        if found is not None and found[1] is not None:
            tests.setdefault((found[0], found[1].qualname), (found[0], found[1]))
            test_ids_of.setdefault((found[0], found[1].qualname), test_id)
    for path, qualname in test_lines:  # a test whose frame the log shows, though no id was parsed
        src = index.source(path)
        test = next((d for d in src.defs if d.qualname == qualname), None) if src else None
        if test is not None and len(tests) < MAX_TESTS:
            tests.setdefault((path, qualname), (path, test))
            test_ids_of.setdefault((path, qualname), "")
    votes: dict[tuple[str, str], tuple[float, int, Definition, str]] = {}
    named: dict[tuple[str, str], tuple[float, int, Definition]] = {}
    writers: dict[tuple[str, str], tuple[float, Definition]] = {}
    memo: dict[tuple[object, ...], list[tuple[Callee, float]]] = {}  # calls resolved, shared by the tests
    for path, test in tests.values():
        board.add_def(path, test, FAILING_TEST, "failing test")
        if not is_test_path(path):  # a doctest id names the function whose docstring failed
            board.add_def(path, test, FAILING_LINE_CALL, "its doctest fails")
        src = index.source(path)
        assert src is not None
        line = test_lines.get((path, test.qualname))
        in_play = board.files() | {path} | imported_files(index, src)
        owner = test_class(index, test_ids_of[(path, test.qualname)], path)
        levels = slice_levels(test, statement_lines(test, line)) if line else []
        seeds = [
            (c.path, c.definition, FAILING_LINE_CALL * SLICE_DECAY**distance * c.share)
            for distance, level in enumerate(levels)
            for c in callees(index, src, test, in_play, level, owner)
        ]
        if levels:
            for c in callees(index, src, test, in_play, levels[0], owner):
                _readers_state(index, c.path, c.definition, FAILING_LINE_CALL * c.share, writers)
        all_calls = callees(index, src, test, in_play, None, owner)
        seeds += [(c.path, c.definition, TEST_CALL * c.share) for c in all_calls]
        reached = _reach(index, in_play, seeds, owner, memo)
        matches = name_matches(test.name, [d for _, d in reached.values()]) if is_test_path(path) else {}
        for key, (weight, d) in reached.items():
            if d.qualname in matches:
                n_weight, n_count, _ = named.get(key, (0.0, 0, d))
                named[key] = (max(n_weight, TEST_NAME * matches[d.qualname]), n_count + 1, d)
            old = votes.get(key)
            why = _test_why(weight)
            if old is None:
                votes[key] = (weight, 1, d, why)
            else:
                votes[key] = (max(weight, old[0]), old[1] + 1, d, why if weight > old[0] else old[3])
    for (path, _), (weight, count, d, why) in votes.items():
        board.add_def(path, d, weight * (0.2 + 0.8 * count / max(1, len(tests))), why)
    for (path, _), (weight, d) in writers.items():
        board.add_def(path, d, weight, "writes state a call on the test's failing line reads")
    for (path, _), (weight, count, d) in named.items():
        board.add_def(
            path, d, weight * (0.2 + 0.8 * count / max(1, len(tests))), "the failing test's name names it"
        )


def _readers_state(
    index: RepoIndex,
    path: str,
    reader: Definition,
    weight: float,
    found: dict[tuple[str, str], tuple[float, Definition]],
) -> None:
    """The functions of `reader`'s file that write attributes it reads, into `found` (best weight)."""
    src = index.source(path)
    if src is None or reader.kind != "def" or is_test_path(path):
        return
    for d, share in attribute_writers(src, reader, attribute_reads(reader)):
        w = weight * READ_WRITER * share
        if w > found.get((path, d.qualname), (0.0, d))[0]:
            found[(path, d.qualname)] = (w, d)


def _test_why(weight: float) -> str:
    if weight >= FAILING_LINE_CALL:
        return "called on the test's failing line"
    if weight > TEST_CALL:
        return "computes what the test's failing line checks"
    return "called by a failing test" if weight == TEST_CALL else "run by what a failing test calls"


def _reach(
    index: RepoIndex,
    files: set[str],
    seeds: list[tuple[str, Definition, float]],
    self_class: str | None = None,
    memo: dict[tuple[object, ...], list[tuple[Callee, float]]] | None = None,
) -> dict[tuple[str, str], tuple[float, Definition]]:
    """The project's non-test functions reachable from `seeds` in up to REACH_DEPTH calls, each with
    its best weight (a seed's weight times REACH_DECAY per call; test helpers pass through free).
    The project's code resolves its calls among the project's files in play, not the tests' (so
    `memo` keeps them for the searches of every failing test)."""
    memo = {} if memo is None else memo
    in_play = frozenset(files)
    code_files = frozenset(f for f in files if not is_test_path(f))  # what the project's code may call
    best: dict[tuple[str, str], tuple[float, Definition]] = {}
    visited: dict[tuple[str, str], float] = {}
    frontier = [(p, d, w, 0) for p, d, w in seeds]
    while frontier and len(visited) < MAX_REACH:
        path, d, weight, depth = frontier.pop(0)
        key = (path, d.qualname)
        if visited.get(key, 0.0) >= weight:
            continue
        visited[key] = weight
        helper = is_test_path(path)
        if not helper:
            best[key] = (weight, d)
        src = index.source(path)
        if src is None or depth >= REACH_DEPTH or d.kind != "def" or weight < EXPAND_FLOOR:
            continue
        owner = self_class if helper else None
        scope = in_play if helper else code_files
        expand = (path, d.qualname, scope, owner)
        if expand not in memo:
            returned = set() if helper else _returned(index, src, d, set(scope) | {path}, owner)
            memo[expand] = [
                (c, 1.0 if helper else _step(c, (c.path, c.definition.qualname) in returned))
                for c in callees(index, src, d, set(scope) | {path}, None, owner)
            ]
        for c, step in memo[expand]:
            frontier.append(
                (c.path, c.definition, weight * step * c.share, depth + (0 if helper or c.closure else 1))
            )
    return best


def _step(c: Callee, returned: bool) -> float:
    """The decay of one call: less for a closure, or a callee whose result the caller returns."""
    return max(CLOSURE_DECAY if c.closure else REACH_DECAY, RETURN_DECAY if returned else 0.0)


def _returned(
    index: RepoIndex, src: SourceFile, d: Definition, files: set[str], owner: str | None
) -> set[tuple[str, str]]:
    """The callees of `d` whose results it returns (directly or through its locals); for a
    constructor, all of them (what it calls makes the state of the object it returns)."""
    lines = None if d.name in CONSTRUCTORS else per_node("returns", d.node, lambda: return_slice(d))
    if lines is None:
        return {(c.path, c.definition.qualname) for c in callees(index, src, d, files, None, owner)}
    found = callees(index, src, d, files, lines, owner) if lines else []
    return {(c.path, c.definition.qualname) for c in found}


def _issue(index: RepoIndex, board: Board, text: str, test_lines: dict[tuple[str, str], int]) -> None:
    ev = parse_text_evidence(text)
    _frames(index, board, ev.frames, ISSUE_FRAME, "issue's traceback", test_lines)
    for raw, line in ev.paths:
        path = index.map_path(raw)
        src = index.source(path) if path else None
        if src is not None and line is not None:
            board.add_line(src, line, NAMED, "path and line quoted in the issue")
    for ident in ev.identifiers[:40]:
        found = index.resolve(ident) if "." in ident else None
        if found is not None and found[1] is not None:
            board.add_def(found[0], found[1], NAMED, "named in the issue")
            continue
        hits = global_defs(index, ident, limit=5)
        for path, d in hits:
            board.add_def(path, d, NAMED / len(hits) ** 0.5, "named in the issue")
    rank_by_words(index, board, ev.words, {p for p, _ in ev.paths})


def context_json(
    checkout: Path, *, log: str | None = None, issue_text: str | None = None, budget_tokens: int = 6000
) -> dict[str, Any]:
    """What `autofix fix --print-context` prints: the Context for a log file's text or an issue's."""
    report = build_report(log) if log is not None else None
    return build_context(
        checkout, report=report, issue_text=issue_text, budget_tokens=budget_tokens
    ).to_json()
