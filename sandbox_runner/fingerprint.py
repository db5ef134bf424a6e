"""Fingerprints of failures: the same failure gives the same fingerprint on every rerun, a different
failure a different one, and two findings can be compared for how related they are. Standard library
only, pure.

What a fingerprint covers (scheme `v1`):

- the failure class, and the exception type without its module (`ValueError`, not `builtins.ValueError`,
  since parsers and Python versions print either);
- the first line of the message, normalised (`normalise`) and cut to `MESSAGE_CHARS`;
- the failing test ids, sorted (xdist and reruns change the order), with their parameter ids kept:
  only what is volatile in them (temp paths, addresses, uuids) is normalised, so `test_x[1]` and
  `test_x[2]` stay apart;
- the project frames, in order, as (file name, function): the path is cut to its file name, since
  one traceback style prints `/home/me/proj/tests/test_a.py` and another `tests/test_a.py` (the
  failing test ids carry the full paths). No line numbers at all: frames outside the project change
  with library versions, and an edit above the failing line moves project lines without changing the
  failure. Frames outside the project count only when there is no project frame (the last three);
- for lint and compile findings, the (file name, code, normalised message) of each location, sorted,
  without line and column;
- when none of that is known, the first normalised error lines.

`similarity` scores two findings in [0, 1]; see its docstring for the scale.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from difflib import SequenceMatcher

from sandbox_runner.failure import Finding

SCHEME = "v1"
MESSAGE_CHARS = 200
MAX_LOCATIONS = 20
MAX_ERROR_LINES = 5
RELATED = 0.7  # `related` holds from this similarity up

_SEP = r"[/\\]{1,2}"  # a path separator, also doubled as in a Python repr of a Windows path
# (pattern, replacement), applied in order: prefixes and paths before the numbers inside them
_WORKSPACE = [
    (re.compile(r"/home/runner/work/[^/\s]+/[^/\s]+/"), ""),
    (re.compile(r"/__w/[^/\s]+/[^/\s]+/"), ""),
    (re.compile(r"/github/workspace/"), ""),
    (re.compile(r"\b[A-Za-z]:" + _SEP + r"a" + _SEP + r"[^\\/\s]+" + _SEP + r"[^\\/\s]+" + _SEP), ""),
]
_TEMP = [
    # pytest's tmp_path: `…/pytest-of-<user>/pytest-<n>/<test>0/`, wherever the temp root is
    (
        re.compile(
            r"(?<![^\s'\"():=,])(?:[A-Za-z]:)?[^\s'\"():=,]*"
            + _SEP
            + r"pytest-of-[^/\\\s]+"
            + _SEP
            + r"pytest-(?:\d+|current)(?:"
            + _SEP
            + r"[^/\\\s'\"():]+\d)?(?=[/\\\s'\")]|$)"
        ),
        "<tmp>",
    ),
    (re.compile(r"(?:/private)?/var/folders/[^/\s]+/[^/\s]+/T(?=/)"), "<tmp>"),
    (
        re.compile(
            r"\b[A-Za-z]:"
            + _SEP
            + r"Users"
            + _SEP
            + r"[^\\/\s]+"
            + _SEP
            + r"AppData"
            + _SEP
            + r"Local"
            + _SEP
            + r"Temp(?=[\\/])"
        ),
        "<tmp>",
    ),
    (re.compile(r"(?:/private)?/tmp(?=/)"), "<tmp>"),
    (re.compile(r"(?<=<tmp>)([/\\]{1,2})tmp[\w\-]{4,}"), r"\1<tmpdir>"),  # tempfile.mkdtemp()
]
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIMES = [
    # timestamps: ISO 8601, common/combined log format, syslog and ctime, bare dates and times
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"),
        "<time>",
    ),
    (re.compile(r"\b\d{2}/" + _MONTH + r"/\d{4}:\d{2}:\d{2}:\d{2}(?: [+-]\d{4})?"), "<time>"),
    (re.compile(r"\b(?:\w{3} )?" + _MONTH + r" +\d{1,2} \d{2}:\d{2}:\d{2}(?: \d{4})?"), "<time>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<time>"),
]
# random ids: uuids, addresses, long hex runs, long mixed base64 runs
_IDS = [
    (
        re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
        "<uuid>",
    ),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "0x<addr>"),
    (re.compile(r"\b(?=[a-fA-F]*\d)[0-9a-fA-F]{12,}\b"), "<hex>"),
    (
        re.compile(
            r"(?<![\w+/])(?=[A-Za-z0-9+/]*\d)(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*[A-Z])"
            r"[A-Za-z0-9+/]{20,}={0,2}(?![\w+/])"
        ),
        "<id>",
    ),
]
_VOLATILE = [
    *_TIMES,
    *_IDS,
    # durations: `0.12s`, `in 3.45 seconds`, `12ms`, `(0:01:02)` is a time above
    (
        re.compile(
            r"(?<![\w.])\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)\b"
        ),
        "<duration>",
    ),
    (re.compile(r"\b(pid|process|port)([ =:#]+)\d+", re.I), r"\1\2<n>"),
    (re.compile(r"(?<=[\w\]]):\d{2,5}\b(?=/|\s|$|['\")])"), ":<port>"),  # host:port
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b"), "<ip>"),
    # numbers outside identifiers: `test_x2` and `int64` keep theirs, `python3.11` too
    (re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])"), "<n>"),
]


def _apply(rules: Iterable[tuple[re.Pattern[str], str]], text: str) -> str:
    for pattern, replacement in rules:
        text = pattern.sub(replacement, text)
    return text


def normalise_path(path: str) -> str:
    """A path without CI workspace and temp prefixes, with `/` separators."""
    return _apply(_TEMP, _apply(_WORKSPACE, path)).replace("\\\\", "/").replace("\\", "/")


def normalise(text: str) -> str:
    """`text` without what changes between runs of one failure: CI workspace prefixes, temp paths,
    timestamps, uuids, addresses, long hex and base64 ids, durations, pids and ports, and numbers
    (except inside identifiers)."""
    return _apply(_VOLATILE, _apply(_TEMP, _apply(_WORKSPACE, text)))


def _normalise_test_id(test_id: str) -> str:
    # parameter ids are kept: only paths, addresses and random ids are volatile in them
    return _apply(_IDS[:3], _apply(_TEMP, _apply(_WORKSPACE, test_id)))


def _file_name(path: str) -> str:
    pieces = [p for p in normalise_path(path).split("/") if p and p != "."]
    return pieces[-1] if pieces else ""


def _exception_type(finding: Finding) -> str:
    return (finding.exception_type or "").rsplit(".", 1)[-1]


def _message(finding: Finding) -> str:
    return _bounded((finding.message or "").strip().split("\n", 1)[0])


def _bounded(line: str) -> str:
    return normalise(line[: MESSAGE_CHARS * 2])[:MESSAGE_CHARS]


def _where(finding: Finding) -> list[str]:
    """The frames that say where it failed: the project's, else the outside ones by file name."""
    project = [f for f in finding.frames if f.project]
    if project:
        return [f"{_file_name(f.file)}:{f.function or ''}" for f in project]
    return [f"{_file_name(f.file)}:{f.function or ''}" for f in finding.frames[-3:]]


def _locations(finding: Finding) -> list[str]:
    found = {f"{_file_name(loc.file)}|{loc.code or ''}|{_bounded(loc.message)}" for loc in finding.locations}
    return sorted(found)[:MAX_LOCATIONS]


def _parts(finding: Finding) -> list[str]:
    parts = [
        SCHEME,
        finding.failure_class.value if finding.failure_class else "",
        _exception_type(finding),
        _message(finding),
        "\x1e".join(sorted({_normalise_test_id(t) for t in finding.failing_tests})),
        "\x1e".join(_where(finding)),
        "\x1e".join(_locations(finding)),
    ]
    if not any(parts[2:]):
        parts.append("\x1e".join(_bounded(line) for line in finding.error_lines[:MAX_ERROR_LINES]))
    return parts


def fingerprint(finding: Finding) -> str:
    """`v1:` and 16 hex digits, equal for reruns of one failure (see the module docstring)."""
    digest = hashlib.sha256("\x1f".join(_parts(finding)).encode()).hexdigest()
    return f"{SCHEME}:{digest[:16]}"


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b)


def similarity(a: Finding, b: Finding) -> float:
    """How alike two findings are, in [0, 1]:

    - 1.0: the same fingerprint;
    - 0.75 to 1.0: the same exception type and project frames (or lint locations), with another
      message (0.9 and up when the failing tests match too) or other failing tests; `related` from
      `RELATED` (0.7) up;
    - 0.65 at most: another exception type at the same frames, with the same message and tests;
    - 0.35 at most: another exception type and other frames, whatever else is shared.

    It is a weighted mean of failure class (0.1), exception type (0.35), where it failed (project
    frames in order, or the sorted lint locations: 0.3), the message (0.1) and the failing tests
    (0.15). A part neither finding has is left out of the mean; a part only one has scores 0.
    """
    if fingerprint(a) == fingerprint(b):
        return 1.0
    scores: list[tuple[float, float]] = []

    def add(weight: float, x: object, y: object, score: float) -> None:
        if x or y:
            scores.append((weight, score if (x and y) else 0.0))

    cls_a, cls_b = a.failure_class, b.failure_class
    add(0.1, cls_a, cls_b, float(cls_a == cls_b))
    type_a, type_b = _exception_type(a), _exception_type(b)
    add(0.35, type_a, type_b, float(type_a == type_b))
    where_a, where_b = _where(a) or _locations(a), _where(b) or _locations(b)
    add(0.3, where_a, where_b, SequenceMatcher(None, where_a, where_b, autojunk=False).ratio())
    msg_a, msg_b = _message(a), _message(b)
    add(0.1, msg_a, msg_b, SequenceMatcher(None, msg_a, msg_b, autojunk=False).ratio())
    tests_a = {_normalise_test_id(t) for t in a.failing_tests}
    tests_b = {_normalise_test_id(t) for t in b.failing_tests}
    add(0.15, tests_a, tests_b, _jaccard(tests_a, tests_b) if tests_a and tests_b else 0.0)
    total = sum(w for w, _ in scores)
    return sum(w * s for w, s in scores) / total if total else 0.0


def same_failure(a: Finding, b: Finding) -> bool:
    return fingerprint(a) == fingerprint(b)


def related(a: Finding, b: Finding) -> bool:
    """The same failure, or one like it: same exception type and project frames, another message."""
    return similarity(a, b) >= RELATED
