"""Start-up and memory benchmark: what a command, the pytest plugin and an idle server cost.

Prints, each the best of ``--runs`` runs (default 5) of a fresh process:

* CPU (user + system seconds, from ``getrusage(RUSAGE_CHILDREN)``) of ``dialplan --help``,
  of ``dialplan validate flows/clinic_intake.yaml``, of ``python -c 'import engine'`` and of
  ``python -c 'import engine.testing.pytest_plugin'`` (alone, and after ``import pytest``, as
  in a pytest run);
* CPU of ``pytest --co -q`` in an empty folder with the dialplan plugin and with
  ``-p no:dialplan``: their difference is what the plugin costs every pytest run of a project
  where dialplan is installed;
* the resident memory (``VmRSS`` of ``/proc/<pid>/status``, the server process and any worker
  processes) of an idle ``dialplan serve --flow clinic_intake`` of the example project with
  its default settings (the call log in a temporary SQLite file), taken once ``/readyz``
  answers and again a second later; the larger is reported. Three starts: the first, which
  creates the call log; a restart, which finds it; a restart with a model configured
  (``OPENAI_API_KEY``, and a ``OPENAI_BASE_URL`` where nothing listens).

Not a test: it asserts nothing. Run ``python bench/startup.py`` from the repository root (about
30 s); ``--json PATH`` also writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EXAMPLE_FLOW = "flows/clinic_intake.yaml"
START_TIMEOUT = 60.0


def bare_env(**extra: str) -> dict[str, str]:
    # Nothing of the caller's dialplan or model configuration may change what is measured; and
    # bytecode is cached as in any install (the unmeasured first run writes it), so that no
    # run compiles the engine's modules from source.
    drop = ("DIALPLAN_", "OPENAI_", "AZURE_OPENAI_", "PYTEST_", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(extra)
    return env


def cpu_of(argv: Sequence[str], cwd: Path, ok: Sequence[int] = (0,)) -> float:
    """User + system CPU seconds of one run of ``argv`` (and anything it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, cwd=cwd, env=bare_env(), capture_output=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in ok:
        raise RuntimeError(f"{' '.join(argv)} exited with {done.returncode}:\n{done.stderr!r}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best_cpu(argv: Sequence[str], runs: int, cwd: Path = ROOT, ok: Sequence[int] = (0,)) -> float:
    cpu_of(argv, cwd, ok)  # warm the file cache and the bytecode once, unmeasured
    return min(cpu_of(argv, cwd, ok) for _ in range(runs))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def descendants(pid: int) -> list[int]:
    """``pid`` and every process under it (the supervisor's workers)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                queue.extend(int(child) for child in (task / "children").read_text().split())
        except FileNotFoundError:  # it ended meanwhile
            continue
    return found


def sample(server: int, workers: int) -> dict[str, float]:
    """MiB resident of ``server`` and each process under it, by role."""
    found = {}
    for pid in descendants(server):
        try:
            found[role(pid, server, workers)] = rss_kib(pid) / 1024
        except FileNotFoundError:  # it ended meanwhile
            continue
    return found


def idle_server_rss(workers: int, database: str, model: bool) -> dict[str, float]:
    """MiB resident of an idle ``dialplan serve``, per process, once ``/readyz`` answers."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="dialplan-startup-") as tmp:
        env = bare_env(DIALPLAN_DATABASE_URL=database)  # not the repository's call log
        if model:  # a model where nothing listens: the server is idle all the same
            env.update(OPENAI_API_KEY="bench", OPENAI_BASE_URL=f"http://127.0.0.1:{free_port()}/v1")
        argv = [str(BIN / "dialplan"), "serve", "--port", str(port), "--flow", "clinic_intake"]
        argv += ["--workers", str(workers)]
        with open(Path(tmp) / "server.log", "wb") as log:
            server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            wait_ready(server, f"http://127.0.0.1:{port}/readyz")
            first = sample(server.pid, workers)
            time.sleep(1.0)
            second = sample(server.pid, workers)
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)
        if server.returncode not in (0, -15):
            log_text = (Path(tmp) / "server.log").read_text(errors="replace")
            raise RuntimeError(f"the server exited with {server.returncode}:\n{log_text}")
    return {name: max(first.get(name, 0.0), mib) for name, mib in sorted(second.items())}


def role(pid: int, server: int, workers: int) -> str:
    if pid == server:
        return "server" if workers == 1 else "supervisor"
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    return f"{'resource tracker' if b'resource_tracker' in command else 'worker'} {pid}"


def wait_ready(server: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=1.0):
                return
        except urllib.error.HTTPError:
            return  # it answers (503 while a flow is broken is still an idle server)
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the server did not answer {url} within {START_TIMEOUT:g} s")


def measure(runs: int, workers: int) -> dict[str, float]:
    python, dialplan, pytest = str(BIN / "python"), str(BIN / "dialplan"), str(BIN / "pytest")
    numbers = {
        "dialplan --help": best_cpu([dialplan, "--help"], runs),
        f"dialplan validate {EXAMPLE_FLOW}": best_cpu([dialplan, "validate", EXAMPLE_FLOW], runs),
        "import engine": best_cpu([python, "-c", "import engine"], runs),
        "import engine.testing.pytest_plugin": best_cpu(
            [python, "-c", "import engine.testing.pytest_plugin"], runs
        ),
        "python -c pass": best_cpu([python, "-c", "pass"], runs),
        # What the plugin adds to a pytest run, which has pytest loaded already.
        "import pytest": best_cpu([python, "-c", "import pytest"], runs),
        "import pytest, then the plugin": best_cpu(
            [python, "-c", "import pytest, engine.testing.pytest_plugin"], runs
        ),
    }
    with tempfile.TemporaryDirectory(prefix="dialplan-empty-") as empty:
        # Exit status 5: no tests were collected, which is the point.
        collect = [pytest, "--co", "-q", "-p", "no:cacheprovider"]
        numbers["pytest --co (empty folder)"] = best_cpu(collect, runs, Path(empty), (5,))
        numbers["pytest --co -p no:dialplan"] = best_cpu(
            [*collect, "-p", "no:dialplan"], runs, Path(empty), (5,)
        )
    numbers["pytest plugin's share of the run"] = (
        numbers["pytest --co (empty folder)"] - numbers["pytest --co -p no:dialplan"]
    )
    numbers["pytest plugin's import beyond pytest"] = (
        numbers["import pytest, then the plugin"] - numbers["import pytest"]
    )
    with tempfile.TemporaryDirectory(prefix="dialplan-calls-") as calls:
        database = f"sqlite:///{calls}/calls.db"
        # The first start creates the call log (Alembic migrates it); a restart finds it current.
        starts = (("first start", False), ("restart", False), ("restart, with a model", True))
        for start, model in starts:
            for name, mib in idle_server_rss(workers, database, model).items():
                numbers[f"idle serve RSS MiB, {start} ({name})"] = mib
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command [5]")
    parser.add_argument("--workers", type=int, default=1, help="dialplan serve --workers [1]")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    options = parser.parse_args()
    numbers = measure(options.runs, options.workers)
    width = max(map(len, numbers))
    print(f"best of {options.runs} runs; CPU = user + system seconds")
    for name, value in numbers.items():
        unit = "MiB" if "MiB" in name else "s"
        shown = f"{value:7.1f}" if unit == "MiB" else f"{value:7.3f}"
        print(f"  {name:<{width}}  {shown}")
    if options.json:
        options.json.write_text(json.dumps(numbers, indent=2) + "\n")


if __name__ == "__main__":
    main()
