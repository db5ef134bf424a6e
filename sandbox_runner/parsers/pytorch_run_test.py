"""pytorch's `test/run_test.py` wrapper lines: the failing test files and classes it names when pytest
itself printed no result for them (a module that fails at import, a test class rejected before any
test runs). Standard library only.

run_test.py runs each test module (`distributed/test_c10d`, a path under `test/` without `.py`) as
a shard `N/M` and, when one fails, prints `<module> N/M failed!` (with ` Received signal: SIGSEGV`
after a crash). Before that it prints the module's log, where its TestCase check writes
`<Class> - failed. This test class should extend from ...TestCase but it doesn't.` The ids are
pytest node ids relative to `test/`, as the pytest run inside the wrapper prints them.
"""

from __future__ import annotations

import re

from sandbox_runner.failure import MAX_TESTS

_MODULE_FAILED = re.compile(r"^(?P<module>[\w.-]+(?:/[\w.-]+)*) \d+/\d+ failed!(?P<signal> Received signal)?")
_CLASS_FAILED = re.compile(r"^(?P<cls>[A-Za-z_]\w*) - failed\. This test class should extend from \S+")
_MAX_PENDING = 50


class RunTestWrapper:
    """Feed it the lines that contain "failed"; `ids` are the failing files and classes, in order.
    A class line belongs to the next module reported failed (its log is printed just before)."""

    def __init__(self) -> None:
        self._pending: list[str] = []  # classes named before their module's `failed!` line
        self.ids: dict[str, None] = {}
        self.unrun: set[str] = set()  # whole files that failed with no class named and no signal

    def feed(self, line: str) -> None:
        if m := _CLASS_FAILED.match(line):
            if len(self._pending) < _MAX_PENDING:
                self._pending.append(m["cls"])
        elif m := _MODULE_FAILED.match(line):
            path = m["module"] + ".py"
            pending, self._pending = self._pending, []
            for node_id in [f"{path}::{cls}" for cls in pending] or [path]:
                if len(self.ids) < MAX_TESTS:
                    self.ids[node_id] = None
            if not pending and not m["signal"] and path in self.ids:
                self.unrun.add(path)

    def merged(self, ids: list[str]) -> tuple[list[str], bool]:
        """pytest's own `ids` plus the wrapper's where pytest named nothing inside them, and whether
        one added is a whole file that failed before its tests ran (an error at import)."""
        out, import_error = list(ids), False
        for node_id in self.ids:
            inner = node_id + "::"
            if any(
                i == node_id or i.endswith("/" + node_id) or i.startswith(inner) or "/" + inner in i
                for i in ids
            ):
                continue  # pytest named it, or a test inside it
            if len(out) < MAX_TESTS:
                out.append(node_id)
                import_error |= node_id in self.unrun
        return out, import_error
