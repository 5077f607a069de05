"""Capacity at a phone call's real pace: how many concurrent calls one server core holds.

    .venv/bin/python bench/capacity.py                       # 500, 1000, 1500, 2000 calls
    .venv/bin/python bench/capacity.py --calls 2000,2500 --json bench/results/capacity.json

``bench/calls.py`` plays its calls ten times faster than people talk, to measure what a turn
costs. Here every call keeps a phone call's pace, so what is measured is how many calls a core
holds at once: a turn every ``--period`` (5 s, 10 % either way) from the greeting; before each
request the caller speaks for a while and the platform sends ``--updates`` (3) ``update_only``
frames ``--update-gap`` (0.5 s) apart, each with the whole transcript and word timings; the
answer is ``--tokens`` (30) pieces from the test model at ``--token-delay`` (20 ms) a piece; a
``ping_pong`` every 2 s all along. The calls arrive over ``--arrival`` (10 s) and each plays
``--turns`` (8) turns. The server (``dialplan serve``, default settings, one worker) is pinned to
core 0; the test model and the load generator to core 1.

The load generator is ``--clients`` processes (default 3), each with its own uvloop and a share
of the calls (call ``i`` to process ``i mod N``), started together and their results merged. Each
reports how late its own loop woke up (*client loop lag*): when that is large, latencies were
the client's, not the server's. The open-file limit of this process (inherited by the servers
and the clients) is raised to what the step needs, up to the hard limit.

Per step it prints first content p50/p99 (``response_required`` sent -> first chunk of that
id), greeting p99 (connect started -> greeting), ping echo p99/max, failed calls, the server's
CPU per turn (everything it did over the step divided by the turns: connects, greetings,
updates, pings, records, closes), the server core's utilisation while every call was up (the
steady window: the last call's arrival to the first call's end), and its RSS. The supported
capacity is the largest step with first content p99 under ``--goal-ms`` (100) and no failed
call or fallback answer (a turn the server answered with its fallback line because the model's
answer did not come in time). ``--stall-ms 50`` has the server and the test model log each
pause of their loop over 50 ms, and prints how many each had. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import multiprocessing
import os
import re
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import calls as bench  # bench/calls.py: run as a script, this folder is on the path
import orjson

FDS_PER_CALL = 3  # the call's socket on each side, and room for the model's connections
FDS_BASE = 1024
FALLBACKS = 'dialplan_responses_total{outcome="fallback"}'


@dataclass(frozen=True)
class Plan:
    """What to run: the steps, the pace and the client processes."""

    steps: tuple[int, ...]
    clients: int
    goal_ms: float
    json: Path | None
    options: bench.Options


def parse_plan(argv: Sequence[str] | None) -> Plan:
    parser = argparse.ArgumentParser(
        prog="python bench/capacity.py",
        description="Concurrent calls at a phone call's pace against one dialplan core.",
    )
    parser.add_argument("--calls", default="500,1000,1500,2000", help="steps [500,1000,1500,2000]")
    parser.add_argument("--turns", type=int, default=8, help="turns per call [8]")
    parser.add_argument("--period", type=float, default=5.0, help="s between turns [5]")
    parser.add_argument("--updates", type=int, default=3, help="update_only per turn [3]")
    parser.add_argument("--update-gap", type=float, default=0.5, help="s between updates [0.5]")
    parser.add_argument("--tokens", type=int, default=30, help="pieces per answer [30]")
    parser.add_argument("--token-delay", type=float, default=0.02, help="s between pieces [0.02]")
    parser.add_argument("--arrival", type=float, default=10.0, help="calls arrive over, s [10]")
    parser.add_argument("--clients", type=int, default=3, help="load generator processes [3]")
    parser.add_argument("--goal-ms", type=float, default=100.0, help="first content p99 [100]")
    parser.add_argument("--agent", choices=("prompt", "flow"), default="prompt")
    parser.add_argument("--store", metavar="URL", help="DIALPLAN_STORE of the server")
    parser.add_argument("--database-url", help="DIALPLAN_DATABASE_URL [a SQLite file of the run]")
    parser.add_argument(
        "--stall-ms",
        type=float,
        default=0.0,
        help="the server logs each pause of its loop longer than this (DIALPLAN_STALL_MS) [off]",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of the server, for a run against other settings (repeatable) [defaults]",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    parser.add_argument("--json", type=Path, help="write the raw numbers to this file")
    args = parser.parse_args(argv)
    try:
        steps = tuple(int(n) for n in args.calls.split(",") if n.strip())
    except ValueError:
        parser.error("--calls takes comma-separated integers")
    if not steps or min(steps) < 1 or args.clients < 1 or args.turns < 1:
        parser.error("--calls, --clients and --turns must be positive")
    can_pin = hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2
    options = bench.Options(
        calls=steps,
        turns=args.turns,
        tokens=args.tokens,
        token_delay=args.token_delay,
        first_token_delay=0.0,
        barge_in=0.0,
        barge_token_delay=0.0,
        stagger=args.arrival,
        think=0.0,
        # Arrivals, every turn, and the slowest answers allowed: the phase's bound.
        run_timeout=args.arrival + (args.turns + 2) * args.period + bench.RESPONSE_TIMEOUT,
        json=None,
        pin=can_pin and not args.no_pin,
        agent=args.agent,
        updates=args.updates,
        update_gap=args.update_gap,
        costs=False,
        store=args.store,
        period=args.period,
        database_url=args.database_url,
        stall_ms=args.stall_ms,
        server_env=tuple(args.server_env),
    )
    return Plan(steps, args.clients, args.goal_ms, args.json, options)


# ---------------------------------------------------------------------------------------------
# The load generator's processes
# ---------------------------------------------------------------------------------------------


def _client(
    port: int,
    tag: str,
    count: int,
    options: bench.Options,
    indices: list[int],
    go: Any,
    start_at: Any,
    out: Any,
) -> None:
    """One load generator process: its share of the calls on its own loop."""
    if options.pin:
        os.sched_setaffinity(0, {bench.CLIENT_CORE})
    # Its own pauses would be counted as the server's: what is loaded stays out of the cycle
    # collector's passes, and the passes are fewer (as in the server).
    gc.collect()
    gc.freeze()
    gc.set_threshold(7000, 20, 20)
    out.put(None)  # imported and ready
    if not go.wait(60):
        return
    begun = time.process_time()
    # perf_counter is the system's monotonic clock on Linux: the parent's start time holds here.
    played: bench.Played = bench.run_async(
        bench.play_calls(port, tag, count, options, 0.0, indices, start_at.value)
    )
    played.client_cpu_s = time.process_time() - begun
    out.put(played)


def player(clients: int, count: int, options: bench.Options) -> bench.Player:
    """A :data:`calls.Player` spreading the calls over ``clients`` processes."""

    def play(port: int, tag: str) -> bench.Played:
        # Spawned, not forked: the sampler's thread runs in this process.
        context = multiprocessing.get_context("spawn")
        queue, go, start_at = context.Queue(), context.Event(), context.Value("d", 0.0)
        shares = [list(range(w, count, clients)) for w in range(min(clients, count))]
        processes = [
            context.Process(
                target=_client,
                args=(port, tag, count, options, share, go, start_at, queue),
                name=f"client-{w}",
            )
            for w, share in enumerate(shares)
        ]
        for process in processes:
            process.start()
        results: list[bench.Played] = []
        try:
            for _ in processes:
                queue.get(timeout=60)  # each process has started and imported
            start_at.value = time.perf_counter() + 0.2
            go.set()
            for _ in processes:
                results.append(queue.get(timeout=options.run_timeout + 30))
        finally:
            for process in processes:
                process.join(10)
                if process.is_alive():
                    process.terminate()  # by its pid: it is ours
                    process.join(5)
        merged = bench.Played(
            [r for played in results for r in played.results],
            max(p.wall_s for p in results),
            [lag for played in results for lag in played.loop_lags],
            sum(p.client_cpu_s or 0.0 for p in results),
        )
        missing = count - len(merged.results)
        merged.results.extend(
            bench.CallResult(error="its client process gave no result") for _ in range(missing)
        )
        return merged

    return play


def raise_open_files(needed: int) -> tuple[int, int]:
    """Raise this process's soft open-file limit to ``needed`` (up to the hard limit).

    Children (the servers and the clients) inherit it. Returns the limits now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


# ---------------------------------------------------------------------------------------------
# One step
# ---------------------------------------------------------------------------------------------


@dataclass
class Step:
    """What one step measured."""

    calls: int
    phase: bench.TurnPhase
    steady_s: float = 0.0
    steady_turns: int = 0
    steady_busy: float | None = None
    """The server's CPU as a share of its core while every call was up (1 = saturated)."""
    steady_cpu_per_turn_ms: float | None = None
    steady_waiting: float | None = None
    """How much of the steady window the server was ready to run but another process had its
    core (1 = all of it): other work on the machine, which shows in every latency."""
    fd_limit: int = 0
    stalls: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    """With ``--stall-ms``: each process's loop pauses over that (``count``, ``worst_ms``)."""

    @property
    def fallbacks(self) -> int:
        """Turns the server answered with its fallback line (the model failed or was late).

        The call goes on, so the client counts the turn as played; the caller heard an apology.
        """
        return int(self.phase.server_metrics.get(FALLBACKS, 0))

    def meets(self, goal_ms: float) -> bool:
        p99 = self.phase.overhead_ms.get("p99")
        served = self.phase.failed_calls == 0 and self.fallbacks == 0
        return served and p99 is not None and p99 < goal_ms


def steady(
    step: Step, cpu: list[tuple[float, float, float]], results: list[bench.CallResult]
) -> None:
    """The server's load between the last call's first answer and the first call's last."""
    ends = [r.turn_ends for r in results if r.turn_ends]
    if not ends or len(cpu) < 2:
        return
    begin = max(e[0] for e in ends)
    end = min(e[-1] for e in ends)
    inside = [sample for sample in cpu if begin <= sample[0] <= end]
    if end - begin < 2.0 or len(inside) < 2:
        return
    (t0, c0, w0), (t1, c1, w1) = inside[0], inside[-1]
    step.steady_waiting = round((w1 - w0) / (t1 - t0), 3)
    step.steady_s = round(t1 - t0, 1)
    step.steady_turns = sum(1 for e in ends for t in e if t0 < t <= t1)
    step.steady_busy = round((c1 - c0) / (t1 - t0), 3)
    if step.steady_turns:
        step.steady_cpu_per_turn_ms = round((c1 - c0) / step.steady_turns * 1000, 3)


def run_step(plan: Plan, count: int, logdir: Path) -> Step:
    fd_limit = raise_open_files(FDS_BASE + FDS_PER_CALL * count)[0]
    options = dataclasses.replace(plan.options, calls=(count,))
    phase = bench.TurnPhase(count, count * options.turns, options.token_delay)
    timeline: list[tuple[float, float, float]] = []
    played = bench.measure(
        phase,
        options,
        logdir,
        barge_in=0.0,
        player=player(plan.clients, count, options),
        sampled=lambda sampler: timeline.extend(sampler.cpu),
    )
    bench.summarise_turns(phase, played.results)
    step = Step(count, phase, fd_limit=fd_limit)
    steady(step, timeline, played.results)
    if options.stall_ms > 0:
        tag = f"turns{count}"
        step.stalls = {
            who: stalls_in(logdir / f"{name}-{tag}.log")
            for who, name in (("server", "dialplan"), ("model", "llm"))
        }
    return step


_LAG = re.compile(r"loop\.stalled.*?lag_ms=([0-9.]+)")


def stalls_in(log: Path) -> dict[str, float]:
    """The loop's pauses a process logged (``loop.stalled``): how many, the longest."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return {}
    lags = [float(found) for found in _LAG.findall(text)]
    return {"count": len(lags), "worst_ms": max(lags, default=0.0)}


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def print_step(step: Step, plan: Plan) -> None:
    t = step.phase
    fmt, fmt_ms = bench.fmt, bench.fmt_ms

    def percent(share: float | None) -> str:
        return fmt(None if share is None else share * 100, 0)

    print(f"\n== {step.calls} calls (open-file limit {step.fd_limit}) ==")
    bench.print_common(t)
    print(
        f"  first content        {fmt_ms(t.overhead_ms, 'p50', 'p99', 'max')}"
        f"  ({'meets' if step.meets(plan.goal_ms) else 'misses'} p99 < {plan.goal_ms:g} ms)"
    )
    print(f"  greeting delay       {fmt_ms(t.greeting_ms, 'p50', 'p99', 'max')}")
    print(
        f"  fallback answers     {step.fallbacks} of {t.turns_done} turns (the model's answer "
        "failed or did not start in time)"
    )
    print(
        f"  server CPU per turn  {fmt(t.cpu_per_turn_ms, 2)} ms over the step; "
        f"{fmt(step.steady_cpu_per_turn_ms, 2)} ms while all calls were up "
        f"({step.steady_turns} turns in {step.steady_s:g} s, core "
        f"{percent(step.steady_busy)} % busy; waiting for it {percent(step.steady_waiting)} % "
        "of the time)"
    )
    for who, seen in step.stalls.items():
        print(
            f"  {who} loop pauses   {seen.get('count', 0):g} over {plan.options.stall_ms:g} ms, "
            f"the longest {seen.get('worst_ms', 0):g} ms"
        )


def row(step: Step, goal_ms: float) -> str:
    t = step.phase

    def pair(values: dict[str, float | None], a: str, b: str) -> str:
        return f"{bench.fmt(values.get(a))} / {bench.fmt(values.get(b))}"

    busy = "-" if step.steady_busy is None else f"{step.steady_busy * 100:.0f} %"
    if step.steady_waiting is not None:
        busy += f" ({step.steady_waiting * 100:.0f} %)"
    return (
        f"| {step.calls} | {t.turns_done}/{t.turns_expected} | {t.failed_calls} "
        f"| {step.fallbacks} "
        f"| {pair(t.overhead_ms, 'p50', 'p99')} | {bench.fmt(t.greeting_ms.get('p99'))} "
        f"| {pair(t.ping_ms, 'p99', 'max')} | {bench.fmt(t.cpu_per_turn_ms, 2)} "
        f"| {bench.fmt(step.steady_cpu_per_turn_ms, 2)} | {busy} "
        f"| {t.peak.get('rss_mib')} | {pair(t.client_lag_ms, 'p99', 'max')} "
        f"| {'yes' if step.meets(goal_ms) else 'no'} |"
    )


def table(steps: Sequence[Step], goal_ms: float) -> str:
    head = (
        "| calls | turns | failed calls | fallback answers | first content p50 / p99 (ms) "
        "| greeting p99 (ms) "
        "| ping echo p99 / max (ms) | server CPU per turn, whole step (ms) "
        "| server CPU per turn, all calls up (ms) "
        "| server core busy (waiting for it), all calls up "
        "| peak RSS (MiB) | client loop lag p99 / max (ms) | p99 < goal, no failures |"
    )
    lines = [head, "|" + "---:|" * 12 + "---|"]
    lines += [row(step, goal_ms) for step in steps]
    return "\n".join(lines)


def supported(steps: Sequence[Step], goal_ms: float) -> int | None:
    """The largest step that met the goal (``None``: none did)."""
    met = [step.calls for step in steps if step.meets(goal_ms)]
    return max(met) if met else None


def main(argv: Sequence[str] | None = None) -> int:
    plan = parse_plan(argv)
    options = plan.options
    if options.pin:
        os.sched_setaffinity(0, {bench.CLIENT_CORE})  # children inherit it; the server moves
    logdir = Path(tempfile.mkdtemp(prefix="dialplan-capacity-"))
    print(
        f"dialplan capacity: steps {','.join(map(str, plan.steps))}; a turn every "
        f"{options.period:g} s, {options.updates} update_only {options.update_gap:g} s apart, "
        f"{options.tokens} pieces at {options.token_delay * 1000:g} ms, pings every "
        f"{bench.PING_INTERVAL:g} s, arrivals over {options.stagger:g} s, {options.turns} turns; "
        f"{plan.clients} client processes; agent {options.agent}; server logs in {logdir}",
        flush=True,
    )
    steps: list[Step] = []
    with bench.sigterm_as_exit():
        for count in plan.steps:
            step = run_step(plan, count, logdir)
            steps.append(step)
            print_step(step, plan)
            sys.stdout.flush()
    print("\n" + table(steps, plan.goal_ms))
    best = supported(steps, plan.goal_ms)
    print(
        f"\nsupported: {best if best is not None else 'no step'} concurrent calls on one core "
        f"(first content p99 < {plan.goal_ms:g} ms, no failed call, no fallback answer); "
        f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    if plan.json is not None:
        plan.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"options": asdict(options), "steps": [asdict(step) for step in steps]}
        plan.json.write_bytes(
            orjson.dumps(payload, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
        )
        print(f"raw numbers written to {plan.json}")
    return 0 if best == max(plan.steps) else 1


if __name__ == "__main__":
    sys.exit(main())
