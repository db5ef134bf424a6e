"""The run-time trace of a pytest run: how the runner turns it on, and reads what it wrote.

Standard library only. `autofix_trace.py` (the pytest plugin) is copied into the run's home and
loaded with `-p autofix_trace`; it writes `trace.json` there (one file per xdist worker, merged
here). The result goes into `RunResult.coverage` as it is, or None when there is nothing usable.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

PLUGIN = Path(__file__).with_name("autofix_trace.py")
MAX_BYTES = 8 * 1024 * 1024  # a trace file larger than this is dropped, not read


def trace_env(home: Path, tree: Path, env: dict[str, str]) -> dict[str, str]:
    """`env` with the plugin on PYTHONPATH and told where to write; the plugin copied into `home`."""
    where = home / ".autofix-trace"
    where.mkdir(exist_ok=True)
    shutil.copyfile(PLUGIN, where / PLUGIN.name)
    path = env.get("PYTHONPATH")
    return env | {
        "PYTHONPATH": f"{where}:{path}" if path else str(where),
        "AUTOFIX_TRACE_OUT": str(home / "trace.json"),
        "AUTOFIX_TRACE_ROOT": str(tree),
    }


def read_trace(out: Path) -> dict[str, Any] | None:
    """The trace the plugin wrote at `out` (and `out.<worker>` under xdist), merged; None without one."""
    files = [p for p in [out, *sorted(out.parent.glob(out.name + ".gw*"))] if p.is_file()]
    merged: dict[str, Any] | None = None
    for f in files:
        if f.stat().st_size > MAX_BYTES:
            continue
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("version") != 1:
            continue
        merged = data if merged is None else merge(merged, data)
    return merged


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two traces as one: `b`'s function indices renumbered into `a`'s table."""
    table = [list(f) for f in a["functions"]]
    index = {tuple(f): i for i, f in enumerate(table)}
    remap = []
    for f in b["functions"]:
        remap.append(index.setdefault(tuple(f), len(table)))
        if remap[-1] == len(table):
            table.append(list(f))
    tests = list(a["tests"]) + [{**t, "functions": [remap[i] for i in t["functions"]]} for t in b["tests"]]
    outside = sorted(set(a.get("outside") or []) | {remap[i] for i in b.get("outside") or []})
    truncated = bool(a.get("truncated") or b.get("truncated"))
    return {"version": 1, "functions": table, "tests": tests, "outside": outside, "truncated": truncated}
