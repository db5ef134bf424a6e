"""What an issue's text (or a log excerpt) points at: tracebacks, file paths, identifiers, words.

Pure text work. Tracebacks are read with sandbox_runner's own parsers, so an issue's pasted
traceback and a CI log's give the same frames. Identifiers are what people quote: `backticked`,
dotted (`pkg.mod.func`), called (`parse(`), snake_case or CamelCase words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sandbox_runner.failure import Frame
from sandbox_runner.logclean import clean_lines
from sandbox_runner.parsers.pytraceback import NATIVE_FRAME, TracebackParser, make_frame

_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.py)(?:[:\"', ]+(?:line )?(\d+))?")
_PYTEST_LOCATION = re.compile(r"^(?P<file>\S+?\.py):(?P<line>\d+):")
_BACKTICK = re.compile(r"`([^`\n]{2,80})`")
_DOTTED = re.compile(r"\b([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)\b")
_CALLED = re.compile(r"\b([A-Za-z_]\w{2,})\(")
_SHAPED = re.compile(r"\b([a-z]\w*_\w+|[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+)\b")
_WORD = re.compile(r"[A-Za-z][a-z0-9]+|[A-Z]+(?![a-z])")
_STOP = (
    "the and for with that this from when not but are was were has have had into than then there "
    "what which while will would should could can cannot does did doing done get got gets set use "
    "used using self none true false return returns returned def class import raise raises error "
    "errors exception test tests expected actual value values call called calls file line lines "
    "python assert assertion traceback recent last most module object type str int list dict"
)
STOPWORDS = frozenset(_STOP.split())


@dataclass
class TextEvidence:
    frames: list[Frame] = field(default_factory=list)  # outermost first, like a report's
    paths: list[tuple[str, int | None]] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)  # dotted or plain, in order of appearance
    words: set[str] = field(default_factory=set)  # lower-case, for the lexical search


def parse_traceback_frames(text: str) -> list[Frame]:
    """The frames of a traceback pasted into an issue (timestamps and colours of a pasted CI log are
    cleaned first, as the parsers expect)."""
    parser = TracebackParser()
    for line in clean_lines(text):
        parser.feed(line)
    finding = parser.result()
    return list(finding.frames) if finding else []


_BLOCK_START = re.compile(r"^(?:_{3,} .+ _{3,}|={3,}.*={3,}|\s*Traceback \(most recent call last\):)\s*$")


def parse_location_blocks(text: str) -> list[list[Frame]]:
    """Frames from pytest's `path.py:12: in func` lines and native `File "…", line N` lines, one
    list per failure (a `____ test ____` header or a `Traceback` line starts the next), outermost first."""
    blocks: list[list[Frame]] = [[]]
    skipping = False  # pytest's warnings summary names the line of each warning, not a failure
    for line in text.splitlines():
        if _BLOCK_START.match(line):
            blocks.append([])
            skipping = line.startswith("=") and "warnings summary" in line
            continue
        m = None if skipping else NATIVE_FRAME.match(line) or _PYTEST_LOCATION.match(line.strip())
        if m:
            func = m.groupdict().get("func")
            blocks[-1].append(make_frame(m["file"], m["line"], func))
    return [b for b in blocks if b]


def split_words(name: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(name.replace("_", " "))]


def _prose(text: str) -> str:
    """The text without traceback frames and their source lines (the frames are evidence already)."""
    out, skip_next = [], False
    for line in text.splitlines():
        if NATIVE_FRAME.match(line):
            skip_next = True
            continue
        if not skip_next:
            out.append(line)
        skip_next = False
    return "\n".join(out)


def parse_text_evidence(text: str) -> TextEvidence:
    ev = TextEvidence(frames=parse_traceback_frames(text))
    paths_text, text = text, _prose(text)
    seen: set[str] = set()

    def add(ident: str) -> None:
        ident = ident.strip("().:")
        if ident and ident not in seen and not ident.endswith(".py"):
            seen.add(ident)
            ev.identifiers.append(ident)

    for m in _PATH.finditer(paths_text if not ev.frames else text):
        ev.paths.append((m[1], int(m[2]) if m[2] else None))
    for quoted in _BACKTICK.findall(text):
        for m in re.finditer(r"[A-Za-z_][\w.]*", quoted):
            add(m[0])
    for pattern in (_DOTTED, _CALLED, _SHAPED):
        for m in pattern.finditer(text):
            add(m[1])
    ev.words = {w for w in split_words(text) if len(w) >= 3 and w not in STOPWORDS}
    return ev
