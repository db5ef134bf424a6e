"""The model's tools: confinement to the workspace, text-editor semantics, capped search, and the schema
check that turns malformed input into an error result."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.patch.provider import ToolCall
from jobs.patch.tools import MAX_MATCHES, MAX_VIEW_LINES, ToolError, Workspace, run_tool
from tests.patch_support import STATS, make_repo


def run(ws: Workspace, name: str, **args: Any) -> tuple[str, bool]:
    result = run_tool(ws, ToolCall("toolu_1", name, args))
    return result.text, result.is_error


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    repo = tmp_path / "repo"
    repo.mkdir()
    make_repo(repo, {".env": "API_TOKEN=hunter2-from-the-repo\n", "deploy/id_rsa": "-----BEGIN KEY"})
    outside = tmp_path / "outside.txt"
    outside.write_text("outside the workspace\n")
    os.symlink(outside, repo / "escape.txt")
    os.symlink("/proc/self/environ", repo / "environ")
    os.symlink("calc", repo / "inner")
    os.symlink(tmp_path, repo / "up")
    return Workspace(repo)


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/etc/passwd", "use a path relative to the repository root"),
        ("/proc/self/environ", "use a path relative to the repository root"),
        ("../outside.txt", "'..' is not allowed"),
        ("calc/../../outside.txt", "'..' is not allowed"),
        ("escape.txt", "symbolic links are not followed"),
        ("environ", "symbolic links are not followed"),
        ("inner/stats.py", "symbolic links are not followed"),
        ("up/outside.txt", "symbolic links are not followed"),
        (".git/config", ".git is not part of the workspace"),
        ("calc/.git/hooks/pre-commit", ".git is not part of the workspace"),
        (".env", "secret-looking files are not shown or edited"),
        ("deploy/id_rsa", "secret-looking files are not shown or edited"),
        ("calc\\stats.py", "invalid path"),
        ("calc/stats.py\0", "invalid path"),
        ("", "invalid path"),
    ],
)
def test_paths_outside_the_workspace_are_refused_for_every_command(
    ws: Workspace, path: str, said: str
) -> None:
    for name, args in [
        ("editor", {"command": "view", "path": path}),
        ("editor", {"command": "create", "path": path, "file_text": "x"}),
        ("editor", {"command": "str_replace", "path": path, "old_str": "a", "new_str": "b"}),
        ("editor", {"command": "insert", "path": path, "insert_line": 0, "new_str": "x"}),
        ("search", {"pattern": "x", "path": path}),
    ]:
        if name == "search" and not path:
            continue  # an empty search path means the whole workspace
        text, is_error = run(ws, name, **args)
        assert is_error, (name, args)
        assert said in text
    assert (ws.root.parent / "outside.txt").read_text() == "outside the workspace\n"


def test_view_numbers_lines_and_honours_a_range(ws: Workspace) -> None:
    text, is_error = run(ws, "editor", command="view", path="calc/stats.py")
    assert not is_error
    assert text == "     1\tdef mean(values):\n     2\t    return sum(values) / (len(values) + 1)"
    assert run(ws, "editor", command="view", path="calc/stats.py", view_range=[2, -1])[0].startswith(
        "     2\t"
    )
    assert run(ws, "editor", command="view", path="calc/stats.py", view_range=[9, 10])[1]


def test_view_of_a_long_file_is_cut_with_a_note(ws: Workspace) -> None:
    (ws.root / "big.py").write_text("".join(f"x{n} = {n}\n" for n in range(1000)))
    text, _ = run(ws, "editor", command="view", path="big.py")
    assert text.count("\n") == MAX_VIEW_LINES
    assert text.endswith(f"[showing lines 1-{MAX_VIEW_LINES} of 1000; use view_range for more]")


def test_a_directory_view_lists_files_without_git_links_or_secrets(ws: Workspace) -> None:
    text, _ = run(ws, "editor", command="view", path=".")
    assert text.splitlines() == ["calc/__init__.py", "calc/stats.py", "tests/test_stats.py"]


def test_str_replace_needs_exactly_one_occurrence(ws: Workspace) -> None:
    assert run(ws, "editor", command="str_replace", path="calc/stats.py", old_str="nope", new_str="x") == (
        "Error: no replacement made: old_str did not appear verbatim in calc/stats.py",
        True,
    )
    text, is_error = run(
        ws, "editor", command="str_replace", path="calc/stats.py", old_str="values", new_str="v"
    )
    assert is_error
    assert "appears 3 times" in text
    assert (ws.root / "calc/stats.py").read_text() == STATS
    ok = run(ws, "editor", command="str_replace", path="calc/stats.py", old_str=" + 1)", new_str=")")
    assert ok == ("edited calc/stats.py at line 2", False)
    assert (
        ws.root / "calc/stats.py"
    ).read_text() == "def mean(values):\n    return sum(values) / (len(values))\n"


def test_insert_and_create(ws: Workspace) -> None:
    assert run(
        ws, "editor", command="insert", path="calc/stats.py", insert_line=0, new_str="import math"
    ) == (
        "inserted after line 0 of calc/stats.py",
        False,
    )
    assert (ws.root / "calc/stats.py").read_text().startswith("import math\ndef mean")
    assert run(ws, "editor", command="insert", path="calc/stats.py", insert_line=99, new_str="x")[1]
    assert run(
        ws, "editor", command="create", path="calc/new/median.py", file_text="def median(): ...\n"
    ) == (
        "created calc/new/median.py",
        False,
    )
    assert (ws.root / "calc/new/median.py").read_text() == "def median(): ...\n"
    assert run(ws, "editor", command="create", path="huge.txt", file_text="x" * 300_000)[1]


def test_search_is_a_capped_regex_over_workspace_files(ws: Workspace) -> None:
    assert run(ws, "search", pattern=r"def \w+\(") == (
        "calc/stats.py:1: def mean(values):\ntests/test_stats.py:4: def test_mean():",
        False,
    )
    assert run(ws, "search", pattern="mean", glob="tests/*")[0] == (
        "tests/test_stats.py:1: from calc.stats import mean\n"
        "tests/test_stats.py:4: def test_mean():\n"
        "tests/test_stats.py:5: assert mean([1, 2, 3]) == 2"
    )
    assert run(ws, "search", pattern="hunter2") == ("no matches", False)  # .env is not searched
    assert run(ws, "search", pattern="outside the workspace") == ("no matches", False)  # nor links
    (ws.root / "many.txt").write_text("hit\n" * 200)
    text, _ = run(ws, "search", pattern="hit")
    assert text.count("many.txt:") == MAX_MATCHES
    assert text.endswith("narrow the search]")


@pytest.mark.parametrize("pattern", ["(a+)+$", "(x*)*y", "[", "a" * 300])
def test_search_refuses_bad_and_catastrophic_patterns(ws: Workspace, pattern: str) -> None:
    text, is_error = run(ws, "search", pattern=pattern)
    assert is_error
    assert "invalid regular expression" in text or "nested quantifiers" in text


def test_output_is_redacted(ws: Workspace) -> None:
    (ws.root / "settings.py").write_text('GITHUB_TOKEN = "ghp_' + "a" * 36 + '"\n')
    text, _ = run(ws, "editor", command="view", path="settings.py")
    assert "ghp_" not in text
    assert "[REDACTED]" in text


def test_submit_diagnosis_is_the_only_result_carrying_a_diagnosis(ws: Workspace) -> None:
    fields = {
        "root_cause": "r",
        "where": "w",
        "why_fix_is_right": "y",
        "not_covered": "n",
        "test_is_wrong": True,
    }
    result = run_tool(ws, ToolCall("t", "submit_diagnosis", fields))
    assert result.diagnosis is not None
    assert result.diagnosis.test_is_wrong
    bad = run_tool(ws, ToolCall("t", "submit_diagnosis", fields | {"test_is_wrong": "yes"}))
    assert bad.diagnosis is None
    assert bad.text == "Error: submit_diagnosis: test_is_wrong must be boolean"
    assert run_tool(ws, ToolCall("t", "editor", None, raw="[1, 2]")).text.startswith(
        "Error: the input to editor was not"
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    st.lists(
        st.sampled_from(["..", ".", "calc", "stats.py", ".git", "inner", "up", "escape.txt", "", "/", "x"]),
        max_size=6,
    )
)
def test_any_path_resolves_inside_the_workspace_or_is_refused(ws: Workspace, parts: list[str]) -> None:
    rel = "/".join(parts)
    try:
        target = ws.path(rel)
    except ToolError:
        return
    assert target.resolve().is_relative_to(ws.root)
    here = ws.root
    for part in target.relative_to(ws.root).parts:
        here = here / part
        assert not here.is_symlink()
        assert part != ".git"


def test_text_that_cannot_be_written_is_an_error_result(ws: Workspace) -> None:
    text, is_error = run(ws, "editor", command="create", path="calc/bad.py", file_text="x = '\ud800'\n")
    assert is_error
    assert "not valid Unicode" in text
