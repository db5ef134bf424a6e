"""JUnit XML: real pytest `--junitxml` files from projects made in tmp_path, other producers' shapes,
and hostile files."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from sandbox_runner.junit import MAX_TESTS, JUnitError, parse_junit
from sandbox_runner.result import Outcome

PROJECT = {
    "tests/__init__.py": "",
    "tests/test_calc.py": """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("fixture boom")

@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown boom")

class TestAdd:
    @pytest.mark.parametrize("n", [1, 2, "a.b"])
    def test_param(self, n):
        assert n == 1, "token=ghp_abcdefghijklmnopqrstuvwxyz0123 leaked"

    def test_fixture_error(self, broken):
        pass

    class TestNested:
        def test_inner(self):
            pass

def test_skip():
    pytest.skip("not on this platform")

@pytest.mark.skip(reason="marked")
def test_skip_mark():
    pass

@pytest.mark.xfail(reason="known bug 12")
def test_xfail():
    assert 0

def test_xfail_call():
    pytest.xfail("imperative")

@pytest.mark.xfail(reason="fixed?")
def test_xpass():
    pass

@pytest.mark.xfail(strict=True)
def test_xpass_strict():
    pass

def test_teardown_error(bad_teardown):
    pass

def test_ok():
    pass
""",
    "tests/Upper_test.py": "def test_upper_module():\n    pass\n",
    "tests/test_broken_import.py": "import no_such_module\n",
    "pkg_tests/test_plain.py": "def test_plain():\n    assert 1 + 1 == 3\n",
}


def write_project(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def run_pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    write_project(root, PROJECT)
    for family in ("xunit2", "xunit1"):
        run_pytest(
            root,
            f"--junitxml={family}.xml",
            "-o",
            f"junit_family={family}",
            "--continue-on-collection-errors",
        )
    return root


def collected_node_ids(root: Path) -> set[str]:
    out = run_pytest(root, "--collect-only", "--continue-on-collection-errors").stdout
    return {line for line in out.splitlines() if "::" in line}


EXPECTED = {
    "tests/test_calc.py::TestAdd::test_param[1]": Outcome.PASSED,
    "tests/test_calc.py::TestAdd::test_param[2]": Outcome.FAILED,
    "tests/test_calc.py::TestAdd::test_param[a.b]": Outcome.FAILED,
    "tests/test_calc.py::TestAdd::test_fixture_error": Outcome.ERROR,
    "tests/test_calc.py::TestAdd::TestNested::test_inner": Outcome.PASSED,
    "tests/test_calc.py::test_skip": Outcome.SKIPPED,
    "tests/test_calc.py::test_skip_mark": Outcome.SKIPPED,
    "tests/test_calc.py::test_xfail": Outcome.XFAILED,
    "tests/test_calc.py::test_xfail_call": Outcome.XFAILED,
    "tests/test_calc.py::test_xpass": Outcome.PASSED,  # pytest's junit does not mark a lenient xpass
    "tests/test_calc.py::test_xpass_strict": Outcome.FAILED,
    "tests/test_calc.py::test_teardown_error": Outcome.ERROR,  # reported twice: pass, then error
    "tests/test_calc.py::test_ok": Outcome.PASSED,
    "tests/Upper_test.py::test_upper_module": Outcome.PASSED,
    "tests/test_broken_import.py": Outcome.ERROR,  # a collection error: the module's node id
    "pkg_tests/test_plain.py::test_plain": Outcome.FAILED,
}


@pytest.mark.parametrize("family", ["xunit2", "xunit1"])
def test_real_pytest_junit_gives_node_ids_and_outcomes(project: Path, family: str) -> None:
    result = parse_junit(str(project / f"{family}.xml"), repo_dir=str(project))
    assert {t.id: t.outcome for t in result.tests} == EXPECTED
    assert result.collected == len(EXPECTED)
    assert not result.truncated
    ids_pytest_collects = collected_node_ids(project)
    assert {i for i in EXPECTED if "::" in i} == ids_pytest_collects


def test_without_repo_dir_ids_come_from_the_names(project: Path) -> None:
    ids = {t.id for t in parse_junit(project / "xunit2.xml").tests}
    assert "tests/test_calc.py::TestAdd::TestNested::test_inner" in ids
    # a capitalised module name looks like a class without the checkout to look at
    assert "tests.py::Upper_test::test_upper_module" in ids
    # xunit1 names the file, so nothing is guessed
    assert "tests/Upper_test.py::test_upper_module" in {
        t.id for t in parse_junit(project / "xunit1.xml").tests
    }


def test_messages_are_first_lines_and_redacted(project: Path) -> None:
    by_id = {t.id: t for t in parse_junit(project / "xunit2.xml").tests}
    failed = by_id["tests/test_calc.py::TestAdd::test_param[2]"]
    assert failed.message == "AssertionError: token=[REDACTED] leaked"
    assert by_id["tests/test_calc.py::test_skip"].message == "not on this platform"
    assert by_id["tests/test_calc.py::test_xfail"].message == "known bug 12"
    assert by_id["tests/test_calc.py::TestAdd::test_fixture_error"].message == (
        'failed on setup with "RuntimeError: fixture boom"'
    )
    assert (
        by_id["tests/test_broken_import.py"].message
        == "ModuleNotFoundError: No module named 'no_such_module'"
    )
    assert by_id["tests/test_calc.py::test_ok"].message is None
    assert all(t.duration_s is not None and t.duration_s >= 0 for t in by_id.values())


def test_a_binary_stream_reads_the_same(project: Path) -> None:
    data = (project / "xunit2.xml").read_bytes()
    assert (
        parse_junit(io.BytesIO(data), repo_dir=str(project)).tests
        == parse_junit(str(project / "xunit2.xml"), repo_dir=str(project)).tests
    )


class Trickle(io.RawIOBase):
    """A stream that gives a few bytes per read, so text arrives split anywhere."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step = memoryview(data), step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.step, len(self.data))
        buffer[:n], self.data = self.data[:n], self.data[n:]
        return n


@pytest.mark.parametrize("step", [1, 7, 100])
def test_text_split_anywhere_reads_the_same(project: Path, step: int) -> None:
    data = (project / "xunit2.xml").read_bytes()
    trickled = parse_junit(Trickle(data, step), repo_dir=str(project))  # type: ignore[arg-type]
    assert trickled.tests == parse_junit(io.BytesIO(data), repo_dir=str(project)).tests


# --- other producers -----------------------------------------------------------------------------

SUREFIRE = b"""<?xml version="1.0" encoding="UTF-8"?>
<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" name="com.acme.CalcTest" time="1,234.5"
    tests="4" errors="1" skipped="1" failures="1">
  <properties><property name="java.version" value="17"/></properties>
  <testcase name="adds" classname="com.acme.CalcTest" time="0.01"/>
  <testcase name="divides" classname="com.acme.CalcTest" time="1,001.5">
    <failure message="expected: &lt;2&gt; but was: &lt;3&gt;" type="org.opentest4j.AssertionFailedError">
org.opentest4j.AssertionFailedError: expected: &lt;2&gt; but was: &lt;3&gt;
\tat com.acme.CalcTest.divides(CalcTest.java:20)</failure>
    <system-out>password=hunter2hunter2</system-out>
  </testcase>
  <testcase name="parses" classname="com.acme.CalcTest" time="0">
    <error type="java.lang.NullPointerException"
      >java.lang.NullPointerException: Cannot invoke "String.length()"
\tat com.acme.CalcTest.parses(CalcTest.java:30)</error>
  </testcase>
  <testcase name="later" classname="com.acme.CalcTest" time="0"><skipped/></testcase>
  <testcase name="flaky" classname="com.acme.CalcTest" time="0.2">
    <flakyFailure message="first try" type="java.lang.AssertionError"/>
  </testcase>
</testsuite>
"""

JEST = b"""<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="3" failures="1" errors="0" time="1.2">
  <testsuite name="math" errors="0" failures="1" skipped="1" timestamp="2026-01-01T00:00:00" time="1.1"
      tests="3">
    <testcase classname="math adds numbers" name="math adds numbers" time="0.002"/>
    <testcase classname="math subtracts" name="math subtracts" time="0.003">
      <failure>Error: expect(received).toBe(expected) // Object.is equality

Expected: 1
Received: 2
    at Object.&lt;anonymous&gt; (/repo/math.test.js:5:17)</failure>
    </testcase>
    <testcase classname="math todo" name="math todo" time="0"><skipped/></testcase>
  </testsuite>
</testsuites>
"""

UNITTEST_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="tests.test_calc.CalcTest-20260101000000" tests="3" file="tests/test_calc.py" time="0.003">
    <testcase classname="tests.test_calc.CalcTest" name="test_add" time="0.001"
        file="tests/test_calc.py" line="5"/>
    <testcase classname="tests.test_calc.CalcTest" name="test_div" time="0.001"
        file="tests/test_calc.py" line="8">
      <failure type="AssertionError" message="2 != 3"><![CDATA[Traceback (most recent call last):
AssertionError: 2 != 3]]></failure>
    </testcase>
    <testcase classname="tests.test_calc.CalcTest" name="test_skip" time="0.000">
      <skipped type="skip" message="later"/>
    </testcase>
  </testsuite>
</testsuites>
"""


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (
            SUREFIRE,
            {
                "com.acme.CalcTest.adds": (Outcome.PASSED, None, 0.01),
                "com.acme.CalcTest.divides": (Outcome.FAILED, "expected: <2> but was: <3>", 1001.5),
                "com.acme.CalcTest.parses": (
                    Outcome.ERROR,
                    'java.lang.NullPointerException: Cannot invoke "String.length()"',
                    0.0,
                ),
                "com.acme.CalcTest.later": (Outcome.SKIPPED, None, 0.0),
                "com.acme.CalcTest.flaky": (Outcome.PASSED, None, 0.2),  # passed on a rerun
            },
        ),
        (
            JEST,
            {
                "math adds numbers.math adds numbers": (Outcome.PASSED, None, 0.002),
                "math subtracts.math subtracts": (
                    Outcome.FAILED,
                    "Error: expect(received).toBe(expected) // Object.is equality",
                    0.003,
                ),
                "math todo.math todo": (Outcome.SKIPPED, None, 0.0),
            },
        ),
        (
            UNITTEST_XML,
            {
                "tests.test_calc.CalcTest.test_add": (Outcome.PASSED, None, 0.001),
                "tests.test_calc.CalcTest.test_div": (Outcome.FAILED, "2 != 3", 0.001),
                "tests.test_calc.CalcTest.test_skip": (Outcome.SKIPPED, "later", 0.0),
            },
        ),
    ],
)
def test_other_producers_keep_classname_dot_name(
    xml: bytes, expected: dict[str, tuple[Outcome, str | None, float]]
) -> None:
    result = parse_junit(io.BytesIO(xml))
    assert {t.id: (t.outcome, t.message, t.duration_s) for t in result.tests} == expected
    assert result.collected == len(expected)
    assert "hunter2" not in repr(result)


def test_empty_report() -> None:
    result = parse_junit(
        io.BytesIO(b'<testsuites name="pytest tests"><testsuite name="pytest" tests="0"/></testsuites>')
    )
    assert result.tests == []
    assert result.collected == 0


# --- hostile files -------------------------------------------------------------------------------

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<testsuite><testcase classname="a" name="b"><failure message="&lol9;"/></testcase></testsuite>
"""

EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE t [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<testsuite><testcase classname="a" name="b"><failure message="&secret;"/></testcase></testsuite>
"""

DOCTYPE_ONLY = b'<?xml version="1.0"?><!DOCTYPE testsuite SYSTEM "http://example.com/x.dtd"><testsuite/>'


@pytest.mark.parametrize(
    ("xml", "why"),
    [
        (LAUGHS, "document type declaration"),
        (EXTERNAL, "document type declaration"),
        (DOCTYPE_ONLY, "document type declaration"),
        (b"<testsuite><testcase name='a'>", "not well-formed"),
        (b"not xml at all", "not well-formed"),
        (b"", "not well-formed"),
    ],
)
def test_hostile_or_broken_xml_is_refused(xml: bytes, why: str) -> None:
    with pytest.raises(JUnitError, match=why):
        parse_junit(io.BytesIO(xml))


class HugeReport(io.RawIOBase):
    """A JUnit file with `megabytes` of failure text and of system-out, made as it is read."""

    def __init__(self, megabytes: int, line: bytes) -> None:
        mib = 1024 * 1024
        self.chunks = iter(
            [
                b'<testsuite name="pytest"><testcase classname="t.test_a" name="test_x"><failure>',
                *[line * (mib // len(line))] * megabytes,
                b"</failure><system-out>",
                *[b"o" * mib] * megabytes,
                b"</system-out></testcase></testsuite>",
            ]
        )
        self.pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self.pending:
            self.pending = memoryview(next(self.chunks, b""))
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


@pytest.mark.parametrize("line", [b"E", b"E\n", b"&amp;\n"])
def test_a_huge_report_is_read_in_flat_memory(line: bytes) -> None:
    stream = io.BufferedReader(HugeReport(megabytes=40, line=line))
    tracemalloc.start()
    try:
        result = parse_junit(stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(t.id, t.outcome) for t in result.tests] == [("t/test_a.py::test_x", Outcome.FAILED)]
    assert result.tests[0].message is not None
    assert result.tests[0].message in ("E" * 300, "E", "&")
    assert peak < 5 * 1024 * 1024  # the file is 80 MB


def test_too_many_test_cases_are_counted_not_kept() -> None:
    cases = b"".join(b'<testcase classname="m.C" name="t%d"/>' % i for i in range(MAX_TESTS + 5))
    result = parse_junit(io.BytesIO(b"<testsuite>" + cases + b"</testsuite>"))
    assert len(result.tests) == MAX_TESTS
    assert result.truncated
    assert result.collected == MAX_TESTS + 5
