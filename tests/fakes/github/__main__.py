"""Run the local GitHub by hand, to try Autofix end to end on one machine without github.com.

    python -m tests.fakes.github --dir /tmp/gh --port 9000 \\
        --webhook-url http://127.0.0.1:8000/webhooks/github --secret "$GITHUB_WEBHOOK_SECRET" --demo

It registers an App (its private key is written to DIR/app-key.pem), installs it on `octo-org`,
creates the repository `octo-org/demo`, prints the settings that point `autofix` at it, and serves
until Ctrl-C. Webhooks go to --webhook-url, signed with --secret. With --demo it also makes a CI
check fail and labels an issue `autofix`, so a running `autofix serve` receives both deliveries.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import uvicorn

from tests.fakes.github import GitHubState, build_app, generate_private_key
from tests.fakes.github.sim import Sim
from tests.fakes.github.webhooks import Hookshot

APP_ID = 424242
OWNER = "octo-org"
DEMO_FILES = {
    "calc.py": "def add(a, b):\n    return a - b\n",
    "test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m tests.fakes.github", description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", type=Path, required=True, help="where the bare repositories and the App key go")
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--webhook-url", help="where to send webhooks (e.g. autofix's /webhooks/github)")
    p.add_argument("--secret", default="", help="the webhook secret to sign deliveries with")
    p.add_argument("--demo", action="store_true", help="fail a check and label an issue at start")
    a = p.parse_args()

    a.dir.mkdir(parents=True, exist_ok=True)
    key_path = a.dir / "app-key.pem"
    if not key_path.exists():
        key_path.write_text(generate_private_key())
        key_path.chmod(0o600)
    state = GitHubState(git_root=a.dir / "repos")
    state.base_url = f"http://127.0.0.1:{a.port}"
    state.add_app(APP_ID, key_path.read_text())
    state.install(APP_ID, OWNER)
    sim = Sim(state)
    repo = sim.create_repo(OWNER, "demo", files=DEMO_FILES)
    if a.webhook_url:
        Hookshot(state, a.webhook_url, a.secret, APP_ID)
    if a.demo:
        sha = subprocess.run(["git", "--git-dir", str(repo.path), "rev-parse", "main"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        sim.fail_check(repo, sha, "tests", log="FAILED test_calc.py::test_add - assert -1 == 5\n")
        issue = sim.open_issue(repo, "add() subtracts", "2 + 3 gives -1")
        sim.label_issue(repo, issue.number, "autofix")
    print(f"GITHUB_API_URL=http://127.0.0.1:{a.port}")
    print(f"GITHUB_APP_ID={APP_ID}")
    print(f"GITHUB_PRIVATE_KEY_PATH={key_path.resolve()}")
    print(f"# repository {OWNER}/demo: git clone http://127.0.0.1:{a.port}/{OWNER}/demo.git (token auth)")
    uvicorn.run(build_app(state), host="127.0.0.1", port=a.port, log_level="warning")


if __name__ == "__main__":
    main()
