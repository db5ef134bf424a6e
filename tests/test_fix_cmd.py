"""`autofix fix` on a local checkout: the scripted model server, the real LocalSandbox, real git."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from tests.fakes.anthropic_messages import reply, tool_use
from tests.patch_support import BUGGY, DIAGNOSIS, FIXED, KEY, STATS, Served, make_repo, served_anthropic

CONFIG = "candidates: 1\ntest: python -m pytest -q -p no:cacheprovider\n"


@pytest.fixture
def model(clean_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Served[Any]]:
    with served_anthropic() as served:
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", served.url)
        monkeypatch.setenv("AUTOFIX_DATA_DIR", str(tmp_path / "data"))
        yield served


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {".github/autofix.yml": CONFIG})


def script_fix(model: Served[Any], new: str = FIXED) -> None:
    model.state.script(
        reply(
            tool_use(
                "editor",
                {"command": "str_replace", "path": "calc/stats.py", "old_str": BUGGY, "new_str": new},
            )
        ),
        reply(tool_use("submit_diagnosis", DIAGNOSIS)),
    )


def pytest_log(repo: Path) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    log = repo.parent / "ci.log"
    log.write_text(done.stdout)
    return log


def test_print_context_needs_no_model_and_no_settings(
    clean_env: None, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fix", str(repo), "--log", str(pytest_log(repo)), "--print-context"]) == 0
    context = json.loads(capsys.readouterr().out)
    assert context["locations"][0]["file"] in ("calc/stats.py", "tests/test_stats.py")
    assert any(loc["symbol"] == "mean" for loc in context["locations"][:5])


def test_a_proven_fix_is_applied_to_the_working_tree(
    model: Served[Any], repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script_fix(model)
    assert main(["fix", str(repo)]) == 0
    captured = capsys.readouterr()
    assert "· propose…" in captured.err
    assert "root cause:  mean divides by len(values) + 1" in captured.out
    assert "Proven fix c1, applied to the working tree." in captured.out
    assert FIXED in (repo / "calc/stats.py").read_text()


def test_dry_run_and_json_leave_the_tree_alone(
    model: Served[Any], repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script_fix(model)
    assert main(["fix", str(repo), "--log", str(pytest_log(repo)), "--dry-run", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["proven"], result["applied"]) == (True, False)
    assert FIXED.strip() in result["chosen"]["diff"]
    assert (repo / "calc/stats.py").read_text() == STATS


def test_nothing_unproven_is_ever_applied(
    model: Served[Any], repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script_fix(model, new=FIXED.replace("len(values)", "len(values) * 2"))
    assert main(["fix", str(repo)]) == 1
    assert "No fix was proven: nothing was applied." in capsys.readouterr().out
    assert (repo / "calc/stats.py").read_text() == STATS


def test_a_passing_command_needs_no_fix(
    model: Served[Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fine = make_repo(
        tmp_path / "fine", {"calc/stats.py": STATS.replace(" + 1", ""), ".github/autofix.yml": CONFIG}
    )
    assert main(["fix", str(fine)]) == 0
    assert "Nothing to fix: `python -m pytest -q -p no:cacheprovider` passes." in capsys.readouterr().out
    assert model.state.bodies == []


def test_bad_input_says_what_to_change(
    model: Served[Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fix", str(tmp_path)]) == 2
    assert "is not a git checkout" in capsys.readouterr().err
    bare = make_repo(tmp_path / "bare")
    assert main(["fix", str(bare)]) == 2
    assert "say what fails: --log FILE, --issue FILE or --command CMD" in capsys.readouterr().err
