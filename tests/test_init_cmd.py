"""`autofix init`: commands detected from the project's files, the two files written (never over
an existing one), what to commit printed; run as the real console script."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from app.init_cmd import CONFIG_PATH, WORKFLOW_PATH, Detected, detect_commands, render_config
from app.repo_config import parse_repo_config
from tests.support import cli_env, run_autofix

PYPROJECT_TEST_EXTRA = '[project]\nname = "x"\n[project.optional-dependencies]\ntest = ["pytest"]\n'


PYTEST = "python -m pytest -q"
NOXFILE = "import nox\n\n@nox.session\ndef tests(session):\n    pass\n"
CASES = [
    ({"pyproject.toml": PYPROJECT_TEST_EXTRA}, "pip install -e '.[test]'", PYTEST, "pyproject.toml"),
    ({"pyproject.toml": '[project]\nname = "x"\n'}, "pip install -e .", PYTEST, "pyproject.toml"),
    (
        {"pyproject.toml": '[project]\nname = "x"\n[dependency-groups]\ndev = ["pytest"]\n'},
        "pip install -e . --group dev", PYTEST, "pyproject.toml",
    ),
    (
        {"pyproject.toml": '[tool.poetry]\nname = "x"\n'},
        "pip install poetry && poetry install --no-interaction", "poetry run python -m pytest -q",
        "pyproject.toml (poetry)",
    ),
    (
        {"requirements.txt": "requests\n", "requirements-dev.txt": "pytest\n"},
        "pip install -r requirements.txt -r requirements-dev.txt", PYTEST,
        "requirements.txt, requirements-dev.txt",
    ),
    ({"tox.ini": "[tox]\nenvlist = lint, py311, py312\n"}, "pip install tox", "tox -e py311", "tox.ini"),
    ({"noxfile.py": NOXFILE}, "pip install nox", "nox -s tests", "noxfile.py"),
    ({"setup.py": "print()\n"}, None, PYTEST, "nothing (defaults)"),
    (  # a broken pyproject.toml is skipped
        {"pyproject.toml": "not = [toml", "requirements.txt": "x\n"},
        "pip install -r requirements.txt", PYTEST, "requirements.txt",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("files", "setup", "test", "source"), CASES)
def test_detect_commands(
    tmp_path: Path, files: dict[str, str], setup: str | None, test: str, source: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert detect_commands(tmp_path) == Detected(setup, test, source)


@pytest.mark.parametrize(
    "found",
    [
        Detected("pip install -e '.[test]'", "python -m pytest -q", "pyproject.toml"),
        Detected(None, "tox", "x"),
    ],
)
def test_the_starter_config_is_valid_and_carries_the_commands(found: Detected) -> None:
    config = parse_repo_config(render_config(found))
    assert config["setup"] == found.setup
    assert config["test"] == found.test


def git(where: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True, check=True).stdout


def test_init_writes_both_files_and_says_what_to_commit(tmp_path: Path) -> None:
    repo = tmp_path / "proj"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "pyproject.toml").write_text(PYPROJECT_TEST_EXTRA)
    done = run_autofix("init", "--uses", "octo/autofix", "--ref", "a" * 40, env=cli_env(tmp_path), cwd=repo)
    assert done.returncode == 0, done.stderr
    workflow = (repo / WORKFLOW_PATH).read_text()
    assert "uses: octo/autofix/.github/workflows/autofix-sandbox.yml@" + "a" * 40 in workflow
    assert "setup: pip install -e '.[test]'" in (repo / CONFIG_PATH).read_text()
    assert f"wrote {WORKFLOW_PATH}\nwrote {CONFIG_PATH}\n" in done.stdout
    assert f"git add {WORKFLOW_PATH} {CONFIG_PATH}" in done.stdout
    assert "not a git checkout" not in done.stdout
    assert "not a commit SHA" not in done.stdout
    assert git(repo, "status", "--porcelain", "--untracked-files=all").count("?? .github/") == 2


def test_init_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / CONFIG_PATH).write_text("enabled: false\n")
    done = run_autofix("init", str(tmp_path), env=cli_env(tmp_path), cwd=tmp_path)
    assert done.returncode == 0
    assert (tmp_path / CONFIG_PATH).read_text() == "enabled: false\n"
    assert f"kept {CONFIG_PATH}: it exists" in done.stdout
    assert f"git add {WORKFLOW_PATH}\n" in done.stdout
    assert "not a git checkout" in done.stdout
    assert "v0.1.0 is not a commit SHA; pin one" in done.stdout
    again = run_autofix("init", str(tmp_path), env=cli_env(tmp_path), cwd=tmp_path)
    assert again.returncode == 1
    assert "wrote" not in again.stdout


def test_init_needs_a_directory(tmp_path: Path) -> None:
    done = run_autofix("init", str(tmp_path / "nope"), env=cli_env(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert "is not a directory" in done.stdout
