"""`.github/autofix.yml`: defaults, every kind of value, and precise errors (key, line, what is allowed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config_schema import SCHEMA, defaults, render_reference
from app.repo_config import ConfigProblem, RepoConfigError, matches_any, parse_repo_config

ROOT = Path(__file__).resolve().parent.parent


def problems(text: str) -> list[ConfigProblem]:
    with pytest.raises(RepoConfigError) as e:
        parse_repo_config(text)
    return e.value.problems


@pytest.mark.parametrize("text", [None, "", "# only a comment\n", "---\n"])
def test_no_file_or_an_empty_one_means_the_defaults(text: str | None) -> None:
    config = parse_repo_config(text)
    assert config.values == defaults()
    assert config.present is (text is not None)


def test_a_full_file_is_read_as_written() -> None:
    config = parse_repo_config(
        """\
version: 1
enabled: true
triggers: {issues: false}
checks: ['test (*)', lint]
branches: [main, 'release/*', 1.10]
setup: pip install -e .[test]
test: python -m pytest -q
paths:
  forbidden: ['migrations/**']
  allowed: src/**
limits:
  jobs_per_hour: 3
  dollars_per_day: 2.5
pull_request: {draft: false, labels: [bot, fix]}
issues: {without_reproduction: draft}
commands:
  permission: maintain
  require: {budget: admin}
"""
    )
    assert config["triggers.issues"] is False
    assert config["triggers.checks"] is True  # untouched keys keep their defaults
    assert config["branches"] == ["main", "release/*", "1.10"]  # not the float 1.1
    assert config["paths.allowed"] == ["src/**"]  # one string for a one-item list
    assert (config["limits.jobs_per_hour"], config["limits.dollars_per_day"]) == (3, 2.5)
    assert config["pull_request.labels"] == ["bot", "fix"]
    assert config["setup"] == "pip install -e .[test]"
    assert config.permission_for("budget") == "admin"
    assert config.permission_for("retry") == "maintain"
    assert config.watches_check("test (3.12)")
    assert not config.watches_check("docs")
    assert config.watches_branch("release/2.0")
    assert not config.watches_branch("feature/x")


def test_every_problem_is_reported_with_its_key_and_line() -> None:
    found = problems(
        """\
enabled: yes
limits:
  jobs_per_hour: five
  dollars_per_day: -1
labels: [x]
checks: {a: b}
pull_requests:
  forks: push
"""
    )
    assert [(p.key, p.line) for p in found] == [
        ("enabled", 1),
        ("limits.jobs_per_hour", 3),
        ("limits.dollars_per_day", 4),
        ("labels", 5),
        ("checks", 6),
        ("pull_requests.forks", 8),
    ]
    text = [str(p) for p in found]
    assert text[0] == "line 1: `enabled`: expected `true` or `false`, got 'yes'"
    assert text[1] == "line 3: `limits.jobs_per_hour`: expected integer ≥ 0, got 'five'"
    assert "did you mean `label`?" in text[3]
    assert "one of `suggest`, `off`" in text[5]


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("version: 2\n", "version", "expected `1`, got 2"),
        ("candidates: 99\n", "candidates", "from 1 to 8"),
        ("limits: {dollars_per_job: .inf}\n", "limits.dollars_per_job", "got '.inf'"),
        ("limits: {dollars_per_job: inf}\n", "limits.dollars_per_job", "got inf"),
        ("label: \n", "label", "not empty"),
        ("limits: 3\n", "limits", "must be a mapping"),
        ("limits: {jobs_per_hour: 1}\nlimits: {jobs_per_day: 1}\n", "limits", "given twice"),
        ("commands: {require: {deploy: admin}}\n", "commands.require", "unknown command 'deploy'"),
        ("commands: {require: {budget: owner}}\n", "commands.require", "got 'owner'"),
        ("paths: {forbidden: [1, [2]]}\n", "paths.forbidden", "list of globs"),
        ("triggers: {check: false}\n", "triggers.check", "did you mean `triggers.checks`?"),
    ],
)
def test_one_bad_value(text: str, key: str, message: str) -> None:
    (problem,) = problems(text)
    assert problem.key == key
    assert message in problem.message


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("checks: [a\n", 2, "not valid YAML"),
        ("- a\n- b\n", 1, "must be a mapping"),
        ("x" * 70_000, None, "over 64 kB"),
    ],
)
def test_a_broken_file(text: str, line: int | None, message: str) -> None:
    (problem,) = problems(text)
    assert (problem.key, problem.line) == ("", line)
    assert message in problem.message


def test_yaml_tags_build_nothing_and_are_refused() -> None:
    (problem,) = problems("setup: !!python/object/apply:os.system ['true']\n")
    assert problem.key == "setup"
    assert "YAML tags such as 'python/object/apply:os.system' are not allowed" in problem.message


def test_globs_match_whole_names_with_slashes() -> None:
    assert matches_any(["*"], "feature/x")
    assert matches_any(["release/*"], "release/1.0")
    assert not matches_any(["main"], "main2")
    assert not matches_any(["Test"], "test")


def test_the_reference_page_is_generated_from_the_schema() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    assert page == render_reference(), "run: python -m app.config_schema > docs/configuration.md"
    for f in SCHEMA:
        assert f"`{f.key}`" in page
