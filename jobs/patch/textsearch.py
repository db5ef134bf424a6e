"""Finding the checkout's definitions by name: names in an error message, a name index lookup, and
a lexical match of an issue's words against symbol and file names."""

from __future__ import annotations

import builtins
import math
import re

from jobs.patch.issue_evidence import STOPWORDS, split_words
from jobs.patch.outline import Definition
from jobs.patch.regions import Board
from jobs.patch.symbols import RepoIndex

LEXICAL = 2.0
_IDENT = re.compile(r"[A-Za-z_][\w.]*")
_BUILTINS = frozenset(dir(builtins))


def message_names(text: str) -> list[str]:
    out: list[str] = []
    for m in _IDENT.finditer(text):
        if text[m.end() : m.end() + 1] == "=" and text[m.end() : m.end() + 2] != "==":
            continue  # `maxsize=6` in a repr names a field, not the code at fault
        for name in {m[0], m[0].rsplit(".", 1)[-1]}:
            if len(name) >= 3 and name not in _BUILTINS and name.lower() not in STOPWORDS and name not in out:
                out.append(name)
    return out


def global_defs(index: RepoIndex, name: str, limit: int) -> list[tuple[str, Definition]]:
    places = index.names().get(name.rsplit(".", 1)[-1], [])
    if not places or len(places) > limit:
        return []
    short, found = name.rsplit(".", 1)[-1], []
    for path, line in places:
        src = index.source(path)
        d = next((x for x in (src.defs if src else []) if x.name == short and x.start <= line <= x.end), None)
        if d is not None:
            found.append((path, d))
    return found


def rank_by_words(index: RepoIndex, board: Board, words: set[str], paths: set[str]) -> None:
    """Symbol names sharing words with the issue; a file whose path shares words counts a little."""
    if not words:
        return
    scored: list[tuple[float, str, int, str]] = []
    for name, places in index.names().items():
        tokens = set(split_words(name))
        common = tokens & words
        if not common or len(places) > 8:
            continue
        ratio = len(common) / len(tokens)
        for path, line in places:
            path_words = set(split_words(path.removesuffix(".py").replace("/", " ")))
            bonus = 0.5 * len(path_words & words) + (1.0 if any(path.endswith(p) for p in paths) else 0)
            scored.append((LEXICAL * ratio * math.log2(1 + len(common)) + bonus, path, line, name))
    scored.sort(key=lambda s: -s[0])
    for score, path, line, name in scored[:30]:
        src = index.source(path)
        d = next((x for x in (src.defs if src else []) if x.name == name and x.start <= line <= x.end), None)
        if d is not None and score > 0:
            board.add_def(path, d, score, "shares words with the issue")
