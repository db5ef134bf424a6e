"""The Context the model sees first: ranked locations, an outline of the files involved and numbered
source of the top regions, cut to a token budget.

Tokens are estimated as characters / 4 (close for English and code with Claude's tokenizer; no
tokenizer is loaded). The outline gets at most a third of the budget, the snippets the rest, best
region first; a long function is shown around the lines the evidence named.
"""

from __future__ import annotations

from jobs.patch.context import Context
from jobs.patch.outline import render_outline
from jobs.patch.regions import Region
from jobs.patch.symbols import RepoIndex

MAX_LOCATIONS = 20
MAX_OUTLINE_FILES = 6
MAX_OUTLINE_LINES = 60
MAX_SNIPPETS = 10
MAX_SNIPPET_LINES = 60
MAX_LINE_CHARS = 160
MIN_USEFUL_TOKENS = 40


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _window(region: Region, lines: int) -> tuple[int, int]:
    start, end = region.start, min(region.end, max(lines, region.start))
    if end - start + 1 <= MAX_SNIPPET_LINES:
        return start, end
    focus = region.focus[0] if region.focus else start
    lo = max(start, focus - MAX_SNIPPET_LINES // 2)
    return lo, min(end, lo + MAX_SNIPPET_LINES - 1)


def render_snippet(text_lines: list[str], start: int, end: int) -> str:
    width = len(str(end))
    out = []
    for n in range(start, end + 1):
        line = text_lines[n - 1] if n - 1 < len(text_lines) else ""
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + " …"
        out.append(f"{n:>{width}}  {line}")
    return "\n".join(out) + "\n"


def _outline(index: RepoIndex, files: list[str], budget: int) -> tuple[dict[str, list[str]], int]:
    outline: dict[str, list[str]] = {}
    used = 0
    for path in files[:MAX_OUTLINE_FILES]:
        src = index.source(path)
        if src is None:
            continue
        lines = render_outline(src)
        if len(lines) > MAX_OUTLINE_LINES:
            lines = [*lines[:MAX_OUTLINE_LINES], f"# … {len(lines) - MAX_OUTLINE_LINES} more definitions"]
        cost = estimate_tokens(path + "\n" + "\n".join(lines))
        if used + cost > budget:
            continue
        outline[path], used = lines, used + cost
    return outline, used


def _snippet_order(ranked: list[Region]) -> list[Region]:
    """Best first, with the best failing test third at the latest: the model needs to see it."""
    order = ranked[:MAX_SNIPPETS]
    test = next((r for r in ranked if r.is_test and r.symbol), None)
    if test is not None and test in order and order.index(test) > 2:
        order.remove(test)
        order.insert(2, test)
    elif test is not None and test not in order:
        order.insert(min(2, len(order)), test)
    return order


def render_context(index: RepoIndex, ranked: list[Region], budget: int) -> Context:
    files = list(dict.fromkeys(r.file for r in ranked[:MAX_LOCATIONS]))
    outline, used = _outline(index, files, budget // 3)
    snippets: dict[str, str] = {}
    shown: list[tuple[str, int, int]] = []
    for region in _snippet_order(ranked):
        if budget - used < MIN_USEFUL_TOKENS:
            break
        src = index.source(region.file)
        if src is None or not src.lines:
            continue
        start, end = _window(region, len(src.lines))
        if any(f == region.file and s <= end and start <= e for f, s, e in shown):
            continue
        text = render_snippet(src.lines, start, end)
        cost = estimate_tokens(f"{region.file}:{start}-{end}\n{text}")
        if used + cost > budget:
            continue
        snippets[f"{region.file}:{start}-{end}"], used = text, used + cost
        shown.append((region.file, start, end))
    return Context(
        locations=[r.location() for r in ranked[:MAX_LOCATIONS]],
        outline=outline,
        snippets=snippets,
        tokens=used,
        budget=budget,
    )
