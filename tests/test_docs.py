"""The documentation is checked like code: links resolve, named paths exist, every `autofix …` command in
a code block parses with the real CLI, scripts and modules it names exist, and the generated references
match what generates them. Copy-paste from the docs works, or this fails."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
from pathlib import Path

import pytest

from app import doctor, settings_doc
from app.cli import _parser

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\(([^)\s]+)\)")
NAMED_PATH = re.compile(r"`((?:app|jobs|sandbox_runner|tests|bench|scripts|docs)/[\w./-]*[\w/])`")
SHELL = ("sh", "bash", "console", "shell")


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def shell_lines(page: Path) -> list[str]:
    """Command lines of the page's shell code blocks: `$ ` prompts stripped, comments and output dropped."""
    out = []
    for lang, body in FENCE.findall(page.read_text()):
        if lang not in SHELL:
            continue
        for raw in body.splitlines():
            line = raw.strip()
            if lang == "console" and not line.startswith("$ "):
                continue  # output
            line = line.removeprefix("$ ")
            if not line or line.startswith("#"):
                continue
            out.append(line.split("  #", 1)[0].strip())
    return out


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert broken == [], f"{page_id(page)} links to missing files"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_named_paths_exist(page: Path) -> None:
    missing = [p for p in NAMED_PATH.findall(page.read_text()) if not (ROOT / p).exists()]
    assert missing == [], f"{page_id(page)} names paths that do not exist"


def words_of(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:  # a here-document or a multi-line quote: words as written
        return line.split()


def autofix_args(line: str) -> list[str] | None:
    """The arguments of an `autofix` invocation on this line, or None if it is not one."""
    words = words_of(line)
    for i, word in enumerate(words):
        if word == "autofix" or word.endswith("/autofix"):
            return words[i + 1 :]
        if "=" not in word:
            return None  # an environment assignment may come first; anything else is another command
    return None


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_commands_in_code_blocks_are_real(page: Path) -> None:
    problems = []
    for line in shell_lines(page):
        args = autofix_args(line)
        if args is not None:
            try:
                _parser().parse_args([a for a in args if a not in ("…", "...")])
            except SystemExit:
                problems.append(f"`{line}`: the CLI does not accept it")
            continue
        first = words_of(line)[0]
        if first.startswith("./scripts/") or first.startswith("scripts/"):
            script = ROOT / first.removeprefix("./")
            if not (script.is_file() and os.access(script, os.X_OK)):
                problems.append(f"`{line}`: no executable {first}")
        module = re.search(r"python3? -m ([\w.]+)", line)
        if module and importlib.util.find_spec(module.group(1)) is None:
            problems.append(f"`{line}`: no module {module.group(1)}")
        if first == "cp" and not (ROOT / words_of(line)[1]).exists():
            problems.append(f"`{line}`: no {words_of(line)[1]} to copy")
    assert problems == []


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = _parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert [c for c in commands if f"autofix {c}" not in readme] == []


def test_settings_reference_is_generated_and_complete() -> None:
    assert settings_doc.undocumented() == set(), "describe new settings in app/settings_doc.py SECTIONS"
    page = (ROOT / "docs" / "settings.md").read_text()
    assert page == settings_doc.render(), "run: python -m app.settings_doc > docs/settings.md"


def test_every_doctor_check_has_a_troubleshooting_section() -> None:
    page = (ROOT / "docs" / "troubleshooting.md").read_text()
    names = [check.__name__.removeprefix("check_").replace("_", " ") for check in doctor.CHECKS]
    assert [n for n in names if f"\n## {n}\n" not in page] == []


def test_docs_are_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert [p for p in pages if f"docs/{p}" not in readme] == []
