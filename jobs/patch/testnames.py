"""What a failing test's name says it checks: `test_or_expression` names the `or` handling, so of the
functions the test reaches, those whose names share its rarer words are the likelier culprits.
A tie-breaker among siblings the call graph reaches the same way; pure, over names only."""

from __future__ import annotations

import re

from jobs.patch.outline import Definition

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_STOP = frozenset(
    {"test", "tests", "the", "an", "of", "with", "for", "when", "should", "it", "is", "that", "does",
     "can", "works", "work", "check", "self", "init", "new", "call", "get"}
)  # fmt: skip
MAX_SHARED = 6  # a word more candidates share than this tells nothing about any of them


def words(name: str) -> set[str]:
    """`test_multipleDots_2` -> {"multiple", "dot", "2"}: lower-cased parts of an identifier,
    a plural's `s` dropped, without the words every test or method name has."""
    out = set()
    for part in _WORD.findall(name):
        w = part.lower()
        w = w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
        if w not in _STOP:
            out.add(w)
    return out


CONSTRUCTORS = ("__init__", "__new__", "__post_init__")


def own_name(d: Definition) -> str:
    """The name a function is known by: its own, or its class's for a constructor
    (`_Item.__init__` -> "_Item")."""
    parts = d.qualname.split(".")
    return parts[-2] if d.name in CONSTRUCTORS and len(parts) > 1 else d.name


def name_matches(test_name: str, reached: list[Definition]) -> dict[str, float]:
    """For the functions a test reaches, how strongly the test's name points at each (0..1, by
    qualname): a word of the test's name in the function's name counts 1/sqrt(k) when k of the
    reached functions have it (none past MAX_SHARED); a function whose every word is in the test's
    name (`test_bump_patch` for `bump_patch`) counts 1."""
    wanted = words(test_name)
    if not wanted:
        return {}
    named = {d.qualname: words(own_name(d)) for d in reached}
    holders: dict[str, int] = {}
    for ws in named.values():
        for w in ws & wanted:
            holders[w] = holders.get(w, 0) + 1
    out: dict[str, float] = {}
    for qualname, ws in named.items():
        shared = [w for w in ws & wanted if holders[w] <= MAX_SHARED]
        if not shared:
            continue
        score = max(1 / holders[w] ** 0.5 for w in shared)
        out[qualname] = 1.0 if ws <= wanted else score
    return out
