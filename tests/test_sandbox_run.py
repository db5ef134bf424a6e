"""`python -m sandbox_runner run` end to end on small git repositories: clean trees, patches (applied,
refused, failing to apply), per-test outcomes from JUnit XML or parsed output, tampering candidates,
parallel runs, and the set-up environment built once per dependency hash."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from sandbox_runner.result import Outcome
from tests.sandbox_support import (
    PYTHON,
    make_patch,
    make_repo,
    raw_result,
    result,
    run_runner,
    runner_argv,
    runner_env,
)

PYTEST = f"{PYTHON} -m pytest -q -p no:cacheprovider -p no:randomly"
NO_PIP = ("--venv-without-pip",)  # ensurepip takes seconds; only the heavy test needs pip
CALC = "def add(a, b):\n    return a - b\n"
TESTS = (
    "from calc import add\n\n\n"
    "def test_add():\n    assert add(2, 3) == 5\n\n\n"
    "def test_zero():\n    assert add(0, 0) == 0\n"
)
# pytest's rootdir conftest puts the repo on sys.path; pyproject keeps the asyncio plugin quiet
FILES = {
    "calc.py": CALC,
    "tests/test_calc.py": TESTS,
    "conftest.py": "",
    "pyproject.toml": '[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n',
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", FILES)


def test_baseline_and_a_fix_give_per_test_outcomes_from_junit(repo: Path, tmp_path: Path) -> None:
    fix = make_patch(repo, tmp_path / "fix.patch", {"calc.py": "def add(a, b):\n    return a + b\n"})
    out = tmp_path / "out"
    proc = run_runner(repo, PYTEST, out, "--patch", str(fix))
    base, cand = result(out), result(out, "fix")
    assert base.tests_source == "junit"
    assert base.exit_code == 1
    assert base.outcome_of("tests/test_calc.py::test_add") is Outcome.FAILED
    assert base.outcome_of("tests/test_calc.py::test_zero") is Outcome.PASSED
    assert base.patch is None
    assert base.report is not None
    assert "tests/test_calc.py::test_add" in base.report["failing_tests"]
    assert cand.patch is not None
    assert cand.patch.applied
    assert cand.patch.files == ["calc.py"]
    assert cand.exit_code == 0
    assert cand.report is None
    assert {t.outcome for t in cand.tests} == {Outcome.PASSED}
    assert cand.collected == 2
    assert "fix: exit 0" in proc.stdout
    assert (repo / "calc.py").read_text() == CALC  # the checkout itself is never touched
    assert (
        subprocess.run(
            ["git", "-C", str(repo), "worktree", "list"], capture_output=True, text=True
        ).stdout.count("\n")
        == 1
    )  # and every temporary worktree is gone


def test_a_refused_patch_is_not_run(repo: Path, tmp_path: Path) -> None:
    ran = tmp_path / "ran.txt"
    (repo / "who.txt").write_text("baseline\n")
    subprocess.run(["git", "-C", str(repo), "add", "who.txt"], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "who"]
    )
    evil = make_patch(
        repo, tmp_path / "evil.patch", {"who.txt": "evil\n", ".github/workflows/ci.yml": "on: push\n"}
    )
    good = make_patch(repo, tmp_path / "good.patch", {"who.txt": "good\n"})
    out = tmp_path / "out"
    run_runner(repo, f"cat who.txt >> {ran}", out, "--patch", str(evil), "--patch", str(good))
    refused = raw_result(out, "evil")
    assert refused["patch"]["applied"] is False
    assert ".github/workflows/ci.yml" in refused["patch"]["reason"]
    assert refused["exit_code"] is None
    assert refused["log_head"] == ""
    assert refused["duration_s"] == 0.0
    assert sorted(ran.read_text().split()) == ["baseline", "good"]


def test_forbid_adds_to_the_guards_paths_and_a_patch_that_does_not_apply_says_why(
    repo: Path, tmp_path: Path
) -> None:
    docs = make_patch(repo, tmp_path / "docs.patch", {"docs/x.md": "x\n"})
    stale = tmp_path / "stale.patch"
    stale.write_text(
        "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n"
        " def add(x, y):\n-    return x * y\n+    return x + y\n"
    )
    out = tmp_path / "out"
    run_runner(repo, "true", out, "--patch", str(docs), "--patch", str(stale), "--forbid", "docs/**")
    assert "docs/x.md" in (result(out, "docs").patch.reason or "")  # type: ignore[union-attr]
    stale_patch = result(out, "stale").patch
    assert stale_patch is not None
    assert not stale_patch.applied
    assert (stale_patch.reason or "").startswith("git apply:")


@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        (
            "delete",
            {"tests/test_calc.py": TESTS.split("def test_add")[0] + "def test_zero():\n    pass\n"},
            None,
        ),
        (
            "skip",
            {
                "tests/test_calc.py": "import pytest\n"
                + TESTS.replace("def test_add", "@pytest.mark.skip\ndef test_add")
            },
            Outcome.SKIPPED,
        ),
        (
            "xfail",
            {
                "tests/test_calc.py": "import pytest\n"
                + TESTS.replace("def test_add", "@pytest.mark.xfail\ndef test_add")
            },
            Outcome.XFAILED,
        ),
    ],
)
def test_tampering_candidates_show_as_such_in_their_outcomes(
    repo: Path, tmp_path: Path, name: str, change: dict[str, str], expected: Outcome | None
) -> None:
    patch = make_patch(repo, tmp_path / f"{name}.patch", change)
    out = tmp_path / "out"
    run_runner(repo, PYTEST, out, "--patch", str(patch), "--failing", "tests/test_calc.py::test_add")
    r = result(out, name)
    assert r.patch is not None
    assert r.patch.applied
    assert r.exit_code == 0
    assert r.outcome_of("tests/test_calc.py::test_add") is expected
    assert r.outcome_of("tests/test_calc.py::test_add") is not Outcome.PASSED
    summary = json.loads((out / "summary.json").read_text())
    (verdict,) = summary["verdicts"]
    assert verdict["candidate_id"] == name
    assert verdict["proven"] is False
    assert verdict["tampering"]
    assert summary["chosen"] is None
    assert summary["baseline"] == {"tests/test_calc.py::test_add": "failed"}


def test_summary_chooses_the_proven_fix(repo: Path, tmp_path: Path) -> None:
    fix = make_patch(repo, tmp_path / "fix.patch", {"calc.py": "def add(a, b):\n    return a + b\n"})
    skip = make_patch(
        repo,
        tmp_path / "skip.patch",
        {
            "tests/test_calc.py": "import pytest\n"
            + TESTS.replace("def test_add", "@pytest.mark.skip\ndef test_add")
        },
    )
    out = tmp_path / "out"
    failing = "tests/test_calc.py::test_add"
    run_runner(
        repo, PYTEST, out, "--patch", str(fix), "--patch", str(skip), "--failing", failing, "--parallel", "2"
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["chosen"] == "fix"
    verdicts = {v["candidate_id"]: v for v in summary["verdicts"]}
    assert verdicts["fix"]["fixed"] == [failing]
    assert "skipped" in verdicts["skip"]["reason"]


def test_other_commands_are_read_by_the_output_parsers(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    # a script around pytest: no --junitxml can be added, so the output is parsed
    run_runner(repo, f"{PYTEST} > log 2>&1; status=$?; cat log; exit $status", out)
    r = result(out)
    assert r.tests_source == "parsed"
    assert r.exit_code == 1
    assert [(t.id, t.outcome) for t in r.tests] == [("tests/test_calc.py::test_add", Outcome.FAILED)]
    assert r.report is not None
    assert r.report["failure_class"] == "test_failure"
    assert r.collected is None  # -q prints no "collected N items"


def test_candidates_run_in_parallel_each_in_its_own_tree(repo: Path, tmp_path: Path) -> None:
    patches = []
    for i in range(3):
        patches += ["--patch", str(make_patch(repo, tmp_path / f"c{i}.patch", {f"mark{i}.txt": f"{i}\n"}))]
    out, meet = tmp_path / "out", tmp_path / "meet"
    meet.mkdir()
    # each run sees only its own patch's file; then waits (up to 20 s) until all four have arrived,
    # which only happens when they run at the same time
    wait = f"i=0; while [ $(ls {meet} | wc -l) -lt 4 ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done"
    command = f"ls mark*.txt 2>/dev/null; mktemp -p {meet} > /dev/null; {wait}; echo met $(ls {meet} | wc -l)"
    run_runner(repo, command, out, "--parallel", "4", *patches)
    for i in range(3):
        assert result(out, f"c{i}").log_head.split() == [f"mark{i}.txt", "met", "4"]
    assert result(out).log_head.split() == ["met", "4"]


def test_the_setup_environment_is_built_once_per_dependency_hash(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"requirements.txt": "# nothing yet\n", "t.py": "print('ok')\n"})
    builds = tmp_path / "builds"
    setup = f'echo built >> {builds}; echo "$VIRTUAL_ENV" > "$VIRTUAL_ENV/where"'
    command = 'python -c "import sys; print(sys.prefix)"; cat "$VIRTUAL_ENV/where"'
    cache = tmp_path / "cache"
    for i in range(2):
        run_runner(repo, command, tmp_path / f"out{i}", "--setup", setup, "--cache", str(cache), *NO_PIP)
    first, second = result(tmp_path / "out0"), result(tmp_path / "out1")
    assert builds.read_text().count("built") == 1
    assert first.setup is not None
    assert first.setup["cached"] is False
    assert first.setup["exit_code"] == 0
    assert second.setup is not None
    assert second.setup["cached"] is True
    prefix, where = second.log_head.split()
    assert prefix == where
    assert prefix.startswith(str(cache))
    # a changed dependency file is a new environment
    (repo / "requirements.txt").write_text("# one more\n")
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "deps"]
    )
    run_runner(repo, command, tmp_path / "out2", "--setup", setup, "--cache", str(cache), *NO_PIP)
    assert builds.read_text().count("built") == 2


def test_a_failed_setup_is_reported_and_the_command_is_not_run(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_runner(repo, f"touch {tmp_path / 'ran'}", out, "--setup", "echo cannot install; exit 3", *NO_PIP)
    r = result(out)
    assert r.setup is not None
    assert r.setup["exit_code"] == 3
    assert "cannot install" in r.setup["log_tail"]
    assert r.exit_code is None
    assert not (tmp_path / "ran").exists()


def test_bad_arguments_exit_2_with_a_message(repo: Path, tmp_path: Path) -> None:
    twin = tmp_path / "a" / "x.patch", tmp_path / "b" / "x.patch"
    for p in twin:
        p.parent.mkdir()
        p.write_text("")
    proc = subprocess.run(
        runner_argv(repo, "true", tmp_path / "out", "--patch", str(twin[0]), "--patch", str(twin[1])),
        env=runner_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "same file stem" in proc.stderr
    not_a_repo = subprocess.run(
        runner_argv(tmp_path, "true", tmp_path / "out"), env=runner_env(), capture_output=True
    )
    assert not_a_repo.returncode == 2


@pytest.mark.heavy
def test_a_real_pip_install_is_reused_and_the_patched_source_wins_over_the_installed_copy(
    tmp_path: Path,
) -> None:
    """Set-up installs the project (not editable) into the cached venv; each run imports its own tree."""
    repo = make_repo(
        tmp_path / "repo",
        {
            "pyproject.toml": '[project]\nname = "mylib"\nversion = "1"\n[build-system]\n'
            'requires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n',
            "src/mylib/__init__.py": "VALUE = 'installed'\n",
        },
    )
    patch = make_patch(repo, tmp_path / "new.patch", {"src/mylib/__init__.py": "VALUE = 'patched'\n"})
    setup = "pip install -q ."  # with the network: build isolation fetches setuptools
    command = 'python -c "import mylib; print(mylib.VALUE)"'
    out = tmp_path / "out"
    run_runner(
        repo, command, out, "--setup", setup, "--cache", str(tmp_path / "cache"), "--patch", str(patch)
    )
    base, new = result(out), result(out, "new")
    assert base.setup is not None
    assert base.setup["exit_code"] == 0, base.setup
    assert base.log_head.strip() == "installed"
    assert new.log_head.strip() == "patched"


def test_without_namespaces_or_cgroup_it_still_runs_and_says_so(repo: Path, tmp_path: Path) -> None:
    """Where the host is the sandbox (a disposable CI runner), or unshare is not allowed."""
    out = tmp_path / "out"
    run_runner(repo, PYTEST, out, "--no-namespaces", "--no-cgroup")
    r = result(out)
    assert r.tests_source == "junit"
    assert r.outcome_of("tests/test_calc.py::test_add") is Outcome.FAILED
    assert r.isolation["network"] is False
    assert r.isolation["pid"] is False
    assert r.isolation["cgroup"] is False
    assert r.isolation["env_scrubbed"] is True


def test_a_fix_that_shrinks_the_collected_set_is_tampering(tmp_path: Path) -> None:
    other = "def test_other():\n    assert True\n"
    repo = make_repo(tmp_path / "repo", {**FILES, "tests/test_other.py": other})
    fixed = {"calc.py": "def add(a, b):\n    return a + b\n"}
    shrink = make_patch(
        repo, tmp_path / "shrink.patch", {**fixed, "conftest.py": 'collect_ignore = ["tests"]\n'}
    )
    shrink_one = make_patch(
        repo, tmp_path / "hide.patch", {**fixed, "conftest.py": 'collect_ignore = ["tests/test_other.py"]\n'}
    )
    out = tmp_path / "out"
    failing = "tests/test_calc.py::test_add"
    run_runner(repo, PYTEST, out, "--patch", str(shrink), "--patch", str(shrink_one), "--failing", failing)
    assert result(out).collected == 3
    assert result(out, "hide").collected == 2
    assert result(out, "hide").outcome_of(failing) is Outcome.PASSED  # it did fix the test, and yet
    verdicts = {v["candidate_id"]: v for v in json.loads((out / "summary.json").read_text())["verdicts"]}
    assert verdicts["hide"]["proven"] is False
    assert verdicts["hide"]["tampering"]
    assert verdicts["shrink"]["proven"] is False


def test_two_runners_sharing_a_cache_build_the_environment_once(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"requirements.txt": "# none\n"})
    builds, cache = tmp_path / "builds", tmp_path / "cache"
    setup = f"sleep 1; echo built >> {builds}"
    argvs = [
        runner_argv(repo, "true", tmp_path / f"out{i}", "--setup", setup, "--cache", str(cache), *NO_PIP)
        for i in range(2)
    ]
    procs = [subprocess.Popen(argv, env=runner_env(), stdout=subprocess.DEVNULL) for argv in argvs]
    assert [p.wait(timeout=50) for p in procs] == [0, 0]
    assert builds.read_text().count("built") == 1
    cached = sorted(bool(result(tmp_path / f"out{i}").setup["cached"]) for i in range(2))  # type: ignore[index]
    assert cached == [False, True]


FORGER = """import re


def pytest_sessionfinish(session, exitstatus):
    session.exitstatus = 0  # "green"


def pytest_unconfigure(config):  # and a JUnit XML without the failure
    path = config.option.xmlpath
    if path:
        with open(path) as f:
            text = f.read()
        text = re.sub(r"<failure.*?</failure>", "", text, flags=re.S)
        with open(path, "w") as f:
            f.write(re.sub(r'failures="\\\\d+"', 'failures="0"', text))
"""


def test_a_test_the_output_shows_failing_is_failed_whatever_the_junit_xml_says(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {**FILES, "conftest.py": FORGER})
    out = tmp_path / "out"
    run_runner(repo, PYTEST, out)
    r = result(out)
    assert r.exit_code == 0  # the forger's work
    assert r.tests_source == "junit"
    add = next(t for t in r.tests if t.id == "tests/test_calc.py::test_add")
    assert add.outcome is Outcome.FAILED
    assert add.message == "passed in the JUnit XML, failed in the output"
    assert r.outcome_of("tests/test_calc.py::test_zero") is Outcome.PASSED
