"""The run-time tracer (`sandbox_runner/autofix_trace.py`): real pytest runs of a tiny project with the
plugin loaded, in a subprocess, and the runner's `--trace` end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sandbox_runner.autofix_trace import MAX_TESTS, serialise
from sandbox_runner.result import RunResult
from sandbox_runner.testcmd import with_trace
from sandbox_runner.tracefile import PLUGIN, merge, read_trace, trace_env
from tests.sandbox_support import PYTHON, make_repo, result, run_runner

PROJECT = {
    "pkg/__init__.py": "",
    "pkg/m.py": (
        "def add(a, b):\n"
        "    return _norm(a) + _norm(b)\n"
        "\n\n"
        "def _norm(x):\n"
        "    return int(x)\n"
        "\n\n"
        "class Box:\n"
        "    def __init__(self, v):\n"
        "        self.v = v\n"
        "\n"
        "    @property\n"
        "    def double(self):\n"
        "        return self.v * 3\n"
        "\n"
        "    def __repr__(self):\n"
        "        return f'Box({self.v})'\n"
        "\n"
        "    def make(self):\n"
        "        def inner():\n"
        "            return self.v\n"
        "\n"
        "        return inner\n"
        "\n\n"
        "def table():\n"
        "    return {'a': 1}\n"
        "\n\n"
        "TABLE = table()\n"
    ),
    "tests/test_m.py": (
        "from pkg.m import Box, add\n\n\n"
        "def test_add():\n    assert add(1, 2) == 3\n\n\n"
        "def test_box():\n    assert Box(2).double == 4\n\n\n"
        "def test_inner():\n    assert Box(3).make()() == 3\n\n\n"
        "def test_add_again():\n    assert add('4', 1) == 5\n\n\n"
        "def test_repr():\n    assert repr(Box(1)) == 'Box(1)'\n"
    ),
    "pytest.ini": "[pytest]\n",
}


def run_traced(project: Path, out: Path, *args: str) -> tuple[int, dict[str, Any]]:
    out.parent.mkdir(parents=True, exist_ok=True)
    env = trace_env(out.parent, project, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    env["PYTHONPATH"] += f":{project}"
    env["AUTOFIX_TRACE_OUT"] = str(out)
    done = subprocess.run(
        [
            PYTHON,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-p",
            "autofix_trace",
            *args,
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    trace = read_trace(out)
    assert trace is not None, done.stdout + done.stderr
    return done.returncode, trace


def covered(trace: dict[str, Any]) -> dict[str, tuple[str, set[tuple[str, str]]]]:
    table = trace["functions"]
    return {
        t["id"]: (t["outcome"], {(table[i][0], table[i][1]) for i in t["functions"]}) for t in trace["tests"]
    }


def write(where: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        (where / name).write_text(text)
    return where


def test_each_test_lists_the_project_functions_it_ran(tmp_path: Path) -> None:
    project = write(tmp_path / "proj", PROJECT)
    code, trace = run_traced(project, tmp_path / "home" / "trace.json")
    assert code == 1
    tests = covered(trace)
    m, t = "pkg/m.py", "tests/test_m.py"
    assert tests["tests/test_m.py::test_add"] == ("passed", {(m, "add"), (m, "_norm"), (t, "test_add")})
    # pytest's explanation of the failure ran Box.__repr__ (`where 6 = Box(2).double`): not the test
    assert tests["tests/test_m.py::test_box"] == (
        "failed",
        {(m, "Box.__init__"), (m, "Box.double"), (t, "test_box")},
    )
    assert tests["tests/test_m.py::test_repr"][1] == {
        (m, "Box.__init__"),
        (m, "Box.__repr__"),
        (t, "test_repr"),
    }
    assert tests["tests/test_m.py::test_inner"][1] == {
        (m, "Box.__init__"),
        (m, "Box.make"),
        (m, "Box.make.<locals>.inner"),
        (t, "test_inner"),
    }
    # every test counts afresh: add and _norm ran in an earlier test too
    assert tests["tests/test_m.py::test_add_again"][1] == {(m, "add"), (m, "_norm"), (t, "test_add_again")}
    outside = {tuple(trace["functions"][i][:2]) for i in trace["outside"]}
    assert (m, "table") in outside  # run at import, during collection: no test's
    assert all(not f[0].startswith("/") for f in trace["functions"])  # relative to the root
    first_lines = {(f[0], f[1]): f[2] for f in trace["functions"]}
    assert first_lines[(m, "Box.double")] == 13  # the decorator's line, as `outline` starts a function
    assert trace["truncated"] is False


def test_files_outside_the_root_and_in_a_venv_are_left_out(tmp_path: Path) -> None:
    project = write(tmp_path / "proj", PROJECT)
    write(project, {".venv/lib/site-packages/dep.py": "def helper():\n    return 1\n"})
    write(tmp_path, {"elsewhere/other.py": "def far():\n    return 2\n"})
    (project / "tests" / "test_m.py").write_text(
        "import sys\n"
        f"sys.path[:0] = [{str(project / '.venv/lib/site-packages')!r}, {str(tmp_path / 'elsewhere')!r}]\n"
        "import dep, other\n\n\n"
        "def test_both():\n    assert dep.helper() + other.far() == 3\n"
    )
    _, trace = run_traced(project, tmp_path / "home" / "trace.json")
    assert covered(trace)["tests/test_m.py::test_both"][1] == {("tests/test_m.py", "test_both")}


def test_the_trace_of_python_3_12_comes_from_sys_monitoring(tmp_path: Path) -> None:
    """The Tracer itself, without pytest, in a 3.12+ interpreter when there is one."""
    newer = [
        p
        for p in [
            shutil.which("python3.13"),
            shutil.which("python3.12"),
            *sorted(Path.home().glob(".pyenv/versions/3.1[2-9]*/bin/python3")),
        ]
        if p
        and subprocess.run(
            [p, "-c", "import sys; assert sys.version_info >= (3, 12)"], capture_output=True
        ).returncode
        == 0
    ]
    if sys.version_info < (3, 12) and not newer:
        pytest.skip("no Python 3.12+ here")
    project = write(tmp_path / "proj", PROJECT)
    fake = write(
        tmp_path / "fake",
        {
            "_pytest/__init__.py": "",
            "_pytest/assertion/__init__.py": "",
            "_pytest/assertion/util.py": "def explain(x):\n    return repr(x)\n",
        },
    )
    script = (
        "import sys, autofix_trace as a\n"
        "t = a.Tracer(sys.argv[1]); t.start()\n"
        "from pkg.m import add, Box\n"
        "t.take()\n"
        "add(1, 2); first = t.take()\n"
        "add(1, 2); Box(1).make()(); second = t.take()\n"
        "from _pytest.assertion import util\n"
        "util.explain(Box(2)); reported = t.take()\n"
        "assert t._tool is not None  # sys.monitoring, not settrace\n"
        "t.stop()\n"
        "for found in (first, second, reported):\n"
        "    print(sorted(n for _, n, _ in found))\n"
    )
    python = sys.executable if sys.version_info >= (3, 12) else str(newer[0])
    done = subprocess.run(
        [python, "-c", script, str(project)],
        env={"PYTHONPATH": f"{PLUGIN.parent}:{project}:{fake}"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.splitlines() == [
        "['_norm', 'add']",
        "['Box.__init__', 'Box.make', 'Box.make.<locals>.inner', '_norm', 'add']",
        "['Box.__init__']",  # Box.__repr__ ran for pytest's failure report, not for the test
    ]


def test_serialise_keeps_the_failing_tests_first_within_the_cap() -> None:
    key = ("m.py", "f", 1)
    tests = [(f"t{i}", "passed", {key}) for i in range(MAX_TESTS)] + [("bad", "failed", {("m.py", "g", 5)})]
    data = serialise(tests)
    assert data["truncated"] is True
    assert len(data["tests"]) == MAX_TESTS
    assert any(t["id"] == "bad" for t in data["tests"])
    assert data["functions"][data["tests"][-1]["functions"][0]] == ["m.py", "g", 5]


def test_merge_renumbers_the_second_trace_into_the_first() -> None:
    a = {
        "version": 1,
        "functions": [["m.py", "f", 1]],
        "tests": [{"id": "a", "outcome": "passed", "functions": [0]}],
        "outside": [],
        "truncated": False,
    }
    b = {
        "version": 1,
        "functions": [["m.py", "g", 5], ["m.py", "f", 1]],
        "tests": [{"id": "b", "outcome": "failed", "functions": [0, 1]}],
        "outside": [0],
        "truncated": False,
    }
    merged = merge(a, b)
    assert merged["functions"] == [["m.py", "f", 1], ["m.py", "g", 5]]
    assert merged["tests"][1]["functions"] == [1, 0]
    assert merged["outside"] == [1]


def test_with_trace_is_for_pytest_only() -> None:
    assert with_trace("python -m pytest -q tests") == ("python -m pytest -q tests -p autofix_trace", True)
    assert with_trace("make test") == ("make test", False)


def test_coverage_round_trips_and_an_older_result_has_none() -> None:
    run = RunResult(candidate_id="baseline", patch=None, exit_code=1, duration_s=1.0, coverage={"version": 1})
    assert RunResult.from_json(json.loads(json.dumps(run.to_json()))).coverage == {"version": 1}
    old = run.to_json()
    del old["coverage"]
    assert RunResult.from_json(old).coverage is None


def test_the_runner_traces_a_pytest_run_when_asked(tmp_path: Path) -> None:
    files = {k: v for k, v in PROJECT.items() if k != "pytest.ini"} | {"conftest.py": ""}
    files["pyproject.toml"] = '[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n'
    repo = make_repo(tmp_path / "repo", files)
    command = f"{PYTHON} -m pytest -q -p no:cacheprovider -p no:randomly"
    out = tmp_path / "out"
    run_runner(repo, command, out, "--venv-without-pip", "--trace")
    base = result(out)
    assert base.coverage is not None
    tests = covered(base.coverage)
    assert tests["tests/test_m.py::test_box"] == (
        "failed",
        {("pkg/m.py", "Box.__init__"), ("pkg/m.py", "Box.double"), ("tests/test_m.py", "test_box")},
    )
    run_runner(repo, command, tmp_path / "plain", "--venv-without-pip")
    assert result(tmp_path / "plain").coverage is None  # opt-in


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12+ traces with sys.monitoring, beside settrace")
def test_a_coverage_tool_tracing_already_keeps_priority(tmp_path: Path) -> None:
    """Under 3.11 a coverage tool's trace function (set here by a conftest, as pytest-cov's starts
    before plugins are configured) is left alone: no trace, and the run is what it would be."""
    project = write(tmp_path / "proj", PROJECT)
    (project / "conftest.py").write_text(
        "import sys\n\n\ndef other(frame, event, arg):\n    return None\n\n\nsys.settrace(other)\n"
    )
    out = tmp_path / "home" / "trace.json"
    out.parent.mkdir()
    env = trace_env(out.parent, project, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    env["PYTHONPATH"] += f":{project}"
    env["AUTOFIX_TRACE_OUT"] = str(out)
    done = subprocess.run(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "autofix_trace"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "1 failed, 4 passed" in done.stdout
    assert read_trace(out) is None
