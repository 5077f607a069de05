"""Concurrent-call benchmark of the dialplan server against the scripted test LLM.

Plays N concurrent platform calls (default runs: 1, 100 and 200 calls) against a real
``dialplan serve`` process whose model is the OpenAI-compatible test server
(``engine.testing.llm_server``), and prints what the calls cost the server and what the platform
would observe. Not a test: it asserts nothing; it measures and reports.

Processes (all started here, bound to 127.0.0.1, stopped by pid when their phase ends):

* ``dialplan serve`` pinned to core 0, with its default settings apart from
  ``DIALPLAN_CALL_GRACE=1`` (call state has expired when "after" is sampled), a call log of the
  run's own and ``DIALPLAN_AGENT=prompt`` (the single-prompt agent; ``--agent`` changes it);
* the test LLM server and this load generator, pinned to core 1.

First a cost phase (``--no-costs`` skips it) measures the server's CPU per frame of each kind:
connect + greeting, ``update_only``, ``ping_pong``, a whole ``response_required`` turn, close.
Then each run has two phases, each with fresh servers and one unmeasured warm-up call.

**Turn phase** (instant model by default, ``--token-delay 0``). The platform's traffic shape
(``--shape platform``, the default): every call connects to ``/llm-websocket/bench_<phase>_<i>``
(starts spread evenly over ``--stagger`` = 1 s), answers ``config`` with ``call_details`` as the
platform does, reads the greeting (response id 0), then plays ``--turns`` turns. A turn: the
caller pauses ``--think`` = 0.3 s on average (uniform 0.5x-1.5x), then two ``update_only``
frames 100 ms apart, each with the whole transcript and word timings on caller lines, then
``response_required`` with the next id; the answer is read up to ``content_complete`` and
appended to the transcript. Every call also sends a ``ping_pong`` every 2 s, as the platform
does. ``--shape gentle`` is the earlier, lighter caller (one ``update_only``, 1 s think, starts
over 0.5 s, server log WARNING). Measured:

* *server CPU per turn*: CPU time of the server process (all threads, ns resolution from
  ``/proc/<pid>/task/*/schedstat``) over the phase, divided by the turns completed; connects,
  greetings, updates, pings and closes are included;
* *per-turn overhead*: ``response_required`` sent -> first ``response`` chunk of that id
  received (the server's own latency plus one round trip to the instant local model);
* *greeting delay*: connect started -> greeting frame received;
* *ping echo delay*: ``ping_pong`` sent -> its echo received;
* server RSS, open file descriptors and TCP sockets: before the calls, peak while they run
  (sampled every 0.25 s; sockets every 1 s), and 3 s after the last call closed (after the 1 s
  grace), with the calls the server still holds (``/readyz``) and its ``dialplan_calls_active``.

**Barge-in phase** (a slower model, ``--barge-token-delay 0.02`` s between tokens, so that there
is an answer to cut). The same calls, but in a fraction ``--barge-in`` of the turns the caller
interrupts: request k is sent and, as soon as its first chunk arrives, request k+1 supersedes
it. Measured:

* *stale chunks*: chunks of k received after the first chunk of k+1. The server sends in order
  on one socket, so such a chunk left the server after it had read k+1: stale for certain
  (must be 0). Chunks of k already on the wire when k+1 was sent, arriving between sending k+1
  and k+1's first chunk, are legitimate and reported apart as "in flight";
* *superseded upstream streams*: from the test LLM server's ``GET /stats`` once the phase has
  settled, ``requests - completed - closed_early - errors`` (streams still running, must be 0)
  and ``closed_early`` (should equal the barge-ins: each superseded stream was closed by the
  server rather than read to its end); next to them the server's own counters
  ``dialplan_responses_total{outcome="superseded"}`` and ``dialplan_stale_chunks_dropped_total``.

Latencies are taken by this client, so they include its own scheduling delays. The load
generator shares core 1 with the LLM server; the output shows how busy each core was and how
late this client's event loop woke up (*client loop lag*), so a saturated client is visible.

Usage: ``python bench/calls.py`` (full, about 3 minutes), ``python bench/calls.py --calls 1,20
--turns 3 --no-costs`` (quick, about 40 s); ``--json PATH`` writes the raw numbers. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import math
import os
import random
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[1]
SERVER_CORE = 0
CLIENT_CORE = 1  # the load generator and the LLM server
PING_INTERVAL = 2.0  # the platform's keepalive period
GRACE = 1.0  # DIALPLAN_CALL_GRACE for the bench
SETTLE = GRACE + 2.0  # wait after the last close before sampling "after"
RESPONSE_TIMEOUT = 15.0  # one response, first chunk to content_complete
START_TIMEOUT = 15.0  # a server process becoming ready
SAMPLE_EVERY = 0.25
SOCKETS_EVERY = 4  # count TCP sockets every 4th sample (it parses /proc/net/tcp)


# ---------------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """What to run; one field per command-line flag."""

    calls: tuple[int, ...]
    turns: int
    tokens: int
    token_delay: float
    first_token_delay: float
    barge_in: float
    barge_token_delay: float
    stagger: float
    think: float
    run_timeout: float
    json: Path | None
    pin: bool
    agent: str
    shape: str = "platform"
    updates: int = 2  # update_only frames before each response_required
    update_gap: float = 0.1  # seconds between them (the caller still speaking)
    words: bool = True  # word timings on caller utterances, as the platform sends them
    log_level: str | None = None  # None: the server's default (INFO)
    workers: int = 1
    costs: bool = True  # the per-frame-kind cost phase
    server: str = "dialplan"  # or "floor": bench/floor.py, the bare protocol
    server_command: str | None = None  # any other server: {port} and {model_url} filled in
    server_env: tuple[str, ...] = ()  # KEY=VALUE for the server
    store: str | None = None  # DIALPLAN_STORE of the server: calls kept in Redis as well
    period: float = 0.0  # > 0: a turn every `period` s from the greeting (replaces `think`)
    database_url: str | None = None  # DIALPLAN_DATABASE_URL (default: a SQLite file of the run)
    console: bool = False  # the server's console open (a token of the run's own), no page open
    stall_ms: float = 0.0  # > 0: DIALPLAN_STALL_MS, the server logs its loop's pauses


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python bench/calls.py",
        description="N concurrent platform calls against dialplan serve + the test LLM.",
    )
    parser.add_argument("--calls", default="1,100,200", help="concurrent calls per run [1,100,200]")
    parser.add_argument("--turns", type=int, default=10, help="turns per call [10]")
    parser.add_argument("--tokens", type=int, default=30, help="word pieces per answer [30]")
    parser.add_argument("--token-delay", type=float, default=0.0, help="s between pieces [0]")
    parser.add_argument("--first-token-delay", type=float, default=0.0, help="s to first [0]")
    parser.add_argument(
        "--barge-in", type=float, default=0.2, help="fraction of barge-in turns; 0 skips [0.2]"
    )
    parser.add_argument(
        "--barge-token-delay", type=float, default=0.02, help="barge-in phase model [0.02]"
    )
    parser.add_argument(
        "--shape",
        choices=("platform", "gentle"),
        default="platform",
        help="platform: as the platform calls (2 update_only frames per turn with the whole "
        "transcript and word timings, 0.3 s think, starts over 1 s, server log INFO); gentle: "
        "the earlier shape (1 update_only, no word timings, 1 s think, starts over 0.5 s, log "
        "WARNING) [platform]",
    )
    parser.add_argument("--stagger", type=float, help="spread call starts, s [shape]")
    parser.add_argument("--think", type=float, help="mean caller pause between turns, s [shape]")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes [1]")
    parser.add_argument(
        "--server",
        choices=("dialplan", "floor"),
        default="dialplan",
        help="floor: bench/floor.py, a bare websockets + uvloop server of the protocol, for "
        "comparison [dialplan]",
    )
    parser.add_argument(
        "--server-command",
        help="run this server instead (another implementation, for comparison): {port} and "
        "{model_url} are filled in, and PORT and OPENAI_BASE_URL are set in its environment",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an environment variable of the server (repeatable): a setting other than its "
        "default, or one for --server-command",
    )
    parser.add_argument(
        "--store",
        metavar="URL",
        help="DIALPLAN_STORE of the server (redis://host:port/db): every call kept in Redis too",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="DIALPLAN_DATABASE_URL of the server (a PostgreSQL call log, say) [a SQLite file]",
    )
    parser.add_argument(
        "--console",
        action="store_true",
        help="open the server's console (a token of this run's own), as a deployment with a "
        "console runs: its live feed is told of every call's changes; no page is open",
    )
    parser.add_argument(
        "--no-costs", action="store_true", help="skip the per-frame-kind cost phase"
    )
    parser.add_argument("--run-timeout", type=float, default=120.0, help="per phase, s [120]")
    parser.add_argument("--json", type=Path, help="write the raw numbers to this file")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    parser.add_argument(
        "--agent",
        choices=("prompt", "flow", "auto"),
        default="prompt",
        help="DIALPLAN_AGENT of the server [prompt: the single-prompt agent]",
    )
    args = parser.parse_args(argv)
    try:
        calls = tuple(int(n) for n in args.calls.split(",") if n.strip())
    except ValueError:
        parser.error("--calls takes comma-separated integers, e.g. 1,100,200")
    if not calls or min(calls) < 1:
        parser.error("--calls needs at least one positive count")
    if args.turns < 1 or args.tokens < 1:
        parser.error("--turns and --tokens must be positive")
    if not 0 <= args.barge_in <= 1:
        parser.error("--barge-in is a fraction between 0 and 1")
    can_pin = hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2
    platform = args.shape == "platform"
    default_stagger, default_think = (1.0, 0.3) if platform else (0.5, 1.0)
    return Options(
        calls=calls,
        turns=args.turns,
        tokens=args.tokens,
        token_delay=args.token_delay,
        first_token_delay=args.first_token_delay,
        barge_in=args.barge_in,
        barge_token_delay=args.barge_token_delay,
        stagger=default_stagger if args.stagger is None else args.stagger,
        think=default_think if args.think is None else args.think,
        run_timeout=args.run_timeout,
        json=args.json,
        # Several workers share both cores: nothing is pinned then.
        pin=can_pin and not args.no_pin and args.workers == 1,
        agent=args.agent,
        shape=args.shape,
        updates=2 if platform else 1,
        update_gap=0.1 if platform else 0.0,
        words=platform,
        log_level=None if platform else "WARNING",
        workers=args.workers,
        costs=not args.no_costs,
        server=args.server,
        server_command=args.server_command,
        server_env=tuple(args.server_env),
        store=args.store,
        database_url=args.database_url,
        console=args.console,
    )


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that nothing listens on right now."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def pin(pid: int, core: int) -> None:
    """Pin every thread of ``pid`` to ``core`` (threads started later inherit it)."""
    try:
        tids = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        tids = [pid]  # no /proc, or the process is already gone (check_alive reports it)
    for tid in tids:
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(tid, {core})


def http_get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
        return body


class Child:
    """A subprocess this benchmark started; its output goes to a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logdir: Path) -> None:
        self.name = name
        self.log_path = logdir / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        self.pid = self.popen.pid

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            tail = "\n".join(self.log_text().splitlines()[-20:])
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{tail}")


def child_env(**extra: str) -> dict[str, str]:
    # Nothing of the caller's dialplan/model configuration may leak into the servers.
    drop = ("DIALPLAN_", "OPENAI_", "AZURE_OPENAI_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PYTHONUNBUFFERED"] = "1"
    if os.environ.get("BENCH_PYTHONMALLOC"):
        env["PYTHONMALLOC"] = os.environ["BENCH_PYTHONMALLOC"]
    env.update(extra)
    return env


@dataclass
class Servers:
    """The two processes of one phase."""

    llm: Child
    llm_port: int
    server: Child
    port: int

    @property
    def llm_base(self) -> str:
        return f"http://127.0.0.1:{self.llm_port}/v1"

    def stop(self) -> None:
        stop_all([self.server, self.llm])


def stop_all(children: Sequence[Child]) -> None:
    """SIGTERM each child (by pid), then SIGKILL whatever is still there after 5 s."""
    for child in children:
        if child.popen.poll() is None:
            child.popen.terminate()
    for child in children:
        try:
            child.popen.wait(5)
        except subprocess.TimeoutExpired:
            child.popen.kill()
            child.popen.wait(5)


def wait_ready(child: Child, url: str, core: int | None) -> None:
    """Poll ``url`` until it answers (bounded by START_TIMEOUT), then pin ``child`` again."""
    deadline = time.monotonic() + START_TIMEOUT
    for _ in range(int(START_TIMEOUT / 0.05) + 1):
        child.check_alive()
        try:
            http_get(url, timeout=0.5)
        except urllib.error.HTTPError:
            pass  # it answers (a server without this route): ready
        except OSError:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
            continue
        if core is not None:
            pin(child.pid, core)  # again: threads it started meanwhile
        return
    raise RuntimeError(f"{child.name} did not answer {url} within {START_TIMEOUT:g} s")


def start_servers(options: Options, token_delay: float, logdir: Path, tag: str) -> Servers:
    """The test LLM server (core 1) and ``dialplan serve`` (core 0), started side by side."""
    llm_port, port = free_ports(2)
    llm_argv = [sys.executable, "-m", "engine.testing.llm_server", "--host", "127.0.0.1"]
    llm_argv += ["--port", str(llm_port), "--tokens", str(options.tokens)]
    llm_argv += ["--token-delay", str(token_delay)]
    llm_argv += ["--first-token-delay", str(options.first_token_delay)]
    if options.stall_ms > 0:
        llm_argv += ["--stall-ms", f"{options.stall_ms:g}"]
    script = Path(sys.executable).with_name("dialplan")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "engine.cli"]
    argv += ["serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(options.workers)]
    if options.server == "floor":
        argv = [sys.executable, str(ROOT / "bench" / "floor.py"), "--port", str(port)]
        argv += ["--model-url", f"http://127.0.0.1:{llm_port}/v1"]
    env = child_env(
        OPENAI_BASE_URL=f"http://127.0.0.1:{llm_port}/v1",
        OPENAI_API_KEY="bench",
        DIALPLAN_CALL_GRACE=str(GRACE),
        DIALPLAN_LLM_PROVIDER="openai",
        DIALPLAN_AGENT=options.agent,
        # Calls are recorded as in production, into a log of this run (not the repository's).
        DIALPLAN_DATABASE_URL=options.database_url or f"sqlite:///{logdir / f'calls-{tag}.db'}",
    )
    if options.log_level is not None:
        env["DIALPLAN_LOG_LEVEL"] = options.log_level
    if options.store is not None:
        env["DIALPLAN_STORE"] = options.store
    if options.console:
        env["DIALPLAN_CONSOLE_TOKEN"] = secrets.token_urlsafe(24)
    if options.stall_ms > 0:
        env["DIALPLAN_STALL_MS"] = f"{options.stall_ms:g}"
    if options.agent == "flow":
        # Flow mode runs the bench's own flow, whose every turn goes to the model.
        env.update(
            DIALPLAN_FLOWS_DIR=str(ROOT / "bench" / "flows"),
            DIALPLAN_PROMPTS_DIR=str(ROOT / "bench" / "prompts"),
            DIALPLAN_FLOW="bench_chat",
        )
    if options.server_command:
        model_url = f"http://127.0.0.1:{llm_port}/v1"
        argv = shlex.split(options.server_command.format(port=port, model_url=model_url))
        env = child_env(PORT=str(port), OPENAI_BASE_URL=model_url, OPENAI_API_KEY="bench")
    env.update(item.split("=", 1) for item in options.server_env if "=" in item)
    started: list[Child] = []
    try:
        # The test model of this tree, whichever installation runs the server: "before" and
        # "after" runs of another checkout's server face the same model.
        llm = Child(f"llm-{tag}", llm_argv, child_env(PYTHONPATH=str(ROOT)), logdir)
        started.append(llm)
        server = Child(f"dialplan-{tag}", argv, env, logdir)
        started.append(server)
        if options.pin:
            pin(llm.pid, CLIENT_CORE)
            pin(server.pid, SERVER_CORE)
        wait_ready(llm, f"http://127.0.0.1:{llm_port}/stats", CLIENT_CORE if options.pin else None)
        wait_ready(server, f"http://127.0.0.1:{port}/healthz", SERVER_CORE if options.pin else None)
    except BaseException:
        stop_all(started)
        raise
    return Servers(llm, llm_port, server, port)


# ---------------------------------------------------------------------------------------------
# Server-side observations
# ---------------------------------------------------------------------------------------------


@dataclass
class Resources:
    """One sample of the server process."""

    rss_mib: float
    fds: int
    tcp: int | None = None  # all TCP sockets, when counted
    tcp_clients: int | None = None  # accepted call sockets (local port = server port)
    tcp_upstream: int | None = None  # to the LLM server (the model client's pool)
    tcp_other: int | None = None  # listening socket and anything else
    tcp_states: dict[str, int] | None = None  # sockets that are neither LISTEN nor ESTABLISHED


def sample(proc: psutil.Process, port: int, llm_port: int, sockets: bool) -> Resources:
    result = Resources(proc.memory_info().rss / 2**20, proc.num_fds())
    if sockets:
        conns = proc.net_connections(kind="tcp")
        clients = sum(1 for c in conns if c.laddr and c.laddr.port == port and c.raddr)
        upstream = sum(1 for c in conns if c.raddr and c.raddr.port == llm_port)
        result.tcp, result.tcp_clients, result.tcp_upstream = len(conns), clients, upstream
        result.tcp_other = len(conns) - clients - upstream
        states: dict[str, int] = {}
        for conn in conns:
            if conn.status not in (psutil.CONN_LISTEN, psutil.CONN_ESTABLISHED):
                states[conn.status] = states.get(conn.status, 0) + 1
        result.tcp_states = states
    return result


class Sampler:
    """Samples the server in a thread while calls run and keeps the peaks."""

    def __init__(self, pid: int, port: int, llm_port: int) -> None:
        self._proc = psutil.Process(pid)
        self._port, self._llm_port = port, llm_port
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self.peak_rss = 0.0
        self.peak_fds = 0
        self.peak_tcp = 0
        self.peak_clients = 0
        self.samples = 0
        self.cpu: list[tuple[float, float, float]] = []
        """(``time.monotonic()``, the server's CPU seconds, its seconds waiting for a CPU)."""

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        count = 0
        while not self._stop.is_set() and count < 100_000:
            try:
                now = sample(self._proc, self._port, self._llm_port, count % SOCKETS_EVERY == 0)
            except psutil.Error:
                return
            self.peak_rss = max(self.peak_rss, now.rss_mib)
            self.peak_fds = max(self.peak_fds, now.fds)
            self.peak_tcp = max(self.peak_tcp, now.tcp or 0)
            self.peak_clients = max(self.peak_clients, now.tcp_clients or 0)
            pid = self._proc.pid
            self.cpu.append((time.monotonic(), cpu_seconds(pid), run_queue_seconds(pid)))
            count += 1
            self.samples = count
            self._stop.wait(SAMPLE_EVERY)


def cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and its child processes (a server's workers), all live threads."""
    total = _cpu_seconds(pid)
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(pid).children(recursive=True):
            total += _cpu_seconds(child.pid)
    return total


def run_queue_seconds(pid: int) -> float:
    """How long the threads of ``pid`` were ready to run but waited for a CPU (0 if unknown).

    The second field of ``/proc/<pid>/task/*/schedstat``: time taken by other processes on
    the server's core, which shows in every latency.
    """
    total = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[1])
    return total / 1e9


def _cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` (all its live threads), in ns resolution where the kernel allows.

    ``/proc/<pid>/task/*/schedstat`` counts nanoseconds on the CPU (user + system); psutil's
    user + sys ticks (10 ms) are the fallback, too coarse for the single-call run.
    """
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        total = 0
    if total:
        return total / 1e9
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


_METRIC = re.compile(r"^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) ([-+0-9.eE]+|NaN|[+-]Inf)$", re.MULTILINE)


def server_metrics(port: int) -> dict[str, float]:
    try:
        text = http_get(f"http://127.0.0.1:{port}/metrics").decode()
    except urllib.error.HTTPError:
        return {}  # a server without metrics (another implementation)
    return {name: float(value) for name, value in _METRIC.findall(text)}


def readiness(port: int) -> dict[str, Any]:
    """``/readyz``'s body, also when it answers 503 (not ready, with the reasons)."""
    url = f"http://127.0.0.1:{port}/readyz"
    try:
        body = http_get(url)
    except urllib.error.HTTPError as exc:
        body = exc.read()
    try:
        ready: dict[str, Any] = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}  # a server without /readyz (another implementation)
    return ready


def llm_stats(base: str) -> dict[str, int]:
    stats: dict[str, int] = orjson.loads(http_get(base.removesuffix("/v1") + "/stats"))
    return stats


_PROBLEM = re.compile(r"\[(warning|error|critical)\s*\]|^(WARNING|ERROR|CRITICAL) |Traceback")


def log_problems(child: Child) -> list[str]:
    """Warning and error lines of a server's log (structlog console or stdlib format)."""
    return [line for line in child.log_text().splitlines() if _PROBLEM.search(line)]


# ---------------------------------------------------------------------------------------------
# The platform side: a lean client (one reader task and one ping task per call)
# ---------------------------------------------------------------------------------------------


class Track:
    """Every chunk received for one response id, with arrival times."""

    __slots__ = ("arrivals", "complete_at", "done", "first", "parts", "sent")

    def __init__(self) -> None:
        self.sent = 0.0
        self.arrivals: list[float] = []
        self.parts: list[str] = []
        self.complete_at: float | None = None
        self.first = asyncio.Event()
        self.done = asyncio.Event()

    def arrive(self, at: float, frame: dict[str, Any]) -> None:
        self.arrivals.append(at)
        self.parts.append(str(frame.get("content", "")))
        self.first.set()
        if frame.get("content_complete") and self.complete_at is None:
            self.complete_at = at
            self.done.set()

    @property
    def first_at(self) -> float:
        return self.arrivals[0]

    @property
    def text(self) -> str:
        return "".join(self.parts)


@dataclass
class BargeIn:
    """One interruption: request k superseded by k+1 right after k's first chunk."""

    old: Track
    new: Track
    superseding_sent: float


@dataclass
class CallResult:
    """What one call observed."""

    greeting_delay: float | None = None
    overheads: list[float] = field(default_factory=list)
    turn_times: list[float] = field(default_factory=list)
    frames_per_turn: list[int] = field(default_factory=list)
    ping_delays: list[float] = field(default_factory=list)
    pings_unanswered: int = 0
    turns: int = 0
    barge_ins: list[BargeIn] = field(default_factory=list)
    unexpected_frames: int = 0
    turn_ends: list[float] = field(default_factory=list)  # time.monotonic() of each answer
    error: str | None = None


class Call:
    """One platform-side socket: reads every frame into per-id tracks, echoes pings' delays."""

    def __init__(self, ws: ClientConnection, result: CallResult, call_id: str) -> None:
        self.ws = ws
        self.result = result
        self.details = {
            "call_id": call_id,
            "agent_id": "agent_bench",
            "call_type": "phone_call",
            "call_status": "registered",
            "direction": "inbound",
            "from_number": "+14155550100",
            "to_number": "+14155550199",
            "metadata": {},
            "retell_llm_dynamic_variables": {"customer_name": "Dana"},
        }
        self.tracks: dict[int, Track] = {}
        self.pings: dict[int, float] = {}
        self.closed = False

    def track(self, response_id: int) -> Track:
        track = self.tracks.get(response_id)
        if track is None:
            track = self.tracks[response_id] = Track()
        return track

    async def read(self) -> None:
        clock = time.perf_counter
        try:
            async for message in self.ws:
                now = clock()
                if isinstance(message, bytes):
                    self.result.unexpected_frames += 1
                    continue
                frame = orjson.loads(message)
                kind = frame.get("response_type")
                if kind == "response":
                    self.track(frame["response_id"]).arrive(now, frame)
                elif kind == "ping_pong":
                    sent = self.pings.pop(frame.get("timestamp"), None)
                    if sent is None:
                        self.result.unexpected_frames += 1
                    else:
                        self.result.ping_delays.append(now - sent)
                elif kind == "config":
                    if (frame.get("config") or {}).get("call_details"):
                        # As the platform does: the call object right after the config.
                        await self.send({"interaction_type": "call_details", "call": self.details})
                else:
                    self.result.unexpected_frames += 1
        except ConnectionClosed:
            pass
        finally:
            self.closed = True

    async def send(self, event: dict[str, Any]) -> float:
        at = time.perf_counter()
        await self.ws.send(orjson.dumps(event), text=True)
        return at

    async def ping_loop(self, rng: random.Random) -> None:
        await asyncio.sleep(rng.uniform(0, PING_INTERVAL))
        for _ in range(10_000):  # bounded; cancelled when the call ends
            if self.closed:
                return
            stamp = int(time.time() * 1000)
            while stamp in self.pings:
                stamp += 1
            self.pings[stamp] = time.perf_counter()
            ping = {"interaction_type": "ping_pong", "timestamp": stamp}
            await self.ws.send(orjson.dumps(ping), text=True)
            await asyncio.sleep(PING_INTERVAL)

    async def request(self, response_id: int, transcript: list[dict[str, Any]]) -> Track:
        track = self.track(response_id)
        event = {
            "interaction_type": "response_required",
            "response_id": response_id,
            "transcript": transcript,
        }
        track.sent = await self.send(event)
        return track


def utterance(role: str, content: str, at: float = 0.0, words: bool = False) -> dict[str, Any]:
    """A transcript entry; caller lines carry word timings as the platform sends them."""
    timings = []
    if words:
        for n, word in enumerate(content.split()):
            start = round(at + 0.32 * n, 3)
            timings.append({"word": word, "start": start, "end": round(start + 0.28, 3)})
    return {"role": role, "content": content, "words": timings}


def is_barge_in(turn: int, call: int, fraction: float) -> bool:
    # Evenly spread (turns 2 and 7 of 10 at 0.2 for call 0), shifted per call so that calls do
    # not all interrupt at the same moment, and early enough that a 3-turn run has some.
    if fraction <= 0:
        return False
    k = turn + call + 2
    return math.floor((k + 1) * fraction) > math.floor(k * fraction)


async def wait(event: asyncio.Event, what: str) -> None:
    try:
        async with asyncio.timeout(RESPONSE_TIMEOUT):
            await event.wait()
    except TimeoutError:
        raise TimeoutError(f"no {what} within {RESPONSE_TIMEOUT:g} s") from None


async def play_call(
    url: str, index: int, options: Options, start_at: float, barge_in: float, result: CallResult
) -> None:
    """One call from connect to close; fills ``result`` (errors included, never raises)."""
    rng = random.Random(index)
    await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
    begun = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    try:
        async with connect(
            url, max_size=None, compression=None, open_timeout=7, ping_interval=None
        ) as ws:
            call = Call(ws, result, url.rsplit("/", 1)[-1])
            tasks = [asyncio.create_task(call.read()), asyncio.create_task(call.ping_loop(rng))]
            try:
                await _converse(call, index, options, barge_in, rng, begun)
            finally:
                tasks[1].cancel()
                now = time.perf_counter()
                result.pings_unanswered = sum(1 for t in call.pings.values() if now - t > 1.0)
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        # The socket is closed by now, so the reader ends on its own; the bound is a safety net.
        for task in tasks[1:]:
            task.cancel()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.gather(*tasks, return_exceptions=True)


async def _converse(
    call: Call, index: int, options: Options, barge_in: float, rng: random.Random, begun: float
) -> None:
    result = call.result
    greeting = call.track(0)
    await wait(greeting.done, "greeting")
    result.greeting_delay = greeting.first_at - begun
    transcript = [utterance("agent", greeting.text)]
    response_id = 0
    clock = 5.0  # seconds into the call, for word timings
    paced_from = time.perf_counter()
    for turn in range(options.turns):
        if options.period:
            # A turn every `period` s (10 % either way), its request at the end of the
            # caller's line: the caller starts speaking that long before it.
            at = paced_from + (turn + rng.uniform(0.9, 1.1)) * options.period
            speaking = (options.updates - 1) * options.update_gap
            await asyncio.sleep(max(0.0, at - speaking - time.perf_counter()))
        elif options.think:  # the caller listens, then speaks (also after the greeting)
            await asyncio.sleep(rng.uniform(0.5, 1.5) * options.think)
        line = f"caller line {turn}: I would like to hear about option {turn} for my booking please"
        words = line.split()
        for update in range(options.updates):
            # As the caller speaks, the platform sends the whole transcript each time, the
            # caller's line growing, with word timings.
            heard = " ".join(words[: len(words) * (update + 1) // options.updates])
            live = [*transcript, utterance("user", heard, clock, options.words)]
            event: dict[str, Any] = {"interaction_type": "update_only", "transcript": live}
            if update == 0:
                event["turntaking"] = "user_turn"
            await call.send(event)
            if options.update_gap and update < options.updates - 1:
                await asyncio.sleep(options.update_gap)
        transcript.append(utterance("user", line, clock, options.words))
        clock += 0.32 * len(words) + 1.0
        response_id += 1
        track = await call.request(response_id, transcript)
        if is_barge_in(turn, index, barge_in):
            await wait(track.first, f"first chunk of {response_id}")
            transcript[-1] = utterance(
                "user", f"caller line {turn}: no wait, option {turn + 1}", clock, options.words
            )
            response_id += 1
            old, track = track, call.track(response_id)
            track.sent = await call.send(
                {
                    "interaction_type": "response_required",
                    "response_id": response_id,
                    "transcript": transcript,
                }
            )
            result.barge_ins.append(BargeIn(old, track, track.sent))
        await wait(track.done, f"content_complete of {response_id}")
        result.overheads.append(track.first_at - track.sent)
        result.turn_times.append((track.complete_at or track.first_at) - track.sent)
        result.frames_per_turn.append(len(track.arrivals))
        result.turn_ends.append(time.monotonic())
        result.turns += 1
        transcript.append(utterance("agent", track.text))
        clock += 3.0


@dataclass
class Played:
    """The calls of one phase, its wall time, and how late this client's own loop ran."""

    results: list[CallResult]
    wall_s: float
    loop_lags: list[float]
    client_cpu_s: float | None = None
    """The load generator's CPU when it ran in processes of its own (``None``: this one)."""


async def loop_lag(lags: list[float]) -> None:
    """Sample how late a 10 ms sleep wakes up on this loop: the client's own delay."""
    for _ in range(1_000_000):  # bounded; cancelled when the phase ends
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(max(0.0, time.perf_counter() - before - 0.01))


async def play_calls(
    port: int,
    run: str,
    count: int,
    options: Options,
    barge_in: float,
    indices: Sequence[int] | None = None,
    started: float | None = None,
) -> Played:
    """Calls of one phase (``indices`` of ``count``, default all), bounded by ``run_timeout``.

    Call ``i`` starts at ``started`` (a ``time.perf_counter()``, default now) plus its share of
    ``options.stagger``; several processes given the same ``started`` play one phase together.
    """
    indices = range(count) if indices is None else indices
    results = [CallResult() for _ in indices]
    lags: list[float] = []
    monitor = asyncio.create_task(loop_lag(lags))
    started = time.perf_counter() if started is None else started
    spread = options.stagger / count if count > 1 else 0.0
    tasks = [
        asyncio.create_task(
            play_call(
                f"ws://127.0.0.1:{port}/llm-websocket/bench_{run}_{i}",
                i,
                options,
                started + i * spread,
                barge_in,
                result,
            )
        )
        for i, result in zip(indices, results, strict=True)
    ]
    try:
        async with asyncio.timeout(options.run_timeout):
            await asyncio.gather(*tasks)
    except TimeoutError:
        for task, result in zip(tasks, results, strict=True):
            if not task.done():
                task.cancel()
                result.error = f"run timeout ({options.run_timeout:g} s)"
        await asyncio.gather(*tasks, return_exceptions=True)
    wall = time.perf_counter() - started
    monitor.cancel()
    await asyncio.gather(monitor, return_exceptions=True)
    return Played(results, wall, lags)


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


# ---------------------------------------------------------------------------------------------
# Statistics and reports
# ---------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile; ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


@dataclass
class Phase:
    """What both phases measure."""

    calls: int
    turns_expected: int
    token_delay: float = 0.0
    turns_done: int = 0
    failed_calls: int = 0
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    llm_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    client_lag_ms: dict[str, float | None] = field(default_factory=dict)
    ping_ms: dict[str, float | None] = field(default_factory=dict)
    pings: int = 0
    pings_unanswered: int = 0
    unexpected_frames: int = 0
    before: Resources | None = None
    peak: dict[str, float] = field(default_factory=dict)
    after: Resources | None = None
    held_calls_after: int | None = None
    readiness_problems: list[str] = field(default_factory=list)
    server_metrics: dict[str, float] = field(default_factory=dict)
    llm: dict[str, int] = field(default_factory=dict)
    server_log_problems: list[str] = field(default_factory=list)

    def busy(self, cpu_s: float) -> float:
        """``cpu_s`` as a percentage of this phase's wall time."""
        return 100 * cpu_s / self.wall_s if self.wall_s else 0.0

    @property
    def turns_per_s(self) -> float:
        return self.turns_done / self.wall_s if self.wall_s else 0.0


@dataclass
class TurnPhase(Phase):
    """The turn phase: cost and latency of ordinary turns."""

    cpu_per_turn_ms: float | None = None
    overhead_ms: dict[str, float | None] = field(default_factory=dict)
    answer_ms: dict[str, float | None] = field(default_factory=dict)
    greeting_ms: dict[str, float | None] = field(default_factory=dict)
    frames_per_answer: float | None = None
    raw: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class BargePhase(Phase):
    """The barge-in phase: superseded responses and their upstream streams."""

    barge_ins: int = 0
    stale_chunks: int = 0
    in_flight_chunks: int = 0
    superseded_completed: int = 0  # superseded responses that still got content_complete
    barge_response_ms: dict[str, float | None] = field(default_factory=dict)
    llm_left_running: int | None = None
    server_superseded: float | None = None
    server_stale_dropped: float | None = None


def latency(values: Sequence[float]) -> dict[str, float | None]:
    """p50, p99 and max in milliseconds."""
    return {
        "p50": ms(percentile(values, 50)),
        "p99": ms(percentile(values, 99)),
        "max": ms(max(values) if values else None),
    }


def settle_llm(base: str, seconds: float = 5.0) -> dict[str, int]:
    """The LLM server's counters once every stream it saw has ended (or after ``seconds``)."""
    stats = llm_stats(base)
    for _ in range(int(seconds / 0.1)):
        if stats["completed"] + stats["closed_early"] + stats["errors"] >= stats["requests"]:
            break
        time.sleep(0.1)
        stats = llm_stats(base)
    return stats


def warm_up(port: int, options: Options, run: str) -> None:
    """One unmeasured call of one turn: lazy imports and the first upstream connection."""
    quick = dataclasses.replace(options, turns=1, think=0.0, period=0.0)
    played: Played = run_async(play_calls(port, f"{run}_warmup", 1, quick, barge_in=0.0))
    if played.results[0].error:
        raise RuntimeError(f"the warm-up call failed: {played.results[0].error}")


Player = Callable[[int, str], Played]
"""Plays a phase's calls against the server on a port, the phase's tag given."""


def measure(
    phase: Phase,
    options: Options,
    logdir: Path,
    barge_in: float,
    player: Player | None = None,
    sampled: Callable[[Sampler], None] | None = None,
) -> Played:
    """Fresh servers, a warm-up call, then the phase's calls with everything sampled.

    ``player`` plays the calls (default: all of them on this process's loop); ``sampled`` is
    handed the sampler once the calls are done, for a caller that wants its timeline.
    """

    def here(port: int, tag: str) -> Played:
        played: Played = run_async(play_calls(port, tag, phase.calls, options, barge_in))
        return played

    play = player or here
    tag = f"{'barge' if barge_in else 'turns'}{phase.calls}"
    servers = start_servers(options, phase.token_delay, logdir, tag)
    port, llm_port = servers.port, servers.llm_port
    try:
        proc = psutil.Process(servers.server.pid)
        warm_up(port, options, tag)
        time.sleep(GRACE + 0.5)  # the warm-up call's state expires before "before"
        phase.before = sample(proc, port, llm_port, sockets=True)
        pids = (servers.server.pid, servers.llm.pid)
        cpu0 = [cpu_seconds(pid) for pid in pids]
        client0 = _cpu_seconds(os.getpid())  # this process alone, not the servers it started
        with Sampler(servers.server.pid, port, llm_port) as sampler:
            played = play(port, tag)
        phase.server_cpu_s, phase.llm_cpu_s = (
            cpu_seconds(pid) - before for pid, before in zip(pids, cpu0, strict=True)
        )
        phase.client_cpu_s = _cpu_seconds(os.getpid()) - client0
        if played.client_cpu_s is not None:
            phase.client_cpu_s = played.client_cpu_s
        if sampled is not None:
            sampled(sampler)
        phase.peak = {
            "rss_mib": round(sampler.peak_rss, 1),
            "fds": sampler.peak_fds,
            "tcp": sampler.peak_tcp,
            "tcp_clients": sampler.peak_clients,
            "samples": sampler.samples,
        }
        time.sleep(SETTLE)
        phase.after = sample(proc, port, llm_port, sockets=True)
        ready = readiness(port)
        phase.held_calls_after = int(ready.get("calls", -1))
        phase.readiness_problems = list(ready.get("problems") or [])
        phase.server_metrics = {
            name: value
            for name, value in server_metrics(port).items()
            if name.startswith("dialplan_") and "_bucket" not in name
        }
        phase.llm = settle_llm(servers.llm_base)
        phase.server_log_problems = log_problems(servers.server)
    finally:
        servers.stop()
    results = played.results
    phase.wall_s = played.wall_s
    phase.client_lag_ms = latency(played.loop_lags)
    phase.turns_done = sum(r.turns for r in results)
    phase.failed_calls = sum(1 for r in results if r.error)
    phase.errors = sorted({r.error for r in results if r.error})[:10]
    pings = [v for r in results for v in r.ping_delays]
    phase.ping_ms = latency(pings)
    phase.pings = len(pings)
    phase.pings_unanswered = sum(r.pings_unanswered for r in results)
    phase.unexpected_frames = sum(r.unexpected_frames for r in results)
    return played


def run_turn_phase(options: Options, count: int, logdir: Path) -> TurnPhase:
    phase = TurnPhase(count, count * options.turns, options.token_delay)
    summarise_turns(phase, measure(phase, options, logdir, barge_in=0.0).results)
    return phase


def summarise_turns(phase: TurnPhase, results: Sequence[CallResult]) -> None:
    """Latencies and CPU per turn of a turn phase, from what its calls observed."""
    overheads = [v for r in results for v in r.overheads]
    answers = [v for r in results for v in r.turn_times]
    greetings = [r.greeting_delay for r in results if r.greeting_delay is not None]
    frames = [v for r in results for v in r.frames_per_turn]
    if phase.turns_done:
        phase.cpu_per_turn_ms = round(phase.server_cpu_s / phase.turns_done * 1000, 3)
    phase.overhead_ms = latency(overheads)
    phase.answer_ms = latency(answers)
    phase.greeting_ms = latency(greetings)
    phase.frames_per_answer = round(sum(frames) / len(frames), 2) if frames else None
    phase.raw = {
        "overhead_s": overheads,
        "answer_s": answers,
        "greeting_s": greetings,
        "ping_s": [v for r in results for v in r.ping_delays],
    }


def run_barge_phase(options: Options, count: int, logdir: Path) -> BargePhase:
    phase = BargePhase(count, count * options.turns, options.barge_token_delay)
    results = measure(phase, options, logdir, barge_in=options.barge_in).results
    s = phase.llm
    phase.llm_left_running = s["requests"] - s["completed"] - s["closed_early"] - s["errors"]
    phase.server_superseded = phase.server_metrics.get(
        'dialplan_responses_total{outcome="superseded"}', 0.0
    )
    phase.server_stale_dropped = phase.server_metrics.get("dialplan_stale_chunks_dropped_total")
    responses: list[float] = []
    for result in results:
        for barge in result.barge_ins:
            phase.barge_ins += 1
            if not barge.new.arrivals:
                continue  # the call failed; its error is reported
            cut = barge.new.first_at
            phase.stale_chunks += sum(1 for at in barge.old.arrivals if at > cut)
            phase.in_flight_chunks += sum(
                1 for at in barge.old.arrivals if barge.superseding_sent < at <= cut
            )
            phase.superseded_completed += barge.old.complete_at is not None
            responses.append(cut - barge.superseding_sent)
    phase.barge_response_ms = latency(responses)
    return phase


@dataclass
class Run:
    """One N: both phases."""

    calls: int
    turns: TurnPhase
    barge: BargePhase | None


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def fmt_ms(values: dict[str, float | None], *points: str) -> str:
    return "  ".join(f"{point} {fmt(values.get(point))} ms" for point in points)


def fmt_resources(r: Resources | None) -> str:
    if r is None:
        return "-"
    text = f"RSS {r.rss_mib:.1f} MiB, {r.fds} fds, {r.tcp} TCP"
    text += f" (calls {r.tcp_clients}, upstream {r.tcp_upstream}, other {r.tcp_other})"
    if r.tcp_states:
        text += " states " + ", ".join(f"{k} {v}" for k, v in sorted(r.tcp_states.items()))
    return text


def print_common(phase: Phase) -> None:
    print(
        f"  turns completed      {phase.turns_done}/{phase.turns_expected} in "
        f"{phase.wall_s:.1f} s ({phase.turns_per_s:.0f} turns/s), failed calls "
        f"{phase.failed_calls}"
    )
    for error in phase.errors:
        print(f"    error: {error}")
    print(
        f"  CPU busy             core 0: server {phase.busy(phase.server_cpu_s):.0f} %; core 1: "
        f"client {phase.busy(phase.client_cpu_s):.0f} % + LLM {phase.busy(phase.llm_cpu_s):.0f} %"
        f"; client loop lag {fmt_ms(phase.client_lag_ms, 'p99', 'max')}"
    )
    print(
        f"  ping echo delay      {fmt_ms(phase.ping_ms, 'p50', 'p99', 'max')}  "
        f"({phase.pings} echoed, {phase.pings_unanswered} unanswered)"
    )
    pk = phase.peak
    print(f"  server before        {fmt_resources(phase.before)}")
    print(
        f"  server peak          RSS {pk.get('rss_mib')} MiB, {pk.get('fds')} fds, "
        f"{pk.get('tcp')} TCP ({pk.get('tcp_clients')} calls)"
    )
    print(f"  server after {SETTLE:g} s   {fmt_resources(phase.after)}")
    active = phase.server_metrics.get("dialplan_calls_active")
    print(
        f"  calls held after     {phase.held_calls_after} (/readyz), calls_active gauge "
        f"{fmt(active, 0)}; LLM server {phase.llm}"
    )
    if phase.unexpected_frames:
        print(f"  unexpected frames    {phase.unexpected_frames}")
    if phase.readiness_problems:
        print(f"  /readyz after        503: {phase.readiness_problems}")
    for line in phase.server_log_problems[:5]:
        print(f"  server log: {line[:200]}")


def shape_note(options: Options) -> str:
    """The traffic shape in one sentence."""
    updates = (
        f"{options.updates} update_only frames {options.update_gap * 1000:g} ms apart"
        if options.updates > 1
        else "1 update_only frame"
    )
    return (
        f"{options.shape} shape: {options.turns} turns per call, each {updates} with the whole "
        f"transcript{' (word timings on caller lines)' if options.words else ''}, then "
        f"response_required; {options.tokens}-token answers, model token delay "
        f"{options.token_delay:g} s (barge-in phase {options.barge_token_delay:g} s, "
        f"{options.barge_in:.0%} of turns); call starts spread over {options.stagger:g} s; caller "
        f"think time {options.think:g} s; pings every {PING_INTERVAL:g} s; server log level "
        f"{options.log_level or 'INFO (default)'}; {options.workers} worker(s)"
        f"{'; calls kept in Redis too (DIALPLAN_STORE)' if options.store else ''}."
    )


def print_run(run: Run, options: Options) -> None:
    t = run.turns
    print(f"\n== {run.calls} concurrent call(s): {shape_note(options)} ==")
    print(f"  -- turn phase (model {t.token_delay:g} s/token)")
    print_common(t)
    print(f"  server CPU per turn  {fmt(t.cpu_per_turn_ms, 2)} ms")
    print(f"  per-turn overhead    {fmt_ms(t.overhead_ms, 'p50', 'p99', 'max')}")
    print(
        f"  whole answer         {fmt_ms(t.answer_ms, 'p50', 'p99', 'max')}  "
        f"({fmt(t.frames_per_answer)} frames per answer)"
    )
    print(f"  greeting delay       {fmt_ms(t.greeting_ms, 'p50', 'p99', 'max')}")
    b = run.barge
    if b is None:
        return
    print(f"  -- barge-in phase (model {b.token_delay:g} s/token, {options.barge_in:.0%} of turns)")
    print_common(b)
    per = b.stale_chunks / b.barge_ins if b.barge_ins else None
    print(
        f"  barge-ins            {b.barge_ins}: stale chunks {b.stale_chunks} "
        f"({fmt(per, 2)} per barge-in); in flight when k+1 was sent {b.in_flight_chunks}; "
        f"superseded answers completed anyway {b.superseded_completed}"
    )
    print(
        f"  barge-in response    {fmt_ms(b.barge_response_ms, 'p50', 'p99', 'max')}  "
        "(k+1 sent -> its first chunk)"
    )
    print(
        f"  upstream streams     left running {b.llm_left_running}, closed early "
        f"{b.llm.get('closed_early')} of {b.barge_ins} superseded; server counters: superseded "
        f"{fmt(b.server_superseded, 0)}, stale dropped {fmt(b.server_stale_dropped, 0)}"
    )


def markdown(runs: Sequence[Run], options: Options) -> str:
    """The summary table (one column per run), ready to paste into the docs."""

    def row(name: str, cell: Callable[[Run], str]) -> str:
        return f"| {name} | " + " | ".join(cell(run) for run in runs) + " |"

    def turns(cell: Callable[[TurnPhase], str]) -> Callable[[Run], str]:
        return lambda run: cell(run.turns)

    def barge(cell: Callable[[BargePhase], str]) -> Callable[[Run], str]:
        return lambda run: cell(run.barge) if run.barge else "-"

    def pair(values: dict[str, float | None], a: str, b: str) -> str:
        return f"{fmt(values.get(a))} / {fmt(values.get(b))}"

    def res(r: Resources | None) -> str:
        if r is None:
            return "-"
        return f"{r.rss_mib:.1f} / {r.fds} / {r.tcp_clients} + {r.tcp_upstream}"

    def stale(b: BargePhase) -> str:
        per = f"{b.stale_chunks / b.barge_ins:.2f}" if b.barge_ins else "-"
        return f"{per} ({b.stale_chunks}/{b.barge_ins})"

    header = " | ".join(f"{run.calls} call{'s' if run.calls > 1 else ''}" for run in runs)
    lines = [
        f"| metric | {header} |",
        "|---|" + "---:|" * len(runs),
        row("turns completed", turns(lambda t: f"{t.turns_done}/{t.turns_expected}")),
        row("server CPU per turn (ms)", turns(lambda t: fmt(t.cpu_per_turn_ms, 2))),
        row(
            "turns/s (server core busy)",
            turns(lambda t: f"{t.turns_per_s:.0f} ({t.busy(t.server_cpu_s):.0f} %)"),
        ),
        row("per-turn overhead p50 / p99 (ms)", turns(lambda t: pair(t.overhead_ms, "p50", "p99"))),
        row("greeting delay p50 / p99 (ms)", turns(lambda t: pair(t.greeting_ms, "p50", "p99"))),
        row("ping echo p99 / max (ms)", turns(lambda t: pair(t.ping_ms, "p99", "max"))),
        row(
            "ping echo p99 / max, barge-in phase (ms)",
            barge(lambda b: pair(b.ping_ms, "p99", "max")),
        ),
        row("client loop lag p99 / max (ms)", turns(lambda t: pair(t.client_lag_ms, "p99", "max"))),
        row("stale chunks per barge-in", barge(stale)),
        row("superseded upstream streams left running", barge(lambda b: str(b.llm_left_running))),
        row(
            "upstream streams closed early / barge-ins",
            barge(lambda b: f"{b.llm.get('closed_early')}/{b.barge_ins}"),
        ),
        row(
            "server counters: superseded / stale dropped",
            barge(lambda b: f"{fmt(b.server_superseded, 0)} / {fmt(b.server_stale_dropped, 0)}"),
        ),
        row("server before: RSS MiB / fds / sockets", turns(lambda t: res(t.before))),
        row(
            "server peak: RSS MiB / fds / sockets",
            turns(lambda t: f"{t.peak.get('rss_mib')} / {t.peak.get('fds')} / {t.peak.get('tcp')}"),
        ),
        row(f"server after {SETTLE:g} s: RSS MiB / fds / sockets", turns(lambda t: res(t.after))),
        row("calls held after grace", turns(lambda t: str(t.held_calls_after))),
        row(
            "failed calls (turn + barge-in phase)",
            lambda run: f"{run.turns.failed_calls} + {run.barge.failed_calls if run.barge else 0}",
        ),
    ]
    note = (
        f"\n\n{shape_note(options)} Sockets before/after: call sockets + upstream (model) "
        "sockets; peak: all TCP sockets."
    )
    return "\n".join(lines) + note


# ---------------------------------------------------------------------------------------------
# Per-frame-kind costs
# ---------------------------------------------------------------------------------------------

COST_CALLS = 100
COST_FRAMES = 10  # of each kind, per call
COST_HISTORY = 10  # exchanges in the transcript the frames carry (a call some minutes in)


@dataclass
class Costs:
    """Server CPU per frame of each kind, in microseconds, with what was measured."""

    calls: int
    frames_per_call: int
    history: int
    frame_bytes: int
    us: dict[str, float] = field(default_factory=dict)


def history(exchanges: int, words: bool) -> list[dict[str, Any]]:
    """A transcript some way into a call: greeting, then caller and agent lines in turn."""
    transcript = [utterance("agent", "Hi, thanks for calling. How can I help you today?")]
    clock = 5.0
    for n in range(exchanges):
        line = f"caller line {n}: I would like to hear about option {n} for my booking please"
        transcript.append(utterance("user", line, clock, words))
        transcript.append(utterance("agent", " ".join(f"w{i}" for i in range(1, 31))))
        clock += 12.0
    return transcript


async def _measure_kinds(port: int, pid: int, options: Options, costs: Costs) -> None:
    count, k = costs.calls, costs.frames_per_call
    transcript = history(costs.history, options.words)
    results = [CallResult() for _ in range(count)]

    async def cpu_per(frames: int, work: Coroutine[Any, Any, Any]) -> float:
        before = cpu_seconds(pid)
        await work
        return (cpu_seconds(pid) - before) / frames * 1e6

    sockets: list[Call] = []
    readers: list[asyncio.Task[None]] = []

    async def connect_all() -> None:
        async def one(i: int) -> None:
            ws = await connect(
                f"ws://127.0.0.1:{port}/llm-websocket/costs_{i}",
                max_size=None,
                compression=None,
                open_timeout=15,
                ping_interval=None,
            )
            call = Call(ws, results[i], f"costs_{i}")
            sockets.append(call)
            readers.append(asyncio.create_task(call.read()))
            await wait(call.track(0).done, "greeting")

        await asyncio.gather(*(one(i) for i in range(count)))

    async def echoed(call: Call, stamps: list[int]) -> None:
        for _ in range(int(RESPONSE_TIMEOUT / 0.005)):  # bounded
            if not any(stamp in call.pings for stamp in stamps):
                return
            await asyncio.sleep(0.005)
        raise TimeoutError("pings were not echoed")

    async def pings_from(call: Call, first: int, n: int) -> list[int]:
        stamps = list(range(first, first + n))
        for stamp in stamps:
            call.pings[stamp] = time.perf_counter()
            await call.send({"interaction_type": "ping_pong", "timestamp": stamp})
        return stamps

    async def updates() -> None:
        async def one(index: int, call: Call) -> None:
            for _ in range(k):
                await call.send({"interaction_type": "update_only", "transcript": transcript})
                await asyncio.sleep(0.01)
            # A ping after them: once it is echoed, the server has read every update.
            await echoed(call, await pings_from(call, 10_000_000 + index, 1))

        await asyncio.gather(*(one(i, c) for i, c in enumerate(sockets)))

    async def pings() -> None:
        async def one(index: int, call: Call) -> None:
            stamps = await pings_from(call, 20_000_000 + index * k, k)
            await echoed(call, stamps)

        await asyncio.gather(*(one(i, c) for i, c in enumerate(sockets)))

    async def requests() -> None:
        async def one(call: Call) -> None:
            for n in range(1, k + 1):
                track = await call.request(n, transcript)
                await wait(track.done, f"content_complete of {n}")
                await asyncio.sleep(0.01)

        await asyncio.gather(*(one(c) for c in sockets))

    async def close_all() -> None:
        await asyncio.gather(*(c.ws.close() for c in sockets))
        await asyncio.gather(*readers, return_exceptions=True)
        await asyncio.sleep(GRACE + 1.0)  # the states expire: that is part of a call's end

    costs.us["connect + greeting"] = await cpu_per(count, connect_all())
    costs.us["update_only"] = await cpu_per(count * k, updates())
    costs.us["ping_pong"] = await cpu_per(count * k, pings())
    costs.us["response_required (whole turn)"] = await cpu_per(count * k, requests())
    costs.us["close"] = await cpu_per(count, close_all())


def run_costs(options: Options, logdir: Path) -> Costs:
    """Fresh servers; each kind of frame sent on its own by 100 calls, server CPU per frame."""
    frame = {"interaction_type": "update_only", "transcript": history(COST_HISTORY, options.words)}
    costs = Costs(COST_CALLS, COST_FRAMES, COST_HISTORY, len(orjson.dumps(frame)))
    servers = start_servers(options, options.token_delay, logdir, "costs")
    try:
        warm_up(servers.port, options, "costs")
        time.sleep(GRACE + 0.5)
        run_async(_measure_kinds(servers.port, servers.server.pid, options, costs))
    finally:
        servers.stop()
    return costs


def print_costs(costs: Costs) -> None:
    print(
        f"\n== server CPU per frame, by kind: {costs.calls} calls, {costs.frames_per_call} "
        f"frames of each kind per call, transcripts of {costs.history} exchanges "
        f"({costs.frame_bytes} bytes) =="
    )
    print("\n| frame | server CPU per frame (us) |\n|---|---:|")
    for kind, us in costs.us.items():
        print(f"| {kind} | {us:.0f} |")


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the ``finally`` blocks stop our servers."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    if options.pin:
        os.sched_setaffinity(0, {CLIENT_CORE})  # children inherit it; the server is re-pinned
    logdir = Path(tempfile.mkdtemp(prefix="dialplan-bench-"))
    print(
        f"dialplan call benchmark: calls {','.join(map(str, options.calls))}, "
        f"pinning {'server core 0, LLM + client core 1' if options.pin else 'off'}; "
        f"server logs in {logdir}",
        flush=True,
    )
    runs: list[Run] = []
    costs: Costs | None = None
    with sigterm_as_exit():
        if options.costs:
            costs = run_costs(options, logdir)
            print_costs(costs)
            sys.stdout.flush()
        for count in options.calls:
            turns = run_turn_phase(options, count, logdir)
            barge = run_barge_phase(options, count, logdir) if options.barge_in > 0 else None
            run = Run(count, turns, barge)
            runs.append(run)
            print_run(run, options)
            sys.stdout.flush()
    print("\n" + markdown(runs, options))
    if options.json is not None:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "options": asdict(options),
            "costs": asdict(costs) if costs else None,
            "runs": [asdict(run) for run in runs],
        }
        options.json.write_bytes(
            orjson.dumps(payload, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
        )
        print(f"\nraw numbers written to {options.json}")
    failed = any(r.turns.failed_calls or (r.barge and r.barge.failed_calls) for r in runs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
