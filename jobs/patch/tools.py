"""The model's tools and their executor, confined to one workspace directory.

`editor` has text-editor semantics (view / str_replace / insert / create), `search` is a Python regex
over the workspace's files (no shell, capped), and `submit_diagnosis` is the only way an attempt ends.
Paths are repository-relative; absolute paths, `..`, `.git`, symbolic links and secret-looking files
are refused, so nothing outside the checkout (no /proc/self/environ, no ~/.ssh) can reach the model.
Every output is capped and passed through the log redactor.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from jobs.patch.context import Diagnosis
from jobs.patch.provider import ToolCall
from jobs.patch.toolspec import TOOLS, ToolError, validate_input
from sandbox_runner.redact import redact

MAX_OUTPUT_CHARS = 16_000
MAX_VIEW_LINES = 400
MAX_FILE_BYTES = 1_000_000
MAX_WRITE_BYTES = 200_000
MAX_MATCHES = 50
MAX_FILES_SEARCHED = 20_000
MAX_PATTERN = 200
SECRET_NAMES = (
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "id_rsa*",
    "id_ed25519*",
    "id_ecdsa*",
    ".netrc",
    ".npmrc",
    ".pypirc",
    "*.p12",
    "*.pfx",
    "credentials",
    "credentials.*",
    ".git-credentials",
)
_NESTED_QUANTIFIER = re.compile(r"\([^)]*[+*][^)]*\)\s*[+*{]")

__all__ = ["TOOLS", "ToolError", "ToolResult", "Workspace", "run_tool"]


@dataclass(frozen=True)
class ToolResult:
    text: str
    is_error: bool = False
    diagnosis: Diagnosis | None = None


def _cap(text: str) -> str:
    text = redact(text)
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return text[:MAX_OUTPUT_CHARS] + f"\n[output cut at {MAX_OUTPUT_CHARS} characters; view a narrower range]"


class Workspace:
    """One attempt's copy of the checkout. Every path the model names is checked here."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path(self, rel: str) -> Path:
        if not rel or "\0" in rel or "\\" in rel:
            raise ToolError(f"invalid path {rel!r}")
        pure = PurePosixPath(rel)
        if pure.is_absolute():
            raise ToolError(f"{rel}: use a path relative to the repository root")
        parts = [p for p in pure.parts if p != "."]
        if ".." in parts:
            raise ToolError(f"{rel}: '..' is not allowed")
        if ".git" in parts:
            raise ToolError(f"{rel}: .git is not part of the workspace")
        if parts and any(fnmatch.fnmatch(parts[-1], pat) for pat in SECRET_NAMES):
            raise ToolError(f"{rel}: secret-looking files are not shown or edited")
        here = self.root
        for part in parts:
            here = here / part
            if here.is_symlink():
                raise ToolError(f"{rel}: symbolic links are not followed")
        if not here.resolve().is_relative_to(self.root):
            raise ToolError(f"{rel}: outside the repository")
        return here

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def files(self, under: Path) -> list[Path]:
        """Regular files below `under`, sorted, skipping .git and symlinks; capped."""
        found: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(under):
            dirnames[:] = sorted(
                d for d in dirnames if d != ".git" and not os.path.islink(os.path.join(dirpath, d))
            )
            for name in sorted(filenames):
                full = Path(dirpath, name)
                if not full.is_symlink() and not any(fnmatch.fnmatch(name, p) for p in SECRET_NAMES):
                    found.append(full)
                if len(found) >= MAX_FILES_SEARCHED:
                    return found
        return found


def read_text(path: Path) -> str:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ToolError(f"{path.name}: larger than {MAX_FILE_BYTES:,} bytes")
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        raise ToolError(f"{path.name}: binary file")
    return data.decode("utf-8", errors="replace")


def numbered(lines: list[str], first: int) -> str:
    return "\n".join(f"{n:6}\t{line}" for n, line in enumerate(lines, start=first))


def view(ws: Workspace, rel: str, view_range: list[int] | None) -> str:
    target = ws.path(rel)
    if target.is_dir():
        entries = [ws.rel(p) for p in ws.files(target)[:200]]
        return "\n".join(entries) or "(empty directory)"
    if not target.is_file():
        raise ToolError(f"{rel}: no such file")
    lines = read_text(target).splitlines()
    start, end = 1, len(lines)
    if view_range is not None:
        if len(view_range) != 2 or not 1 <= view_range[0] <= max(1, len(lines)):
            raise ToolError(f"view_range must be [start, end] within 1..{len(lines)}")
        start, end = view_range[0], (len(lines) if view_range[1] == -1 else min(view_range[1], len(lines)))
    if end - start + 1 > MAX_VIEW_LINES:
        end = start + MAX_VIEW_LINES - 1
        note = f"\n[showing lines {start}-{end} of {len(lines)}; use view_range for more]"
    else:
        note = ""
    return numbered(lines[start - 1 : end], start) + note


def search(ws: Workspace, pattern: str, under: str | None, glob: str | None) -> str:
    if len(pattern) > MAX_PATTERN or _NESTED_QUANTIFIER.search(pattern):
        raise ToolError("pattern too long or has nested quantifiers; search for something simpler")
    try:
        regex = re.compile(pattern)
    except re.error as e:
        raise ToolError(f"invalid regular expression: {e}") from None
    hits: list[str] = []
    for path in ws.files(ws.path(under) if under else ws.root):
        if glob and not fnmatch.fnmatch(ws.rel(path), glob):
            continue
        try:
            text = read_text(path)
        except (ToolError, OSError):
            continue
        for n, line in enumerate(text.splitlines(), start=1):
            if regex.search(line[:1000]):
                hits.append(f"{ws.rel(path)}:{n}: {line.strip()[:200]}")
                if len(hits) >= MAX_MATCHES:
                    return "\n".join(hits) + f"\n[first {MAX_MATCHES} matches; narrow the search]"
    return "\n".join(hits) or "no matches"


def write(ws: Workspace, rel: str, text: str) -> None:
    if len(text.encode()) > MAX_WRITE_BYTES:
        raise ToolError(f"{rel}: files over {MAX_WRITE_BYTES:,} bytes are not written")
    target = ws.path(rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    ws.path(rel)  # the directories just made are plain directories; check again before writing
    target.write_text(text, encoding="utf-8")


def edit(ws: Workspace, args: dict[str, Any]) -> str:
    command, rel = args["command"], args["path"]
    if command == "view":
        return view(ws, rel, args.get("view_range"))
    if command == "create":
        write(ws, rel, args["file_text"])
        return f"created {rel}"
    target = ws.path(rel)
    if not target.is_file():
        raise ToolError(f"{rel}: no such file")
    text = read_text(target)
    if command == "str_replace":
        old, new = args["old_str"], args.get("new_str", "")
        count = text.count(old) if old else 0
        if count != 1:
            said = "did not appear verbatim" if count == 0 else f"appears {count} times; make it unique"
            raise ToolError(f"no replacement made: old_str {said} in {rel}")
        write(ws, rel, text.replace(old, new, 1))
        line = text[: text.index(old)].count("\n") + 1
        return f"edited {rel} at line {line}"
    lines = text.splitlines(keepends=True)
    at = args["insert_line"]
    if not 0 <= at <= len(lines):
        raise ToolError(f"insert_line must be between 0 and {len(lines)}")
    new_text = args["new_str"] if args["new_str"].endswith("\n") else args["new_str"] + "\n"
    if at and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    write(ws, rel, "".join([*lines[:at], new_text, *lines[at:]]))
    return f"inserted after line {at} of {rel}"


def run_tool(ws: Workspace, call: ToolCall) -> ToolResult:
    """Run one tool call; a refused or malformed call is an error result, never an exception."""
    try:
        args = validate_input(call)
        if call.name == "submit_diagnosis":
            return ToolResult("Diagnosis received.", diagnosis=Diagnosis(**args))
        if call.name == "search":
            return ToolResult(_cap(search(ws, args["pattern"], args.get("path"), args.get("glob"))))
        return ToolResult(_cap(edit(ws, args)))
    except ToolError as e:
        return ToolResult(f"Error: {e}", is_error=True)
    except OSError as e:
        return ToolResult(f"Error: {e.strerror or e}", is_error=True)
    except UnicodeError:
        return ToolResult("Error: the text is not valid Unicode (lone surrogates?)", is_error=True)
