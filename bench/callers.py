"""How often a whole call ends where its caller meant it to: scripted callers, no model.

    .venv/bin/python bench/callers.py [CALLERS_DIR]

Plays every scripted caller of tests/callers/ (one file per example flow) through its flow
in-process, with the flows' actions run (a fresh table book for each call), and prints the
share of calls that ended right per flow and overall, then every call that did not, with its
transcript. tests/test_callers.py holds the floor (95 %).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from engine.examples import booking
from engine.project import Project
from engine.server.logs import configure
from engine.settings import Settings
from engine.testing.callers import load_callers, play_all

ROOT = Path(__file__).resolve().parent.parent


def fresh_book() -> None:
    booking.BOOK = booking.Book()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("callers", nargs="?", type=Path, default=ROOT / "tests" / "callers")
    args = parser.parse_args()
    project = Project.from_settings(
        Settings(flows_dir=ROOT / "flows", prompts_dir=ROOT / "prompts")
    )
    configure("WARNING")
    callers = load_callers(args.callers)
    started = time.perf_counter()
    report = asyncio.run(play_all(callers, project, fresh_book))
    elapsed = time.perf_counter() - started
    print("\n".join(report.lines()))
    print(f"\n{len(callers)} calls in {elapsed:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
