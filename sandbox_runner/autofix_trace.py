"""A pytest plugin recording, per test, the project functions it ran: run-time evidence for localization.

Standard library only and no package imports: the runner copies this file into the run's home and
loads it with `-p autofix_trace` (PYTHONPATH), so it runs in the repository's own Python, 3.11+.

Cheap on purpose, since it rides along the reproduction run: only function starts are seen, never
lines. On Python 3.12+ it uses `sys.monitoring` PY_START events and DISABLEs each code object after
its first start (restarted per test); on 3.11 a `sys.settrace` global function that looks at call
events only and returns None (no per-line tracing). Functions count when their file is under the
root (AUTOFIX_TRACE_ROOT, else the working directory) or an extra root (AUTOFIX_TRACE_EXTRA,
`os.pathsep`-separated: an installed copy of the package) and not in a virtual environment.

At the end of the session it writes AUTOFIX_TRACE_OUT (JSON; `.<worker>` appended under xdist):
`{"version": 1, "functions": [[file, co_qualname, first_line], ...], "tests": [{"id", "outcome",
"functions": [index, ...]}], "outside": [index, ...], "truncated": bool}`: `outside` is what ran
outside every test (imports during collection). Files are relative to the root (absolute under an
extra root). Capped: failing tests first, then the others, MAX_TESTS in all, MAX_PER_TEST functions each.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

MAX_TESTS = 2000
MAX_PER_TEST = 2000
MAX_FUNCTIONS = 20000
_SKIP_PARTS = ("/site-packages/", "/dist-packages/")
_SKIP_TOP = {".venv", "venv", ".tox", ".nox", ".eggs", "build"}
_TOOL_NAME = "autofix-trace"
Key = tuple[str, str, int]
_MONITORING: Any = getattr(sys, "monitoring", None)  # 3.12+
# pytest's failure reporting (assertion explanations, reprs, tracebacks) runs `__repr__`/`__eq__`
# of the values in a failing test only: its calls are not the test's
# (not the rest of `assertion/rewrite.py`: it imports the test modules, and they the project)
_REPORTING = ("/_pytest/assertion/util.py", "/_pytest/_io/", "/_pytest/_code/")
_REWRITE = "/_pytest/assertion/rewrite.py"
_REWRITE_REPORTING = {"_saferepr", "_format_assertmsg", "_call_reprcompare", "_format_explanation"}
_REPORT_DEPTH = 10


def reported(frame: Any) -> bool:
    """Whether `frame`'s function was called, within a few frames, by pytest's failure reporting."""
    f, n = frame.f_back, 0
    while f is not None and n < _REPORT_DEPTH:
        name = f.f_code.co_filename
        if any(p in name for p in _REPORTING) or (
            name.endswith(_REWRITE) and f.f_code.co_name in _REWRITE_REPORTING
        ):
            return True
        f, n = f.f_back, n + 1
    return False


class Tracer:
    """Function starts under the roots, gathered into the current set; `take` returns it and starts anew."""

    def __init__(self, root: str, extra: list[str] | None = None) -> None:
        self.root = os.path.realpath(root) + os.sep
        self.extra = [os.path.realpath(r) + os.sep for r in extra or [] if r]
        self.current: set[Key] = set()
        self._codes: set[Any] = set()  # 3.11: our code objects started since `take`, resolved there
        self._skip: set[Any] = set()  # 3.11: code objects not ours
        self._decided: dict[object, Key | None] = {}  # code object -> its key, None when not ours
        self._tool: int | None = None
        self._me = os.path.realpath(__file__)

    def key_of(self, code: Any) -> Key | None:
        path = code.co_filename
        if not path or path.startswith("<") or code.co_name == "<module>":
            return None  # a module's own code runs once, at import: no function to rank
        real = os.path.realpath(path)
        if real == self._me:
            return None
        if any(real.startswith(r) for r in self.extra):
            name = real
        elif real.startswith(self.root) and not any(s in real for s in _SKIP_PARTS):
            name = real[len(self.root) :]
            if name.split(os.sep, 1)[0] in _SKIP_TOP:
                return None
        else:
            return None
        return (name, getattr(code, "co_qualname", code.co_name), code.co_firstlineno)

    def _seen(self, code: Any) -> Key | None:
        try:
            return self._decided[code]
        except KeyError:
            key = self._decided[code] = self.key_of(code)
            return key

    def start(self) -> bool:
        """Start, unless another tracer runs (coverage under 3.11): it keeps priority; False then."""
        monitoring = _MONITORING
        if monitoring is not None:
            for tool in (3, 4, monitoring.PROFILER_ID):  # not COVERAGE_ID: coverage.py may want it
                if monitoring.get_tool(tool) is None:
                    monitoring.use_tool_id(tool, _TOOL_NAME)
                    self._tool = tool
                    break
        if self._tool is not None:
            assert monitoring is not None
            monitoring.register_callback(self._tool, monitoring.events.PY_START, self._on_start)
            monitoring.set_events(self._tool, monitoring.events.PY_START)
        elif sys.gettrace() is not None:  # 3.11 with a coverage tool: its numbers come first
            return False
        else:  # 3.11, or every monitoring tool id taken
            seen, skip, first = self._codes, self._skip, self._first_call

            def on_call(frame: Any, event: str, arg: object) -> None:
                code = frame.f_code  # a global trace function sees "call" events only
                if code not in seen and code not in skip:
                    first(frame)
                return None  # and no local tracing: no line events

            sys.settrace(on_call)
            threading.settrace(on_call)
        return True

    def stop(self) -> None:
        if self._tool is not None:
            monitoring = _MONITORING
            monitoring.set_events(self._tool, 0)
            monitoring.register_callback(self._tool, monitoring.events.PY_START, None)
            monitoring.free_tool_id(self._tool)
            self._tool = None
        else:
            sys.settrace(None)
            threading.settrace(None)  # type: ignore[arg-type,unused-ignore]

    def take(self) -> set[Key]:
        """What ran since the last call; every function counts again from now on."""
        found, self.current = self.current, set()
        if self._codes:
            codes = self._codes.copy()  # atomic: another thread may be adding
            self._codes.clear()
            found.update(k for k in map(self._seen, codes) if k is not None)
        if self._tool is not None:
            _MONITORING.restart_events()
        return found

    def _first_call(self, frame: Any) -> None:
        code = frame.f_code
        if self._seen(code) is None:
            self._skip.add(code)
        elif not reported(frame):
            self._codes.add(code)

    def _on_start(self, code: Any, offset: int) -> object:
        key = self._seen(code)
        if key is not None:
            if reported(sys._getframe(1)):
                return None  # not now, but its next start is looked at again
            self.current.add(key)
        return _MONITORING.DISABLE


def serialise(tests: list[tuple[str, str, set[Key]]], outside: set[Key] | None = None) -> dict[str, Any]:
    """The JSON document, capped: failing tests first; functions numbered in order of first use.
    `outside`: what ran outside every test (imports at collection, session fixtures)."""
    order = sorted(range(len(tests)), key=lambda i: tests[i][1] not in ("failed", "error"))
    truncated = len(tests) > MAX_TESTS
    index: dict[Key, int] = {}
    out = []
    for i in sorted(order[:MAX_TESTS]):
        test_id, outcome, keys = tests[i]
        ids: list[int] = []
        for key in sorted(keys):
            if len(ids) >= MAX_PER_TEST or (key not in index and len(index) >= MAX_FUNCTIONS):
                truncated = True
                continue
            ids.append(index.setdefault(key, len(index)))
        out.append({"id": test_id, "outcome": outcome, "functions": ids})
    rest = sorted(k for k in outside or () if k in index or len(index) < MAX_FUNCTIONS)
    truncated = truncated or len(rest) < len(outside or ())
    between = [index.setdefault(k, len(index)) for k in rest]
    table = [list(k) for k in index]
    return {"version": 1, "functions": table, "tests": out, "outside": between, "truncated": truncated}


class Plugin:
    """The pytest hooks: a set per test (set-up, call and tear-down), its outcome from the reports."""

    def __init__(self, tracer: Tracer, out: str) -> None:
        self.tracer = tracer
        self.out = out
        self.tests: list[tuple[str, str, set[Key]]] = []
        self.outcomes: dict[str, str] = {}
        self.outside: set[Key] = set()

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed:
            self.outcomes[report.nodeid] = "error" if report.when != "call" else "failed"
        elif report.skipped:
            self.outcomes.setdefault(report.nodeid, "skipped")
        elif report.when == "call":
            self.outcomes.setdefault(report.nodeid, "passed")

    def pytest_runtest_logstart(self, nodeid: str, location: object) -> None:
        self.outside |= self.tracer.take()  # what ran between tests (collection, imports) is no test's

    def pytest_runtest_logfinish(self, nodeid: str, location: object) -> None:
        self.tests.append((nodeid, self.outcomes.get(nodeid, "passed"), self.tracer.take()))

    def pytest_sessionfinish(self, session: object, exitstatus: object) -> None:
        self.outside |= self.tracer.take()
        self.tracer.stop()
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        path = f"{self.out}.{worker}" if worker else self.out
        try:  # the trace is a by-product: never the reason a test run fails
            with open(f"{path}.tmp", "w") as f:
                json.dump(serialise(self.tests, self.outside), f)
            os.replace(f"{path}.tmp", path)
        except (OSError, ValueError) as e:
            print(f"autofix_trace: no trace written: {e}", file=sys.stderr)


def pytest_configure(config: Any) -> None:
    out = os.environ.get("AUTOFIX_TRACE_OUT")
    if not out or config.pluginmanager.has_plugin("autofix-trace-session"):
        return
    root = os.environ.get("AUTOFIX_TRACE_ROOT") or os.getcwd()
    extra = os.environ.get("AUTOFIX_TRACE_EXTRA", "").split(os.pathsep)
    tracer = Tracer(root, extra)
    if tracer.start():  # else no trace file: the run is exactly what it would be without the plugin
        config.pluginmanager.register(Plugin(tracer, out), "autofix-trace-session")
