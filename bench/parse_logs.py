"""Parse time and peak memory of build_report, for the largest fixture logs and generated big logs.

    .venv/bin/python bench/parse_logs.py [--mb 10 50] [--keep DIR]

Each log is parsed in a fresh subprocess, which reports its wall time, its CPU time (less disturbed
when other work shares the machine) and its peak RSS (ru_maxrss) before and after parsing, so
"growth" is what parsing itself held. The generated logs repeat the
fixtures' lines with every number varied, under GitHub Actions timestamps. Targets: growth flat
with size (streaming), and under 1 s per 10 MB.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "tests" / "fixtures" / "logs"
LARGEST = 3

CHILD = """
import json, resource, sys, time
from sandbox_runner.report import PARSERS, build_report
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t, cpu = time.perf_counter(), time.process_time()
with open(sys.argv[1], "rb") as f:
    report = build_report(f)
elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "rss_before_kb": before, "rss_after_kb": after,
                  "parsers": len(PARSERS), "class": report.failure_class}))
"""

_NUMBER = re.compile(rb"\d+")


def generate(path: Path, megabytes: int) -> None:
    """A log of about `megabytes` MB: the fixtures' lines again and again, numbers varied each round."""
    lines = [ln.split(b"Z ", 1)[-1] for p in sorted(LOGS.glob("*.log")) for ln in p.read_bytes().splitlines()]
    target = megabytes * 1024 * 1024
    written = 0
    with open(path, "wb") as out:
        for round_no in itertools.count():
            buf = []
            shift = round_no

            def vary(m: re.Match[bytes], shift: int = shift) -> bytes:
                return str(int(m.group()) + shift).encode()

            for i, line in enumerate(lines):
                varied = _NUMBER.sub(vary, line) if shift else line
                stamp = f"2024-05-01T{round_no % 24:02d}:{i % 60:02d}:{i % 60:02d}.{i:07d}Z ".encode()
                buf.append(stamp + varied)
            chunk = b"\n".join(buf) + b"\n"
            out.write(chunk)
            written += len(chunk)
            if written >= target:
                return


def measure(path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    data: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return data


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, nargs="*", default=[10, 50], help="sizes of generated logs (MB)")
    ap.add_argument("--keep", type=Path, help="write the generated logs here instead of a temp dir")
    args = ap.parse_args()
    largest = sorted(LOGS.glob("*.log"), key=lambda p: p.stat().st_size, reverse=True)[:LARGEST]
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        cases = [(p.name, p) for p in largest]
        for mb in args.mb:
            gen = where / f"generated-{mb}mb.log"
            generate(gen, mb)
            cases.append((gen.name, gen))
        header = (
            f"{'log':44} {'MB':>7} {'seconds':>8} {'s/10MB':>7} {'CPU s/10MB':>10} {'peak RSS MB':>11} "
            f"{'growth MB':>9}"
        )
        print(header)
        print("-" * len(header))
        parsers = 0.0
        for name, path in cases:
            r = measure(path)
            mb = path.stat().st_size / 1024 / 1024
            growth = (r["rss_after_kb"] - r["rss_before_kb"]) / 1024
            per10, cpu10 = r["seconds"] / mb * 10, r["cpu_seconds"] / mb * 10
            peak = r["rss_after_kb"] / 1024
            figures = f"{r['seconds']:8.3f} {per10:7.3f} {cpu10:10.3f} {peak:11.1f} {growth:9.1f}"
            print(f"{name:44} {mb:7.2f} {figures}")
            parsers = r["parsers"]
        print(f"(parsers landed: {int(parsers)}; growth = peak RSS after parsing minus before)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
