"""How well dialplan understands callers: accuracy per slot type over a labelled corpus.

    .venv/bin/python bench/understanding.py [CORPUS_DIR] [--misses-only]

Runs every case of the corpus (default: tests/understanding/) through the same understanding
code a call runs, with the example flows of flows/ for the intent cases, and prints the
accuracy per kind of value, overall, and every miss. tests/test_understanding.py holds the
floor (97 % overall, no kind under 95 %).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from engine.project import Project
from engine.settings import Settings
from engine.testing.understanding import load_corpus, run_corpus

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=ROOT / "tests" / "understanding")
    args = parser.parse_args()
    project = Project.from_settings(
        Settings(flows_dir=ROOT / "flows", prompts_dir=ROOT / "prompts")
    )
    cases = load_corpus(args.corpus)
    started = time.perf_counter()
    report = run_corpus(cases, project)
    elapsed = time.perf_counter() - started
    print("\n".join(report.lines()))
    for batch in report.batches():
        part = report.batch(batch)
        print(f"\n== {batch or 'tuned (tests/understanding/*.yaml)'} ==")
        print("\n".join(part.lines()[: len(part.by_kind()) + 2]))
    each = elapsed / max(len(cases), 1) * 1000
    print(f"\n{len(cases)} cases in {elapsed:.2f} s ({each:.1f} ms each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
