"""The localizer's scoreboard: code regions (a function, a class, or a bare line range) and the
evidence that points at them. Pure bookkeeping; the weights live with the evidence in `localize`."""

from __future__ import annotations

from dataclasses import dataclass, field

from jobs.patch.context import CodeLocation
from jobs.patch.outline import Definition, SourceFile
from jobs.patch.symbols import is_test_path

LINE_WINDOW = 6  # lines either side of a frame outside any function
OTHER_EVIDENCE = 0.2  # the strongest evidence counts in full, the rest (often the same fact) less


@dataclass
class Region:
    file: str
    symbol: str | None
    start: int
    end: int
    is_test: bool
    score: float = 0.0
    why: list[str] = field(default_factory=list)
    focus: list[int] = field(default_factory=list)  # lines the evidence named (frame lines)
    parts: list[float] = field(default_factory=list)  # each piece of evidence's weight

    def location(self) -> CodeLocation:
        return CodeLocation(
            self.file, self.symbol, self.start, self.end, round(self.score, 3), list(self.why)
        )


@dataclass
class Board:
    regions: dict[tuple[str, str | None, int], Region] = field(default_factory=dict)

    def add(self, region: Region, weight: float, why: str, focus: int | None = None) -> Region:
        key = (region.file, region.symbol, region.start if region.symbol is None else 0)
        held = self.regions.setdefault(key, region)
        held.parts.append(weight)
        best = max(held.parts)
        held.score = best + OTHER_EVIDENCE * (sum(held.parts) - best)
        if why not in held.why:
            held.why.append(why)
        if focus is not None and focus not in held.focus:
            held.focus.append(focus)
        return held

    def add_def(self, path: str, d: Definition, weight: float, why: str, focus: int | None = None) -> Region:
        return self.add(Region(path, d.qualname, d.start, d.end, is_test_path(path)), weight, why, focus)

    def add_line(self, src: SourceFile, line: int, weight: float, why: str) -> Region:
        """The function holding `line`, else a few lines around it."""
        d = src.enclosing(line)
        if d is not None:
            return self.add_def(src.path, d, weight, why, line)
        start = max(1, line - LINE_WINDOW)
        end = min(max(len(src.lines), line), line + LINE_WINDOW)
        return self.add(Region(src.path, None, start, end, is_test_path(src.path)), weight, why, line)

    def files(self) -> set[str]:
        return {r.file for r in self.regions.values()}

    def ranked(self) -> list[Region]:
        """Best first; on a tie the project's code before its tests, then by place."""
        return sorted(self.regions.values(), key=lambda r: (-r.score, r.is_test, r.file, r.start))
