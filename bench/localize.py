"""Localization on real bugs: single-token mutations of small pure-Python libraries, caught by their
own test suites, localized from the real pytest output.

    .venv/bin/python bench/localize.py                 # every case of bench/corpus/localize.toml
    .venv/bin/python bench/localize.py --only parse    # one library
    .venv/bin/python bench/localize.py --propose parse 8 --seed 1   # find 8 new caught mutations
    .venv/bin/python bench/localize.py --spectrum      # with run-time evidence (the tracer)
    .venv/bin/python bench/localize.py --overhead --python python3.12   # the tracer's cost only

For each library (a pinned sdist from PyPI, checked against its sha256, cached in bench-out/) and
each case: extract a fresh copy, apply the mutation, run the library's tests with real pytest in a
venv the bench creates once (bench-out/localize/venv), rewrite the work directory in the log to a
CI runner's path (/home/runner/work/<lib>/<lib>), build the FailureReport with build_report, and
time build_context on the checkout (localization only). A case is a hit at rank r when the r-th
location is the mutated function (or a bare line range holding the mutated line). Cases whose
tests do not fail are reported as not caught and left out of the figures.

Targets: the mutated function in the top 5 for >= 90% of cases whose failure has a traceback,
median context < 6,000 tokens, < 2 s per case.

With --spectrum the library's tests run with the run-time tracer (`sandbox_runner/autofix_trace.py`,
loaded with `-p autofix_trace` as the sandbox runner does), and its trace goes to build_context
with the log: spectrum-based evidence from the whole suite's failing and passing tests. Before the
cases, each library's unmutated suite is timed without and with the tracer (best of 3).
"""

from __future__ import annotations

import argparse
import hashlib
import html
import random
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
import tomllib
import urllib.request
import venv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from mutants import Mutation, apply, find_mutations  # noqa: E402

from jobs.patch.localize import build_context  # noqa: E402
from sandbox_runner.report import build_report  # noqa: E402
from sandbox_runner.tracefile import read_trace, trace_env  # noqa: E402

CORPUS = ROOT / "bench" / "corpus" / "localize.toml"
OUT = ROOT / "bench-out" / "localize"
PYTEST = "pytest==8.3.4"
TEST_TIMEOUT = 300


@dataclass
class Library:
    name: str
    version: str
    sha256: str
    source: list[str]  # files whose functions are mutated
    tests: list[str]  # pytest arguments
    pythonpath: list[str]
    tb: str = "auto"
    install: str = ""  # a package dir copied to a fake site-packages (tests import the installed copy)

    @property
    def sdist(self) -> str:
        return f"{self.name}-{self.version}.tar.gz"


def load_corpus(path: Path) -> tuple[dict[str, Library], list[Mutation]]:
    data = tomllib.loads(path.read_text())
    libs = {d["name"]: Library(**d) for d in data.get("library", [])}
    cases = [Mutation(**c) for c in data.get("case", [])]
    return libs, cases


def fetch_sdist(lib: Library) -> Path:
    """The pinned sdist, from PyPI's simple index (PEP 503), checked against the corpus's sha256."""
    target = OUT / "sdists" / lib.sdist
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(f"https://pypi.org/simple/{lib.name}/", timeout=60) as r:
            page = r.read().decode()
        links = re.findall(r'href="([^"#]+/' + re.escape(lib.sdist) + r')(?:#[^"]*)?"', page)
        if not links:
            raise SystemExit(f"{lib.sdist}: not on https://pypi.org/simple/{lib.name}/")
        url = html.unescape(links[0])
        if not url.startswith("https://"):
            raise SystemExit(f"{lib.sdist}: unexpected link {url}")
        with urllib.request.urlopen(url, timeout=120) as r:  # noqa: S310  # https only, checked above
            target.write_bytes(r.read())
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    if digest != lib.sha256:
        raise SystemExit(f"{lib.sdist}: sha256 {digest}, expected {lib.sha256}")
    return target


def ensure_venv(base: str | None = None) -> Path:
    """The venv the tests run in: of this Python, or of `base` (another interpreter) in its own dir."""
    where = OUT / ("venv" if base is None else f"venv-{Path(base).resolve().parent.parent.name}")
    python = where / "bin" / "python"
    if not python.exists():
        if base is None:
            venv.create(where, with_pip=True)
        else:
            subprocess.run([base, "-m", "venv", str(where)], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", PYTEST], check=True)
    return python


def fresh_copy(lib: Library) -> Path:
    """A pristine extracted copy of the sdist, the checkout the localizer reads."""
    work = OUT / "work" / lib.name
    shutil.rmtree(work, ignore_errors=True)
    work.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fetch_sdist(lib)) as tar:
        tar.extractall(work.parent / "_extract", filter="data")
    (work.parent / "_extract" / f"{lib.name}-{lib.version}").rename(work)
    shutil.rmtree(work.parent / "_extract", ignore_errors=True)
    if not _has_pytest_config(work):  # else pytest would take this repo's pyproject.toml as its own
        (work / "pytest.ini").write_text("[pytest]\n")
    return work


def _has_pytest_config(work: Path) -> bool:
    marks = {
        "pytest.ini": "",
        "pyproject.toml": "[tool.pytest",
        "tox.ini": "[pytest]",
        "setup.cfg": "[tool:pytest]",
    }
    return any((work / f).is_file() and mark in (work / f).read_text() for f, mark in marks.items())


def run_tests(python: Path, lib: Library, work: Path, trace: Path | None = None) -> tuple[int, str]:
    """The library's tests; with `trace`, run with the tracer writing there."""
    paths = [str(work / p) for p in lib.pythonpath]
    site = OUT / "site" / lib.name / "lib" / "python3" / "site-packages"
    if lib.install:
        shutil.rmtree(site, ignore_errors=True)
        shutil.copytree(work / lib.install, site / Path(lib.install).name)
        paths.insert(0, str(site))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(paths), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--tb={lib.tb}", *lib.tests]
    if trace is not None:
        trace.unlink(missing_ok=True)
        env = trace_env(OUT, work, env) | {"AUTOFIX_TRACE_OUT": str(trace)}
        env["AUTOFIX_TRACE_EXTRA"] = str(site) if lib.install else ""
        cmd += ["-p", "autofix_trace"]
    try:
        done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=TEST_TIMEOUT)
    except subprocess.TimeoutExpired:
        return -1, ""
    log = (done.stdout + done.stderr).replace(str(work), f"/home/runner/work/{lib.name}/{lib.name}")
    if lib.install:
        log = log.replace(str(OUT / "site" / lib.name), "/opt/hostedtoolcache/Python/3.11.9/x64")
    return done.returncode, log


@dataclass
class Outcome:
    case: Mutation
    caught: bool
    traceback: bool = False
    rank: int | None = None  # 1-based rank of the mutated function, None when not in the locations
    tokens: int = 0
    seconds: float = 0.0
    failing: int = 0


def is_hit(loc: dict[str, object], case: Mutation) -> bool:
    if loc["file"] != case.file:
        return False
    start, end = loc["start_line"], loc["end_line"]
    assert isinstance(start, int)
    assert isinstance(end, int)
    return loc["symbol"] == case.function or (loc["symbol"] is None and start <= case.line <= end)


def evaluate(
    python: Path, lib: Library, work: Path, case: Mutation, reuse: bool = False, spectrum: bool = False
) -> Outcome:
    name = hashlib.sha256(f"{lib.sdist}|{case.key()}".encode()).hexdigest()[:16]
    saved = OUT / ("logs-traced" if spectrum else "logs") / f"{name}.log"
    traced = saved.with_suffix(".trace.json") if spectrum else None
    saved.parent.mkdir(parents=True, exist_ok=True)
    if reuse and saved.exists():
        code, log = int(saved.read_text()[:1]), saved.read_text()[2:]
    else:
        original = apply(work, case)
        try:
            code, log = run_tests(python, lib, work, traced)
        finally:
            (work / case.file).write_text(original)
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(f"{min(max(code, 0), 9)}\n{log}")
    if code not in (1, 2):  # 0: nothing failed; -1: timed out; 2: collection errors count
        return Outcome(case, caught=False)
    report = build_report(log)
    trace = read_trace(traced) if traced is not None else None
    started = time.perf_counter()
    context = build_context(work, report=report, trace=trace)
    elapsed = time.perf_counter() - started
    locations = context.to_json()["locations"]
    rank = next((i + 1 for i, loc in enumerate(locations) if is_hit(loc, case)), None)
    return Outcome(case, True, bool(report.frames), rank, context.tokens, elapsed, len(report.failing_tests))


def prepare(python: Path, lib: Library) -> Path:
    """A fresh checkout whose unmutated test suite passes."""
    work = fresh_copy(lib)
    code, log = run_tests(python, lib, work)
    if code != 0:
        raise SystemExit(f"{lib.name}: the unmutated tests do not pass (exit {code}):\n{log[-3000:]}")
    return work


def overhead(python: Path, lib: Library, work: Path, rounds: int = 3) -> tuple[float, float]:
    """The unmutated suite's wall time without and with the tracer (best of `rounds`, alternating)."""
    plain: list[float] = []
    traced: list[float] = []
    for _ in range(rounds):
        for times, trace in ((plain, None), (traced, OUT / "overhead.trace.json")):
            started = time.perf_counter()
            run_tests(python, lib, work, trace)
            times.append(time.perf_counter() - started)
    return min(plain), min(traced)


def propose(python: Path, lib: Library, count: int, seed: int, known: set[str]) -> None:
    """Print `count` new mutations of `lib` that its tests catch, as corpus entries."""
    work = prepare(python, lib)
    pool = [m for f in lib.source for m in find_mutations(lib.name, work, f) if m.key() not in known]
    random.Random(seed).shuffle(pool)
    used_functions = {k.split("|")[1] for k in known if "|" in k}
    found = 0
    for m in pool:
        if found >= count or m.function in used_functions:
            continue
        outcome = evaluate(python, lib, work, m)
        status = "caught" if outcome.caught else "not caught, dropped"
        print(f"# {m.key()} in {m.function}: {status}", file=sys.stderr)
        if outcome.caught:
            print(m.to_toml())
            found += 1
            used_functions.add(m.function)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def report_table(outcomes: list[Outcome]) -> None:
    print(f"{'case':<58} {'function':<28} {'fail':>4} {'tb':>3} {'rank':>4} {'tokens':>6} {'ms':>6}")
    for o in outcomes:
        where = f"{o.case.library}:{o.case.file.rsplit('/', 1)[-1]}:{o.case.line} {o.case.old}->{o.case.new}"
        if not o.caught:
            print(f"{where[:58]:<58} {o.case.function[:28]:<28}  not caught by the tests: left out")
            continue
        rank = str(o.rank) if o.rank else "-"
        tb = "yes" if o.traceback else "no"
        print(
            f"{where[:58]:<58} {o.case.function[:28]:<28} {o.failing:>4} {tb:>3} {rank:>4} "
            f"{o.tokens:>6} {o.seconds * 1000:>6.0f}"
        )
    caught = [o for o in outcomes if o.caught]
    with_tb = [o for o in caught if o.traceback]
    if not caught:
        print("no case was caught")
        return

    def share(group: list[Outcome], k: int) -> str:
        hits = sum(1 for o in group if o.rank and o.rank <= k)
        return f"{hits}/{len(group)} ({100 * hits / max(1, len(group)):.0f}%)"

    tokens = [float(o.tokens) for o in caught]
    secs = [o.seconds for o in caught]
    print()
    print(f"cases: {len(outcomes)}, caught by their tests: {len(caught)}, with a traceback: {len(with_tb)}")
    print(f"top 1, cases with a traceback: {share(with_tb, 1)}; all caught: {share(caught, 1)}")
    print(f"top 5, cases with a traceback: {share(with_tb, 5)}; all caught: {share(caught, 5)}")
    print(f"context tokens: median {statistics.median(tokens):.0f}, p90 {percentile(tokens, 0.9):.0f}")
    print(
        f"localization time: median {statistics.median(secs) * 1000:.0f} ms, "
        f"p90 {percentile(secs, 0.9) * 1000:.0f} ms, max {max(secs) * 1000:.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--only", help="one library of the corpus")
    parser.add_argument("--propose", nargs=2, metavar=("LIBRARY", "COUNT"), help="find new caught mutations")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--spectrum", action="store_true", help="run the tests with the run-time tracer")
    parser.add_argument(
        "--overhead", action="store_true", help="only time each library's suite without and with the tracer"
    )
    parser.add_argument("--python", help="run the tests with this interpreter (its own venv)")
    parser.add_argument(
        "--reuse-logs",
        action="store_true",
        help="use the test logs of an earlier run (iterating on the localizer)",
    )
    args = parser.parse_args()
    libs, cases = load_corpus(args.corpus)
    python = ensure_venv(args.python)
    if args.propose:
        name, count = args.propose
        known = {m.key() for m in cases} | {f"x|{m.function}" for m in cases if m.library == name}
        propose(python, libs[name], int(count), args.seed, known)
        return 0
    outcomes = []
    times: dict[str, tuple[float, float]] = {}
    for name, lib in libs.items():
        if args.only and name != args.only:
            continue
        work = fresh_copy(lib) if args.reuse_logs else prepare(python, lib)
        if (args.spectrum or args.overhead) and not args.reuse_logs:
            times[name] = overhead(python, lib, work)
        if args.overhead:
            continue
        for case in (c for c in cases if c.library == name):
            outcomes.append(evaluate(python, lib, work, case, args.reuse_logs, args.spectrum))
    if outcomes:
        report_table(outcomes)
    if times:
        print("suite time without / with the tracer (best of 3):")
        for name, (plain, traced) in times.items():
            print(f"  {name:<16} {plain:6.2f} s / {traced:6.2f} s  (x{traced / plain:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
