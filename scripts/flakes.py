"""Hunts flaky tests: runs the tests that drive a browser or several processes N times, with a CPU hog busy on
every core (a loaded CI machine), and prints how many times each test passed.

    make flakes N=10        (or: python scripts/flakes.py -n 10 [pytest arguments...])

A test that fails even once is a flake to fix (wait for a state the page shows, never for a time). Each
failure's first line is printed; every run's JUnit XML is kept in test-output/flakes/ for the whole story.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "test-output" / "flakes"
MODULES = [
    "tests/e2e/test_browser.py",
    "tests/e2e/test_book.py",
    "tests/e2e/test_study_browser.py",
    "tests/web/test_widget.py",
    "tests/e2e/test_deployment.py",
]


def hog() -> None:
    """One core kept busy."""
    while True:
        pass


def outcomes(report: Path) -> dict[str, str | None]:
    """Each test of a JUnit XML report, with None when it passed or the first line of why it did not."""
    found: dict[str, str | None] = {}
    for case in ET.parse(report).iter("testcase"):
        name = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
        trouble = next((child for child in case if child.tag in ("failure", "error", "skipped")), None)
        if trouble is None:
            found[name] = None
        else:
            lines = (trouble.get("message") or trouble.tag).strip().splitlines() or [trouble.tag]
            found[name] = f"{trouble.tag}: {lines[0][:160]}"
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10, help="runs of each test (default 10)")
    parser.add_argument("--no-hog", action="store_true", help="leave the cores idle")
    parser.add_argument("pytest_args", nargs="*", help=f"what to run (default: {' '.join(MODULES)})")
    args = parser.parse_args()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    hogs = [] if args.no_hog else [multiprocessing.Process(target=hog, daemon=True) for _ in range(os.cpu_count() or 1)]
    for process in hogs:
        process.start()
    passed: Counter[str] = Counter()
    why: defaultdict[str, list[str]] = defaultdict(list)
    started = time.monotonic()
    try:
        for run in range(1, args.n + 1):
            report = OUTPUT / f"run-{run}.xml"
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"]
            subprocess.run([*command, *(args.pytest_args or MODULES)], cwd=REPO, stdout=subprocess.DEVNULL)
            for name, trouble in outcomes(report).items():
                passed[name] += trouble is None
                if trouble is not None:
                    why[name].append(f"run {run}: {trouble}")
            print(f"run {run}/{args.n} done, {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    finally:
        for process in hogs:
            process.kill()
    print(f"{'passed':>7}  test  ({args.n} runs, {'no hog' if args.no_hog else f'{len(hogs)} cores hogged'})")
    for name in sorted(passed):
        print(f"{passed[name]:>3}/{args.n:<3}  {name}")
        for line in why[name]:
            print(f"          {line}")
    return 0 if all(count == args.n for count in passed.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
