"""Fingerprints over real pytest runs of small failing projects, and `normalise` over volatile text."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox_runner.failure import FailureClass, Finding, Frame, Location, is_project_path
from sandbox_runner.fingerprint import RELATED, fingerprint, normalise, related, same_failure, similarity

# a project whose failure message changes on every run: an object address, the test's tmp_path,
# a timing and a uuid; `{raise_}` is the bug
PROJECT = """\
import time
import uuid


class Store:
    pass


def load(path):
    started = time.perf_counter()
    {raise_}


def test_load(tmp_path):
    load(tmp_path / "data.txt")


def test_fine():
    assert load is not None
"""
BUG = (
    'raise ValueError(f"cannot load {Store()} from {path} after {time.perf_counter() - started:.6f}s"'
    ' f" (request {uuid.uuid4()})")'
)
OTHER_MESSAGE = 'raise ValueError(f"refusing to read {path}: it is locked by pid {os.getpid()}")'
OTHER_EXCEPTION = 'raise KeyError(f"no entry for {path} in {Store()}")'
OTHER_ASSERTION = 'assert path.exists(), f"missing {path} (checked at {time.time()})"'


def run_pytest(where: Path, raise_: str, tb: str = "short") -> str:
    """Real pytest on a fresh copy of the project in `where`; its own temp root, so its tmp_path differs."""
    (where / "temproot").mkdir(parents=True)
    (where / "proj").mkdir()
    (where / "proj" / "pytest.ini").write_text("[pytest]\n")
    header = "import os\n" if "os." in raise_ else ""
    (where / "proj" / "test_store.py").write_text(header + PROJECT.format(raise_=raise_))
    env = {
        **os.environ,
        "PYTEST_DEBUG_TEMPROOT": str(where / "temproot"),
        "PYTHONHASHSEED": "random",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-ra", f"--tb={tb}", "-p", "no:cacheprovider", "test_store.py"],
        cwd=where / "proj",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    return done.stdout


_FAILED = re.compile(r"^FAILED (\S+)")
_EXC = re.compile(r"^(?:E\s+)?([A-Za-z_][\w.]*(?:Error|Exception)): ?(.*)$")
_SHORT_FRAME = re.compile(r"^(\S+\.py):(\d+): in (\w+)$")
_NATIVE_FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+), in (\w+)$')


def parse_minimal(output: str) -> Finding:
    """Just enough of pytest's output for a Finding (the real parsers live in sandbox_runner.parsers)."""
    finding = Finding(parser="pytest", failure_class=FailureClass.TEST_FAILURE)
    for line in output.splitlines():
        if m := _FAILED.match(line):
            finding.failing_tests.append(m.group(1))
        elif m := (_SHORT_FRAME.match(line) or _NATIVE_FRAME.match(line)):
            finding.frames.append(Frame(m.group(1), int(m.group(2)), m.group(3), is_project_path(m.group(1))))
        elif (m := _EXC.match(line)) and finding.exception_type is None:
            finding.exception_type, finding.message = m.group(1), m.group(2)
    assert finding.exception_type, output
    return finding


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Finding:
    """The bug, run once for the module: the finding the other runs are compared with."""
    return parse_minimal(run_pytest(tmp_path_factory.mktemp("original"), BUG))


def test_reruns_of_one_failure_have_one_fingerprint(tmp_path: Path) -> None:
    first = run_pytest(tmp_path / "a", BUG)
    second = run_pytest(tmp_path / "b", BUG)
    assert first != second  # the address, tmp path, timing and uuid all differ
    a, b = parse_minimal(first), parse_minimal(second)
    assert a.message != b.message
    assert fingerprint(a) == fingerprint(b)
    assert same_failure(a, b)
    assert similarity(a, b) == 1.0
    assert re.fullmatch(r"v1:[0-9a-f]{16}", fingerprint(a))


def test_the_traceback_style_does_not_change_the_fingerprint(tmp_path: Path) -> None:
    short = parse_minimal(run_pytest(tmp_path / "a", BUG, tb="short"))
    native = parse_minimal(run_pytest(tmp_path / "b", BUG, tb="native"))
    assert any(not f.project for f in native.frames)  # pytest's and pluggy's own frames
    assert short.frames[0].file != native.frames[-1].file  # relative against absolute
    assert fingerprint(short) == fingerprint(native)


@pytest.mark.parametrize(
    ("bug", "is_related"), [(OTHER_EXCEPTION, False), (OTHER_ASSERTION, False), (OTHER_MESSAGE, True)]
)
def test_a_different_bug_has_a_different_fingerprint(
    original: Finding, tmp_path: Path, bug: str, is_related: bool
) -> None:
    """Another exception or assertion is another failure; the same exception raised at the same
    frames with another message is another failure too, but a related one."""
    other = parse_minimal(run_pytest(tmp_path, bug))
    assert fingerprint(original) != fingerprint(other)
    assert not same_failure(original, other)
    assert related(original, other) is is_related
    if is_related:
        assert RELATED <= similarity(original, other) < 1.0
    else:
        assert similarity(original, other) < RELATED


# --- the scale of `similarity`, on hand-made findings --------------------------------------------


def finding(exc: str, message: str, frames: list[tuple[str, str]], tests: list[str]) -> Finding:
    return Finding(
        parser="pytest",
        failing_tests=tests,
        exception_type=exc,
        message=message,
        frames=[Frame(file, 10 * i, fn, True) for i, (file, fn) in enumerate(frames)],
        failure_class=FailureClass.TEST_FAILURE,
    )


FRAMES = [("tests/test_db.py", "test_save"), ("src/db.py", "save"), ("src/db.py", "_write")]


def test_similarity_scale() -> None:
    base = finding("KeyError", "'user'", FRAMES, ["tests/test_db.py::test_save"])
    reworded = finding("KeyError", "'account'", FRAMES, ["tests/test_db.py::test_save"])
    elsewhere = finding(
        "TypeError", "unsupported operand", [("tests/test_api.py", "test_get"), ("src/api.py", "get")], ["x"]
    )
    other_type_same_place = finding("TypeError", "'user'", FRAMES, ["tests/test_db.py::test_save"])
    assert similarity(base, base) == 1.0
    assert 0.85 < similarity(base, reworded) < 1.0
    assert similarity(base, elsewhere) < 0.3
    assert similarity(base, other_type_same_place) < RELATED
    assert similarity(base, reworded) == similarity(reworded, base)


def test_line_numbers_and_outside_frames_do_not_count() -> None:
    a = finding("KeyError", "'user'", FRAMES, ["t.py::t"])
    moved = Finding(
        **{**a.__dict__, "frames": [Frame(f.file, (f.line or 0) + 7, f.function, True) for f in a.frames]}
    )
    with_lib = Finding(
        **{**a.__dict__, "frames": [*a.frames, Frame("/usr/lib/python3.11/json/x.py", 3, "d", False)]}
    )
    assert fingerprint(a) == fingerprint(moved) == fingerprint(with_lib)
    renamed = Finding(**{**a.__dict__, "frames": [*a.frames[:-1], Frame("src/db.py", 1, "_flush", True)]})
    assert fingerprint(a) != fingerprint(renamed)


def test_parameter_ids_of_failing_tests_are_kept() -> None:
    one = finding("AssertionError", "", FRAMES, ["t.py::test_x[1]"])
    two = finding("AssertionError", "", FRAMES, ["t.py::test_x[2]"])
    assert fingerprint(one) != fingerprint(two)
    order = finding("AssertionError", "", FRAMES, ["t.py::b", "t.py::a"])
    assert fingerprint(order) == fingerprint(finding("AssertionError", "", FRAMES, ["t.py::a", "t.py::b"]))


def test_lint_findings_are_fingerprinted_by_their_locations() -> None:
    def lint(*locs: Location) -> Finding:
        return Finding(parser="tool", locations=list(locs), failure_class=FailureClass.LINT_ERROR)

    a = lint(Location("/home/runner/work/r/r/src/a.py", 3, 1, "unused import 'os'", "F401"))
    moved = lint(Location("src/a.py", 9, 1, "unused import 'os'", "F401"))
    other = lint(Location("src/a.py", 3, 1, "line too long (120 > 110)", "E501"))
    assert fingerprint(a) == fingerprint(moved)
    assert fingerprint(a) != fingerprint(other)
    assert related(a, moved)
    assert not related(a, other)


def test_error_lines_fingerprint_what_has_nothing_else() -> None:
    def generic(*lines: str) -> Finding:
        return Finding(parser="generic", error_lines=list(lines))

    assert fingerprint(generic("error at 2026-11-21T06:23:30Z: disk full")) == fingerprint(
        generic("error at 2026-11-22T07:00:01Z: disk full")
    )
    assert fingerprint(generic("error: disk full")) != fingerprint(generic("error: no route to host"))
    assert similarity(Finding(parser="generic"), Finding(parser="generic")) == 1.0


# --- normalise, one kind of volatile text at a time ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # numbers in messages, not in identifiers
        ("assert 3 == 4", "assert <n> == <n>"),
        ("expected 1.5, got -2e-3", "expected <n>, got <n>"),
        ("test_x2 failed on int64 and python3.11", "test_x2 failed on int64 and python3.11"),
        # hex addresses
        ("<app.Foo object at 0x7f3a2b1c9d40>", "<app.Foo object at 0x<addr>>"),
        # temp paths
        ("/tmp/pytest-of-u/pytest-12/test_x0/data.txt", "<tmp>/data.txt"),
        ("'/tmp/pytest-of-runner/pytest-3/test_load0'", "'<tmp>'"),
        ("/tmp/tmpab12cd_x/f.txt", "<tmp>/<tmpdir>/f.txt"),
        ("/var/folders/xy/abc123def/T/tmpzz99aa/f", "<tmp>/<tmpdir>/f"),
        ("/private/var/folders/xy/abc123def/T/f", "<tmp>/f"),
        ("C:\\Users\\bob\\AppData\\Local\\Temp\\tmpab12cd\\f.txt", "<tmp>\\<tmpdir>\\f.txt"),
        ("'C:\\\\Users\\\\bob\\\\AppData\\\\Local\\\\Temp\\\\f.txt'", "'<tmp>\\\\f.txt'"),
        ("/tmp/pytest-of-r/pytest-5/test_a0/run/temproot/pytest-of-r/pytest-0/test_b0/x", "<tmp>/x"),
        # timestamps
        ("at 2026-11-21T06:23:30.123456Z", "at <time>"),
        ("at 2026-11-21 06:23:30,123 ERROR", "at <time> ERROR"),
        ("at 2026-11-21T06:23:30+01:00", "at <time>"),
        ('127.0.0.1 - - [21/Nov/2026:06:23:30 +0000] "GET /"', '<ip> - - [<time>] "GET /"'),
        ("Nov 21 06:23:30 runner kernel", "<time> runner kernel"),
        ("Sat Nov 21 06:23:30 2026", "<time>"),
        ("on 2026-11-21", "on <time>"),
        ("06:23:30.5 started", "<time> started"),
        # durations
        ("took 0.12s", "took <duration>"),
        ("1 failed in 3.45 seconds", "<n> failed in <duration>"),
        ("timeout after 12ms", "timeout after <duration>"),
        ("slept 250 us then 2 min", "slept <duration> then <duration>"),
        # random ids
        ("request 123e4567-e89b-12d3-a456-426614174000", "request <uuid>"),
        ("commit 9fceb02d0ae598e95dc970b74767f19372d61af8", "commit <hex>"),
        ("nonce aZ3kP9qL2mN8vB7xC1dF+w==", "nonce <id>"),
        ("worker pid 1234 died", "worker pid <n> died"),
        ("process=9876", "process=<n>"),
        ("connect to localhost:54321 refused", "connect to localhost:<port> refused"),
        ("http://127.0.0.1:8080/x", "http://<ip>:<port>/x"),
        # CI workspace prefixes
        ("/home/runner/work/autofix/autofix/src/a.py", "src/a.py"),
        ("/__w/autofix/autofix/src/a.py", "src/a.py"),
        ("D:\\a\\autofix\\autofix\\src\\a.py", "src\\a.py"),
        # ordinary words stay
        ("KeyError: 'user_name'", "KeyError: 'user_name'"),
        ("ValueError: deadbeef is not a number", "ValueError: deadbeef is not a number"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_normalise_is_idempotent_and_leaves_plain_text_alone() -> None:
    text = "E   AssertionError: <Foo at 0x1f> in /tmp/tmpabcd12/x after 0.1s (pid 7)"
    assert normalise(normalise(text)) == normalise(text)
    assert normalise("plain words only") == "plain words only"


def test_temp_paths_after_a_label_keep_the_label() -> None:
    assert normalise("basetemp=/tmp/pytest-of-u/pytest-3/x") == "basetemp=<tmp>/x"


def test_normalise_takes_linear_time_on_a_long_unbroken_run() -> None:
    blob = "aB3/" * 50_000  # 200 KB without a space: no pattern may try it from every position
    started = time.perf_counter()
    normalise(blob)
    normalise("path=" + blob + "/pytest-of-u/pytest-1/x")
    assert time.perf_counter() - started < 2.0


def test_the_reports_fingerprint_is_stable_across_reruns_and_tb_styles(
    original: Finding, tmp_path: Path
) -> None:
    """Through the real log parsers and report, not the minimal parse above."""
    from sandbox_runner.report import build_report

    reports = [build_report(run_pytest(tmp_path / tb, BUG, tb=tb)) for tb in ("short", "long", "native")]
    assert len({r.fingerprint for r in reports}) == 1
    assert reports[0].fingerprint == fingerprint(original)
    other = build_report(run_pytest(tmp_path / "other", OTHER_EXCEPTION))
    assert other.fingerprint != reports[0].fingerprint
