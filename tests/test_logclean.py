"""Log cleaning: each rule, real GitHub Actions lines, step tracking, and bounded memory."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox_runner import logclean
from sandbox_runner.logclean import MAX_LINE_CHARS, LogCleaner, clean_lines

LOGS = Path(__file__).parent / "fixtures" / "logs"


def _clean(*raw: str) -> list[str]:
    return list(clean_lines(list(raw)))


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("2024-05-01T12:34:56.1234567Z hello", "hello"),
        ("\ufeff2022-05-30T09:10:41.3367743Z first line", "first line"),
        ("2024-05-01T12:34:56Z no fraction", "no fraction"),
        ("2024-05-01T12:34:56.1234567Z   indented stays", "  indented stays"),
        ("test\tRun pytest\t2024-05-01T12:34:56.1234567Z E   assert 1 == 2", "E   assert 1 == 2"),
        ("\x1b[31mFAILED\x1b[0m test_a.py::test_x", "FAILED test_a.py::test_x"),
        ("\x1b[36;1mpython -m pytest\x1b[0m", "python -m pytest"),
        ("\x1b]8;;http://x\x07link\x1b]8;;\x07", "link"),
        ("10%\r50%\r100% done", "100% done"),
        ("line with crlf\r\n", "line with crlf"),
        ("progress\r", "progress"),
        ("plain pytest output", "plain pytest output"),
        ("a time 2024-05-01T12:34:56Z inside stays", "a time 2024-05-01T12:34:56Z inside stays"),
    ],
)
def test_cleaning_rules(raw: str, clean: str) -> None:
    assert _clean(raw) == [clean]


def test_markers_are_consumed_and_errors_kept_as_text() -> None:
    lines = _clean(
        "2024-05-01T00:00:00.0Z ##[group]Run pytest -x",
        "2024-05-01T00:00:00.0Z pytest -x",
        "2024-05-01T00:00:00.0Z ##[endgroup]",
        "2024-05-01T00:00:00.0Z ##[warning]careful",
        "2024-05-01T00:00:00.0Z ##[error]Process completed with exit code 1.",
    )
    assert lines == ["pytest -x", "careful", "Process completed with exit code 1."]


def test_long_lines_are_capped() -> None:
    assert len(_clean("x" * 100_000)[0]) == MAX_LINE_CHARS


def test_binary_file_decoding_replaces_bad_bytes_and_skips_overlong_rest() -> None:
    data = b"ok \xff line\n" + b"y" * 200_000 + b"\nafter\n"
    lines = list(clean_lines(io.BytesIO(data)))
    assert lines[0] == "ok \ufffd line"
    assert len(lines[1]) == MAX_LINE_CHARS
    assert set(lines[1]) == {"y"}
    assert lines[2] == "after"
    assert len(lines) == 3


def test_binary_lines_cut_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short and empty lines, a multi-byte character, lines one short of, at and far over the cap,
    and no final newline."""
    monkeypatch.setattr(logclean, "MAX_RAW_LINE_BYTES", 8)
    data = b"abc\n\nxy\xc3\xa9z\n" + b"L" * 7 + b"\n" + b"M" * 8 + b"\n" + b"N" * 30 + b"\nlast"
    want = [part[:8].decode("utf-8", "replace") for part in data.split(b"\n")]
    for text in (data, data + b"\n"):
        assert [line.rstrip("\n") for line in logclean.iter_raw_lines(io.BytesIO(text))] == want


def test_whole_text_and_bytes_are_split() -> None:
    assert list(clean_lines("a\nb\r\nc")) == ["a", "b", "c"]
    assert list(clean_lines(b"a\nb")) == ["a", "b"]


def _run(raw: list[str]) -> LogCleaner:
    c = LogCleaner()
    for _ in clean_lines(raw, c):
        pass
    return c


def test_step_tracking_failing_step_command_and_context() -> None:
    c = _run(
        [
            "##[group]Run actions/checkout@v4",
            "##[endgroup]",
            "checked out",
            "##[group]Run python -m pip install -e .",
            "python -m pip install -e .",
            "shell: /usr/bin/bash -e {0}",
            "##[endgroup]",
            "installed",
            "##[group]Run python -m pytest -x",
            "\x1b[36;1mpython -m pytest -x\x1b[0m",
            "\x1b[36;1m  --tb=short\x1b[0m",
            "shell: /usr/bin/bash -e {0}",
            "env:",
            "  PYTHONHASHSEED: 0",
            "##[endgroup]",
            "FAILED t.py::test_a - assert 1 == 2",
            "##[error]Process completed with exit code 1.",
            "##[group]Run actions/upload-artifact@v4",
            "##[endgroup]",
            "uploaded",
        ]
    )
    assert c.failing_step == "Run python -m pytest -x"
    assert c.failing_command == "python -m pytest -x\n--tb=short"
    assert c.exit_code == 1
    assert c.step == "Run actions/upload-artifact@v4"
    assert c.context[-1] == "FAILED t.py::test_a - assert 1 == 2"
    assert "checked out" not in c.context
    assert "installed" not in c.context
    assert c.excerpt_lines()[-1] == "##[error]Process completed with exit code 1."


def test_a_later_exit_code_step_wins_and_a_stray_error_does_not_displace_it() -> None:
    c = _run(
        [
            "##[group]Run mv a b",
            "##[endgroup]",
            "mv: cannot stat 'a'",
            "##[error]Process completed with exit code 1.",
            "##[group]Run pytest",
            "##[endgroup]",
            "boom",
            "##[error]Process completed with exit code 2.",
            "##[group]Run cleanup",
            "##[endgroup]",
            "##[error]could not upload",
        ]
    )
    assert c.failing_step == "Run pytest"
    assert c.exit_code == 2
    assert list(c.errors)[-1] == "could not upload"


def test_last_error_is_the_failing_step_without_an_exit_code() -> None:
    c = _run(["##[group]Run a", "##[error]first", "##[group]Run b", "##[error]second"])
    assert c.failing_step == "Run b"
    assert c.exit_code is None
    assert c.failing_command == "b"


def test_gh_run_view_steps_come_from_the_prefix() -> None:
    c = _run(
        [
            "build\tSet up job\t2024-05-01T00:00:00.0Z Current runner version: '2.317.0'",
            "build\tRun tests\t2024-05-01T00:00:01.0Z FAILED t.py::test_a",
            "build\tRun tests\t2024-05-01T00:00:02.0Z ##[error]Process completed with exit code 1.",
        ]
    )
    assert c.failing_step == "Run tests"
    assert c.context == ["FAILED t.py::test_a"]


def test_plain_output_has_no_step_and_the_excerpt_is_the_tail() -> None:
    c = _run([f"line {i}" for i in range(300)])
    assert c.failing_step is None
    assert c.failing_command is None
    assert c.excerpt_lines()[-1] == "line 299"
    assert len(c.excerpt_lines()) == 100


def test_real_gradle_log() -> None:
    c = LogCleaner()
    with open(LOGS / "gha-java-gradle-junit-failure.log", "rb") as f:
        lines = list(clean_lines(f, c))
    assert not any(ln.startswith("20") and "Z " in ln[:30] for ln in lines)
    assert not any("\x1b" in ln or "\r" in ln for ln in lines)
    assert c.failing_step == "Run ./gradlew build"
    assert c.failing_command == "./gradlew build"
    assert c.exit_code == 1
    assert any("testClassicParsing() FAILED" in ln for ln in c.context)


def test_real_full_job_log_fails_in_the_test_step() -> None:
    c = LogCleaner()
    with open(LOGS / "gha-pytorch-full-job-log-hf-offline.log", "rb") as f:
        for _ in clean_lines(f, c):
            pass
    assert len(c.errors) == 2
    assert c.failing_step is not None
    assert "mv" not in c.failing_step
    assert c.exit_code is not None


MEMORY_PROBE = """
import resource, sys
from sandbox_runner.logclean import LogCleaner, clean_lines

def lines():
    for i in range(1_000_000):
        if i % 50_000 == 0:
            yield f"2024-05-01T00:00:00.{i:07d}Z ##[group]Run step {i}"
            yield "2024-05-01T00:00:00.0000000Z ##[endgroup]"
        yield f"2024-05-01T00:00:00.{i % 10_000_000:07d}Z \\x1b[32mline {i}\\x1b[0m\\r progress {i}"
        if i % 100_000 == 99_999:
            yield f"2024-05-01T00:00:00.0000000Z ##[error]Process completed with exit code {i % 7 + 1}."

c = LogCleaner()
count = 0
for _ in clean_lines(lines(), c):
    count += 1
    if count == 20_000:
        early = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
late = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(count, early, late, c.failing_step)
"""


def test_memory_is_flat_over_a_million_lines() -> None:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE], capture_output=True, text=True, check=True, timeout=50
    ).stdout.split(maxsplit=3)
    count, early_kb, late_kb, failing = int(out[0]), int(out[1]), int(out[2]), out[3].strip()
    assert count > 1_000_000
    assert late_kb - early_kb < 4_000, (early_kb, late_kb)  # peak memory grows by < 4 MB over 50x the lines
    assert failing == "Run step 950000"
