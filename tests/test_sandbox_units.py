"""The sandbox runner's pure parts: which commands are pytest, the bounded output capture, the
environment allowlist, the confinement argv, the limits a run hit, candidate ids, the set-up key."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox_runner.capture import LINE_BYTES, TRUNCATION_MARK, OutputCapture
from sandbox_runner.cli_run import render_line
from sandbox_runner.confine import Isolation, Limits, build_argv, build_env, parse_user
from sandbox_runner.execute import decide_limits_hit
from sandbox_runner.proctree import Exit
from sandbox_runner.result import Outcome, PatchStatus, RunResult, TestOutcome
from sandbox_runner.run import candidate_ids
from sandbox_runner.setupenv import dependency_key
from sandbox_runner.testcmd import CollectedCounter, is_pytest, with_junit


@pytest.mark.parametrize(
    "command",
    [
        "pytest",
        "pytest -q tests/",
        "py.test -x",
        "python -m pytest -q",
        "python3 -m pytest",
        "python3.11 -m pytest tests/test_x.py::test_y",
        "/usr/bin/python3 -m pytest",
        ".venv/bin/pytest -n 4",
        "uv run pytest -q",
        "poetry run pytest",
        "PYTHONHASHSEED=0 pytest",
        "pytest -k 'not slow'",
    ],
)
def test_pytest_commands_get_junit(command: str) -> None:
    assert is_pytest(command)
    new, added = with_junit(command, "/tmp/a dir/junit.xml")
    assert added
    assert new == f"{command} --junitxml='/tmp/a dir/junit.xml'"


@pytest.mark.parametrize(
    "command",
    [
        "make test",
        "tox -e py311",
        "python -m unittest",
        "python -c 'import pytest'",
        "pytest | tee log",
        "pytest; echo done",
        "pytest && coverage report",
        "cd sub && pytest",
        "pytest $ARGS",
        "pytest 'unbalanced",
        "nox -s tests",
        "",
    ],
)
def test_other_commands_are_left_alone(command: str) -> None:
    assert not is_pytest(command)
    assert with_junit(command, "/tmp/j.xml") == (command, False)


def test_collected_counter_reads_pytests_line_once() -> None:
    counter = CollectedCounter()
    lines = [
        b"platform linux\n",
        b"collected 12 items / 2 deselected / 10 selected\n",
        b"collected 3 items\n",
    ]
    assert list(counter.watch(lines)) == lines
    assert counter.collected == 12


def test_capture_keeps_head_and_tail_and_marks_the_gap(tmp_path: Path) -> None:
    cap = OutputCapture(tmp_path / "spool", max_bytes=2000, tail_bytes=500)
    for i in range(1000):
        cap.feed(f"line {i:04}\n".encode())
    cap.close()
    assert cap.truncated
    assert cap.total == 10_000
    assert cap.head_size == 1500
    assert len(cap.tail()) == 500
    assert cap.tail().endswith(b"line 0999\n")
    lines = list(cap.lines())
    assert lines[0] == b"line 0000\n"
    assert any(TRUNCATION_MARK.format(n=10_000 - 2000).encode() in line for line in lines)
    head, tail = cap.excerpts(size=100)
    assert head.startswith("line 0000")
    assert len(head) == 100
    assert tail.endswith("line 0999\n")
    assert len(tail) == 100


def test_capture_of_short_output_does_not_repeat_itself(tmp_path: Path) -> None:
    cap = OutputCapture(tmp_path / "spool", max_bytes=1 << 20)
    cap.feed(b"a" * 150)
    cap.close()
    assert not cap.truncated
    head, tail = cap.excerpts(size=100)
    assert head == "a" * 100
    assert tail == "a" * 50  # only what the head does not hold
    assert cap.last(30) == b"a" * 30
    assert b"".join(cap.lines()) == b"a" * 150


def test_the_environment_is_an_allowlist(tmp_path: Path) -> None:
    parent = {
        "PATH": "/usr/bin:/bin",
        "LANG": "en_GB.UTF-8",
        "GITHUB_TOKEN": "ghs_x",
        "ANTHROPIC_API_KEY": "sk-ant-x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "HTTPS_PROXY": "http://proxy:3128",
        "PIP_INDEX_URL": "https://idx",
        "HOME": "/root",
        "PYTHONPATH": "/evil",
    }
    env = build_env(parent, home=tmp_path, venv=None, tree=None)
    assert set(env) == {
        "PATH", "LANG", "TZ", "HOME", "TMPDIR", "TMP", "TEMP", "TERM", "CI",
        "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "GIT_TERMINAL_PROMPT",
    }  # fmt: skip
    assert env["HOME"] == str(tmp_path)
    assert env["TMPDIR"] == str(tmp_path / "tmp")
    setup = build_env(parent, home=tmp_path, venv=tmp_path / "venv", tree=tmp_path / "tree", setup=True)
    assert setup["HTTPS_PROXY"] == "http://proxy:3128"
    assert setup["PIP_INDEX_URL"] == "https://idx"
    assert "GITHUB_TOKEN" not in setup
    assert "PYTHONPATH" not in setup  # set-up installs the tree; it does not import it
    run = build_env(parent, home=tmp_path, venv=tmp_path / "venv", tree=tmp_path / "tree")
    assert run["PATH"] == f"{tmp_path / 'venv' / 'bin'}:/usr/bin:/bin"
    assert run["VIRTUAL_ENV"] == str(tmp_path / "venv")
    assert run["PYTHONPATH"] == f"{tmp_path / 'tree' / 'src'}:{tmp_path / 'tree'}"
    assert "HTTPS_PROXY" not in run


FULL = Isolation(unshare="/usr/bin/unshare", network=True, pid=True)


def _argv(iso: Isolation, **kw: object) -> list[str]:
    options: dict[str, object] = {"isolate_network": True, "cgroup_dirs": [], "memory_in_cgroup": False}
    options.update(kw)
    return build_argv("pytest", iso, Limits(memory_mb=100, cpu_seconds=5), python="py", **options)  # type: ignore[arg-type]


def _between(argv: list[str], start: int) -> list[str]:
    return argv[start : argv.index("--", start)]


def test_argv_with_every_namespace() -> None:
    argv = _argv(FULL, cgroup_dirs=[Path("/cg/pids/x")], memory_in_cgroup=True)
    outer = _between(argv, 0)
    assert outer[:5] == ["py", "-I", outer[2], "--cgroup", "/cg/pids/x"]
    assert "cpu=5" in outer
    assert not any(o.startswith("as=") for o in outer)  # the memory cgroup holds memory
    assert outer[-2] == "--pdeathsig"
    unshare = argv.index("/usr/bin/unshare")
    assert _between(argv, unshare + 1) == ["--net", "--pid", "--fork", "--kill-child", "--mount-proc"]
    inner_start = argv.index("--", unshare) + 1
    assert _between(argv, inner_start)[3:] == ["--lo-up", "--init"]
    assert argv[-3:] == ["/bin/sh", "-c", "pytest"]


def test_argv_for_set_up_keeps_the_network_and_drops_the_user_after_the_loopback() -> None:
    setup = _argv(FULL, isolate_network=False)
    assert "--net" not in setup
    assert "--lo-up" not in setup
    dropped = _argv(FULL, user=(65534, 65534))
    inner = _between(dropped, dropped.index("--", dropped.index("/usr/bin/unshare")) + 1)
    assert inner[3:] == ["--lo-up", "--user", "65534:65534", "--pdeathsig", "0", "--init"]


def test_argv_without_namespaces_and_in_a_user_namespace() -> None:
    bare = _argv(Isolation(), user=(1000, 1000))
    assert "unshare" not in " ".join(bare)
    assert any(o.startswith("as=") for o in bare)
    assert bare.index("--user") < bare.index("--pdeathsig")  # a uid change would clear the death signal
    userns = _argv(Isolation(unshare="/usr/bin/unshare", user_ns=True, network=True, pid=False))
    assert _between(userns, userns.index("/usr/bin/unshare") + 1) == ["--user", "--map-root-user", "--net"]
    assert "--init" not in userns


def test_parse_user() -> None:
    assert parse_user("65534") == (65534, 65534)
    assert parse_user("1000:100") == (1000, 100)
    assert parse_user("root") == (0, 0)
    with pytest.raises(ValueError, match="no such user"):
        parse_user("no-such-user-here")


@pytest.mark.parametrize(
    ("code", "timed_out", "tail", "cgroup_hits", "expected"),
    [
        (0, False, b"ok", [], []),
        (152, False, b"", [], ["cpu"]),
        (153, False, b"", [], ["file_size"]),
        (1, False, b"OSError: [Errno 27] File too large", [], ["file_size"]),
        (1, False, b"MemoryError", [], ["memory"]),
        (137, False, b"", ["memory"], ["memory"]),
        (None, True, b"BlockingIOError: [Errno 11] Resource temporarily unavailable", [], ["processes"]),
        (None, True, b"", ["processes"], ["processes"]),
        (0, False, b"test_memoryerror_is_raised PASSED", [], []),  # words in a passing run are not hits
        (0, False, b"/bin/sh: 1: Cannot fork\ndone", [], ["processes"]),  # but a shell's fork failure is
    ],
)
def test_limits_hit(
    tmp_path: Path,
    code: int | None,
    timed_out: bool,
    tail: bytes,
    cgroup_hits: list[str],
    expected: list[str],
) -> None:
    cap = OutputCapture(tmp_path / "spool", max_bytes=1 << 20)
    cap.feed(tail)
    cap.close()
    assert decide_limits_hit(Exit(code, timed_out, 1.0), cap, cgroup_hits) == expected


def test_candidate_ids_are_plain_distinct_stems() -> None:
    assert candidate_ids((Path("a/fix-1.patch"), Path("b/fix_2.diff"))) == ["fix-1", "fix_2"]
    for bad in [(Path("baseline.patch"),), (Path("x/a.patch"), Path("y/a.patch")), (Path("a b.patch"),)]:
        with pytest.raises(ValueError, match=r"candidate id|same file stem"):
            candidate_ids(bad)


def test_dependency_key_follows_dependency_files_only(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("requests\n")
    (tmp_path / "app.py").write_text("print(1)\n")
    key = dependency_key(tmp_path, "pip install -r requirements.txt")
    (tmp_path / "app.py").write_text("print(2)\n")
    assert dependency_key(tmp_path, "pip install -r requirements.txt") == key
    assert dependency_key(tmp_path, "pip install -e .") != key
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "test.txt").write_text("pytest\n")
    assert dependency_key(tmp_path, "pip install -r requirements.txt") != key


def test_render_line() -> None:
    refused = RunResult("c1", PatchStatus(False, "forbidden path: .github/workflows/x.yml"), None, 0.0)
    assert render_line(refused) == "c1: patch refused: forbidden path: .github/workflows/x.yml"
    ran = RunResult(
        "baseline",
        None,
        1,
        2.5,
        tests=[TestOutcome("t::a", Outcome.FAILED), TestOutcome("t::b", Outcome.PASSED)],
        tests_source="junit",
        limits_hit=["output"],
    )
    assert render_line(ran) == "baseline: exit 1 in 2.5s, 2 tests (junit), 1 failed, limits hit: output"
    assert render_line(RunResult("c2", None, None, 9.0, timed_out=True)) == "c2: timed out in 9.0s"


def test_the_parsers_read_a_bounded_head_then_the_tail(tmp_path: Path) -> None:
    cap = OutputCapture(tmp_path / "spool", max_bytes=1 << 20, tail_bytes=100)
    for i in range(1000):
        cap.feed(f"line {i:04}\n".encode())  # 10 bytes each; 10 kB in all, all kept
    cap.close()
    lines = list(cap.lines(head_bytes=50))
    assert lines[:5] == [f"line {i:04}\n".encode() for i in range(5)]
    assert lines[5] == b"\n" + TRUNCATION_MARK.format(n=10_000 - 50 - 100).encode() + b"\n"
    assert lines[-1] == b"line 0999\n"
    assert len(lines) == 5 + 1 + 10


def test_a_huge_line_reaches_the_parsers_in_pieces(tmp_path: Path) -> None:
    cap = OutputCapture(tmp_path / "spool", max_bytes=8 << 20)
    cap.feed(b"x" * (LINE_BYTES * 3 + 5) + b"\nend\n")
    cap.close()
    lines = list(cap.lines())
    assert [len(line) for line in lines] == [LINE_BYTES, LINE_BYTES, LINE_BYTES, 6, 4]
    assert b"".join(lines) == b"x" * (LINE_BYTES * 3 + 5) + b"\nend\n"
