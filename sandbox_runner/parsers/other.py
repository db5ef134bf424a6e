"""Streaming parsers for other ecosystems: Java (Gradle, Maven surefire and compiler), JavaScript
test runners (jest, vitest, mocha, plain node) and Go (`go test`, panics, build failures).

Each yields the failing test names, the first failure's exception and frames (outermost first,
project frames marked), and for compile failures the first error locations. An exception line
counts only inside a failure block or when frames of its language follow, so a Python traceback
in the same log is not read as Java or JavaScript.
"""

from __future__ import annotations

import re

from sandbox_runner.failure import (
    MAX_ERROR_LINES,
    MAX_FRAMES,
    MAX_MESSAGE_CHARS,
    MAX_TESTS,
    FailureClass,
    Finding,
    Frame,
    Location,
)


def _cap(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


class _Tests:
    """Failing test ids in order, once each, capped."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def add(self, test: str) -> None:
        test = test.strip()
        if test and len(self.ids) < MAX_TESTS and test not in self.ids:
            self.ids.append(test)


class _Frames:
    """The frames of one exception, innermost first as Java, JS and Go print them, capped."""

    def __init__(self) -> None:
        self.innermost_first: list[Frame] = []

    def add(self, frame: Frame) -> None:
        if len(self.innermost_first) < MAX_FRAMES:
            self.innermost_first.append(frame)

    def outermost_first(self) -> list[Frame]:
        return list(reversed(self.innermost_first))


# ---------------------------------------------------------------- Java

_JAVA_OUTSIDE = (
    *("java.", "javax.", "jdk.", "sun.", "com.sun.", "org.junit.", "org.gradle.", "kotlin."),
    *("org.opentest4j.", "org.apache.maven.", "junit.", "worker.org.gradle.", "org.testng."),
)
_GRADLE_TEST = re.compile(r"^(?P<cls>[\w.$]+) > (?P<test>.+?) FAILED\s*$")
_SUREFIRE_FAILED = r"Time elapsed:.*<<< (?:FAILURE|ERROR)!"
_SUREFIRE_CLASS = re.compile(r"^\[ERROR\] Tests run: .*<<< (?:FAILURE|ERROR)! -{1,2} in (?P<cls>[\w.$]+)")
_SUREFIRE_OLD = re.compile(rf"^\[ERROR\] (?P<test>[\w$]+)\((?P<cls>[\w.$]+)\)\s+{_SUREFIRE_FAILED}")
_SUREFIRE_NEW = re.compile(rf"^\[ERROR\] (?P<cls>[\w.$]+)\.(?P<test>[\w$]+)\s+-- {_SUREFIRE_FAILED}")
_JAVA_EXC = re.compile(
    r"^\s*(?:Caused by: |Exception in thread \"[^\"]*\" )?"
    r"(?P<type>(?:[a-z_][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Failure|Throwable|Failed)\w*)"
    r"(?:: (?P<msg>.*))?$"
)
_JAVA_FRAME = re.compile(
    r"^\s*at (?:[\w.-]+(?:@[\w.-]+)?/)?(?P<cls>[\w.$]+)\.(?P<meth>[\w$<>]+)"
    r"\((?P<file>[^:)]*)(?::(?P<line>\d+))?\)"
)
_JAVA_MORE = re.compile(r"^\s*\.\.\. (?P<n>\d+) more\s*$")
_MAVEN_COMPILE = re.compile(
    r"^\[ERROR\] (?P<path>\S+\.(?:java|kt|scala|groovy)):\[(?P<line>\d+),(?P<col>\d+)\] (?P<msg>.*)$"
)
# kotlinc under Gradle: `e: file:///w/A.kt:12:5 message` (new) or `e: /w/A.kt: (12, 5): message` (old)
_KOTLIN = re.compile(
    r"^e: (?:file://)?(?P<path>\S+\.kts?)"
    r"(?::(?P<line>\d+):(?P<col>\d+)|: \((?P<l2>\d+), (?P<c2>\d+)\):) (?P<msg>.+)$"
)
_MAVEN_GOAL = re.compile(r"^\[ERROR\] Failed to execute goal .*(?:Compilation failure|COMPILATION ERROR)")


def is_java_project_frame(qualified_class: str) -> bool:
    return not qualified_class.startswith(_JAVA_OUTSIDE)


class JavaParser:
    """Gradle and Maven test failures with their stack traces (`Caused by:` chains), and Maven's
    compiler errors (the `Failed to execute goal` block's locations win over earlier ones)."""

    name = "java"

    def __init__(self) -> None:
        self._tests = _Tests()
        self._classes = _Tests()
        self.exception_type: str | None = None
        self.message: str | None = None
        self._chain: list[_Frames] = []  # the first failure's exception, then each cause
        self._state = "idle"  # idle | block (after a failure header) | trace | done
        self._caused_by_pending = False
        self._compile: list[Location] = []
        self._goal: list[Location] | None = None  # locations after "Failed to execute goal", None before
        self._in_goal = False

    def feed(self, line: str) -> None:
        if (line.startswith("[ERROR]") or self._in_goal) and self._feed_compile(line):
            return
        if line.startswith("e: ") and (m := _KOTLIN.match(line)):
            lineno, col = int(m["line"] or m["l2"]), int(m["col"] or m["c2"])
            loc = Location(m["path"], lineno, col, _cap(m["msg"]))
            if len(self._compile) < MAX_ERROR_LINES and loc not in self._compile:
                self._compile.append(loc)
            return
        if "FAILED" in line and (m := _GRADLE_TEST.match(line)):
            self._tests.add(f"{m['cls']} > {m['test']}")
            self._open_block()
            return
        if "<<< " in line and (m := _SUREFIRE_OLD.match(line) or _SUREFIRE_NEW.match(line)):
            self._tests.add(f"{m['cls']}.{m['test']}")
            self._open_block()
            return
        if "<<< " in line and (m := _SUREFIRE_CLASS.match(line)):
            self._classes.add(m["cls"])  # the failing class, for when no test method is named
            return
        if self._state in ("block", "trace") or (self._state == "idle" and "Exception in thread" in line):
            self._feed_trace(line)

    def _open_block(self) -> None:
        self._state = "block" if self._state in ("idle", "block") else "done"

    def _feed_trace(self, line: str) -> None:
        stripped = line.strip()
        if stripped == "Caused by:":
            self._caused_by_pending = self._state == "trace"
            return
        m = _JAVA_EXC.match(line)
        if m and (self._state == "block" or "Exception in thread" in line):
            self.exception_type, self.message = m["type"], _cap(m["msg"]) if m["msg"] else None
            self._chain, self._state = [_Frames()], "trace"
            return
        if self._state != "trace":
            return
        if m and not (line.lstrip().startswith("Caused by: ") or self._caused_by_pending):
            self._state = "done"  # another exception: the first failure's trace is complete
        elif m:
            self._chain = [*self._chain[-1:], _Frames()]  # a cause needs only its parent, for "... N more"
            self._caused_by_pending = False
        elif f := _JAVA_FRAME.match(line):
            cls, lineno = f["cls"], int(f["line"]) if f["line"] else None
            self._chain[-1].add(Frame(f["file"], lineno, f"{cls}.{f['meth']}", is_java_project_frame(cls)))
        elif (more := _JAVA_MORE.match(line)) and len(self._chain) > 1:
            shared = self._chain[-2].innermost_first[-int(more["n"]) :]
            for frame in shared:
                self._chain[-1].add(frame)
        elif stripped:
            self._state = "done"  # the first failure's trace is complete

    def _feed_compile(self, line: str) -> bool:
        if _MAVEN_GOAL.match(line):
            self._goal, self._in_goal = [], True
            return True
        if m := _MAVEN_COMPILE.match(line):
            loc = Location(m["path"], int(m["line"]), int(m["col"]), _cap(m["msg"]))
            target = self._goal if self._in_goal and self._goal is not None else self._compile
            if len(target) < MAX_ERROR_LINES and loc not in target:
                target.append(loc)
            return True
        if self._in_goal and not line.startswith("[ERROR]  "):
            self._in_goal = line.startswith("[ERROR] ") and not line.startswith("[ERROR] -> ")
        return False

    def result(self) -> Finding | None:
        tests = self._tests.ids or self._classes.ids
        locations = self._goal or self._compile
        frames = self._chain[-1].outermost_first() if self._chain else []
        if tests:
            cls: FailureClass | None = FailureClass.TEST_FAILURE
        elif locations:
            cls = FailureClass.BUILD_ERROR
        else:
            cls = None
        if not (tests or locations or self.exception_type):
            return None
        exc, msg = self.exception_type, self.message
        if exc is None and locations:
            exc, msg = "compilation error", locations[0].message
        return Finding(
            parser=self.name,
            failing_tests=list(tests),
            exception_type=exc,
            message=msg,
            frames=frames,
            locations=list(locations) if not tests else [],
            error_lines=[f"{loc.file}:[{loc.line},{loc.column}] {loc.message}" for loc in locations],
            failure_class=cls,
        )


# ---------------------------------------------------------------- JavaScript

_JS_FRAME = re.compile(
    r"^\s*(?:at |❯ )(?:(?P<fn>.+?) \()?(?P<file>[^()\s]+?):(?P<line>\d+):(?P<col>\d+)\)?\s*$"
)
_JS_EXC = re.compile(
    r"^\s*(?:Uncaught )?(?P<type>[A-Z]\w*(?:Error|Exception))(?: \[[A-Z_]+\])?: (?P<msg>.*)$"
)
_JEST_HEADER = re.compile(r"^\s*● (?P<name>.+?)\s*$")
_JEST_FAIL_FILE = re.compile(r"^\s*FAIL\s+(?P<rest>\S.*?)\s*$")
_CROSS = re.compile(r"^\s*(?:✕|×|✗|✖) (?P<name>.+?)(?: \(\d+(?:\.\d+)? ?m?s\)| \d+(?:\.\d+)?m?s)?\s*$")
_PENDING_LINES = 40  # an error line is the one a frame belongs to when the frame follows within this many
_MOCHA_FAILING = re.compile(r"^\s*\d+ failing\s*$")
_MOCHA_HEAD = re.compile(r"^\s+(?P<n>\d+)\) (?P<text>.+?)\s*$")
_MOCHA_CONT = re.compile(r"^\s{5,}(?P<text>\S.*?)\s*$")


def is_js_project_path(path: str) -> bool:
    outside = ("node_modules/" in path, "/_actions/" in path, "/externals/node" in path)
    return not (any(outside) or path.startswith(("node:", "internal/")) or path == "<anonymous>")


class JsParser:
    """jest/vitest (`●` headers, cross-marked lines, `FAIL file > test`), mocha (`N failing` blocks) and
    node's uncaught errors, with the first error's frames."""

    name = "js"

    def __init__(self) -> None:
        self._headers = _Tests()  # from ● headers, vitest FAIL lines and mocha blocks: full names
        self._crosses = _Tests()  # from ✕ lines: leaf names, used when no header names exist
        self.exception_type: str | None = None
        self.message: str | None = None
        self._frames = _Frames()
        self._pending: tuple[str, str | None] | None = None  # an error line awaiting its first frame
        self._frames_done = False
        self._suite_failed = False
        self._mocha = False
        self._mocha_parts: list[str] | None = None
        self._js_seen = False
        self._pending_age = 0
        self._after_header = False
        self._in_failure = False  # inside a jest failure block, where frames belong to the failure
        self._fail_file: str | None = None

    def feed(self, line: str) -> None:
        if self._feed_names(line):
            return
        maybe_exc = "Error" in line or "Exception" in line
        if maybe_exc and (m := _JS_EXC.match(line)) and not self._frames.innermost_first:
            self._pending, self._pending_age, self._after_header = (m["type"], _cap(m["msg"])), 0, False
            return
        self._pending_age += 1
        if self._pending_age > _PENDING_LINES:
            self._pending = None
        if self._after_header and line.strip():
            self._after_header = False
            if self.message is None and not _JS_FRAME.match(line):
                self.message = _cap(line)
        if ("at " in line or "❯" in line) and (f := _JS_FRAME.match(line)):
            self._js_seen = True
            # frames count after an error line or a failure header, not under a console.log
            if self._frames_done or not (self._pending or self._in_failure):
                return
            if self._pending and self.exception_type is None:
                self.exception_type, self.message = self._pending
            file = f["file"].removeprefix("file://")
            self._frames.add(Frame(file, int(f["line"]), f["fn"] or None, is_js_project_path(file)))
            return
        if self._frames.innermost_first and line.strip():
            self._frames_done = True

    def _feed_names(self, line: str) -> bool:
        if "●" in line and (m := _JEST_HEADER.match(line)):
            name = m["name"]
            if name == "Test suite failed to run":
                self._suite_failed = True
            elif not name.startswith(("Console", "console.")):
                self._headers.add(name)
            self._js_seen = self._after_header = self._in_failure = True
            return True
        if "FAIL" in line and (m := _JEST_FAIL_FILE.match(line)):
            rest = m["rest"]
            if " > " in rest:  # vitest names the test on its FAIL line
                self._headers.add(rest)
            elif self._fail_file is None:
                self._fail_file = rest
            return False
        if ("✕" in line or "×" in line or "✗" in line or "✖" in line) and (m := _CROSS.match(line)):
            if m["name"] != "failing tests:":  # node --test's summary heading
                self._crosses.add(m["name"])
            self._js_seen = True
            return True
        return (self._mocha or "failing" in line) and self._feed_mocha(line)

    def _feed_mocha(self, line: str) -> bool:
        if _MOCHA_FAILING.match(line):
            self._mocha = self._js_seen = True
            return True
        if not self._mocha:
            return False
        if m := _MOCHA_HEAD.match(line):
            self._mocha_parts = [m["text"]]
        elif self._mocha_parts is not None and (m := _MOCHA_CONT.match(line)):
            self._mocha_parts.append(m["text"])
        else:
            return False
        if self._mocha_parts[-1].endswith(":"):
            self._headers.add(" ".join(self._mocha_parts)[:-1])
            self._mocha_parts = None
        return True

    def result(self) -> Finding | None:
        tests = self._headers.ids or self._crosses.ids
        cls = FailureClass.TEST_FAILURE if tests else None
        if self._suite_failed and not tests:
            tests, cls = ([self._fail_file] if self._fail_file else []), FailureClass.IMPORT_ERROR
        # an error with no test must reach project code: a GitHub action's own crash is not the project's
        if not (tests or cls or any(f.project for f in self._frames.innermost_first)):
            return None
        return Finding(
            parser=self.name,
            failing_tests=list(tests),
            exception_type=self.exception_type,
            message=self.message,
            frames=self._frames.outermost_first(),
            failure_class=cls,
        )


# ---------------------------------------------------------------- Go

_GO_OUTSIDE = ("/usr/local/go/", "/usr/lib/go", "/opt/hostedtoolcache/go/", "/go/pkg/mod/", "/pkg/mod/")
_GO_FAIL = re.compile(r"^\s*--- FAIL: (?P<test>\S+) \(\d+(?:\.\d+)?s\)")
_GO_MSG = re.compile(r"^\s+(?P<file>[\w./-]+\.go):(?P<line>\d+): (?P<msg>.+)$")
_GO_RUN = re.compile(r"^=== (?:RUN|CONT)\s+(?P<test>\S+)")
_GO_PANIC = re.compile(r"^panic: (?P<msg>.+?)(?: \[recovered\])?$")
_GO_FUNC = re.compile(r"^(?P<fn>[\w./*()\[\]{}-]+)\(.*\)$")
_GO_FILE = re.compile(r"^\t(?P<file>\S+\.go):(?P<line>\d+)(?: \+0x[0-9a-f]+)?$")
_GO_BUILD_FAILED = re.compile(r"^FAIL\s+\S+\s+\[(?:build|setup) failed\]")
_GO_BUILD_ERR = re.compile(r"^(?P<file>[^\s:]+\.go):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)$")


def is_go_project_path(path: str) -> bool:
    return not (path.startswith(_GO_OUTSIDE) or "/go/pkg/mod/" in path or "/src/runtime/" in path)


class GoParser:
    """`go test`: failing tests, the first `file_test.go:N: message`, panics with the panicking
    goroutine's frames, timeouts and build failures."""

    name = "go"

    def __init__(self) -> None:
        self._tests = _Tests()
        self._running: str | None = None
        self.message: str | None = None
        self.exception_type: str | None = None
        self._first: Frame | None = None  # where the first test message was logged
        self._frames = _Frames()
        self._panic = "no"  # no | header | frames | done
        self._fn: str | None = None
        self._timeout = False
        self._build_failed = False
        self._build: list[Location] = []

    def feed(self, line: str) -> None:
        go_file = ".go:" in line
        if line.startswith("=== ") and (m := _GO_RUN.match(line)):
            self._running = m["test"]
        elif "--- FAIL" in line and (m := _GO_FAIL.match(line)):
            self._tests.add(m["test"])
        elif go_file and (m := _GO_MSG.match(line)):
            if self._first is None and (self._running or self._tests.ids):
                test = self._running or self._tests.ids[-1]
                self._first = Frame(m["file"], int(m["line"]), test, is_go_project_path(m["file"]))
                self.message = _cap(m["msg"])
        elif go_file and (m := _GO_BUILD_ERR.match(line)):
            if len(self._build) < MAX_ERROR_LINES:
                self._build.append(Location(m["file"], int(m["line"]), int(m["col"]), _cap(m["msg"])))
        elif line.startswith("FAIL") and _GO_BUILD_FAILED.match(line):
            self._build_failed = True
        elif self._panic != "done" and (self._panic != "no" or line.startswith("panic: ")):
            self._feed_panic(line)

    def _feed_panic(self, line: str) -> None:
        if self._panic == "no" and (m := _GO_PANIC.match(line)):
            self.exception_type, self.message, self._panic = "panic", _cap(m["msg"]), "header"
            self._timeout = m["msg"].startswith("test timed out")
            if self._running and not self._timeout:
                self._tests.add(self._running)
        elif self._panic == "header" and line.startswith("goroutine "):
            self._panic = "frames"
        elif self._panic == "frames":
            if m := _GO_FUNC.match(line):
                self._fn = m["fn"]
            elif m := _GO_FILE.match(line):
                self._frames.add(Frame(m["file"], int(m["line"]), self._fn, is_go_project_path(m["file"])))
                self._fn = None
            elif not line.strip() or line.startswith("goroutine "):
                self._panic = "done"

    def result(self) -> Finding | None:
        frames = self._frames.outermost_first() or ([self._first] if self._first else [])
        if not (self._tests.ids or frames or self._build or self.exception_type):
            return None
        cls: FailureClass | None = None
        if self._timeout:
            cls = FailureClass.TIMEOUT
        elif self._tests.ids:
            cls = FailureClass.TEST_FAILURE
        elif self._build and self._build_failed:
            cls = FailureClass.BUILD_ERROR
        return Finding(
            parser=self.name,
            failing_tests=list(self._tests.ids),
            exception_type=self.exception_type,
            message=self.message,
            frames=frames,
            locations=list(self._build) if cls is FailureClass.BUILD_ERROR else [],
            failure_class=cls,
        )
