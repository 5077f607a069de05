"""How long `dialplan replay` takes: 1,000 realistic recorded calls played against a flow.

Fills a fresh call log (SQLite, in a temporary folder) with N recorded calls of the example
flows (`flows/booking.yaml`, `flows/clinic_intake.yaml`): the scripted whole-call callers of
`tests/callers/` and the conversation tests of `tests/conversations/`, each played through the
flow engine in-process (the code a phone call runs, the booking's actions for real), and its
record built and written as the server builds and writes it (`engine.records`), with its turn
traces, transcript and actions. Each script is recorded under many call ids and start times.

Then it runs `dialplan replay` on them, the real command in a process of its own, once per
flow (and `--baseline replay`, which plays every call twice), and prints the wall time of each
with the verdicts. Nothing is asserted: the numbers are in bench/README.md.

    python bench/replay.py                  # 1,000 calls (~1 min in all)
    python bench/replay.py --calls 200 --json bench/results/replay.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.agent import CallInfo
from engine.flow import CompiledFlow, FlowRunner, safe_yaml, stub_runners
from engine.project import Project
from engine.protocol import Utterance
from engine.records import CallFacts, Database, TurnRecord, build_record
from engine.server.logs import configure
from engine.settings import Settings

REPO = Path(__file__).resolve().parent.parent
FLOWS = ("booking", "clinic_intake")


@dataclass(frozen=True)
class Script:
    """A caller's lines (``None``: a silence) for one flow, and the day the call is made."""

    flow: str
    name: str
    lines: list[str | None]
    today: date


def load(path: Path) -> Any:
    # As the engine reads authored YAML: "no" and "yes" are words, not booleans.
    return safe_yaml.load(path.read_text(encoding="utf-8"))


def scripts(flows: tuple[str, ...]) -> list[Script]:
    """The example flows' scripted callers and conversation tests, as caller lines."""
    found: list[Script] = []
    for flow in flows:
        callers = load(REPO / "tests" / "callers" / f"{flow}.yaml")
        for caller in callers["callers"]:
            found.append(Script(flow, caller["name"], list(caller["says"]), callers["today"]))
        tests = load(REPO / "tests" / "conversations" / f"{flow}.yaml")
        for test in tests["tests"]:
            lines = [
                None if turn.get("silence") else turn["caller"]
                for turn in test["turns"]
                if "caller" in turn or turn.get("silence")
            ]
            if not test.get("uses_model") and not any("model" in t for t in test["turns"]):
                found.append(
                    Script(flow, test["name"], lines, tests.get("today") or date(2026, 11, 25))
                )
    return found


async def record(flow: CompiledFlow, script: Script, call_id: str, started: datetime) -> Any:
    """One call of ``script`` through ``flow``, and its record as the server would write it."""
    call = CallInfo(call_id, flow=flow.name, details={"call_id": call_id, "metadata": {}})
    today = script.today
    runner = FlowRunner(
        flow, call=call, today=lambda: today, actions=stub_runners(live=True), clock=lambda: started
    )
    turns: list[TurnRecord] = []
    moment = started
    greeting = runner.start()
    turns.append(
        TurnRecord(response_id=0, kind="greeting", started_at=moment, said=greeting.text,
                   state_after=runner.state)
    )  # fmt: skip
    ended_by = None
    try:
        for number, line in enumerate(script.lines, start=1):
            moment += timedelta(seconds=6)
            reply = await (runner.silence() if line is None else runner.say(line))
            turns.append(
                TurnRecord.build(
                    runner.conversation.turn_trace(),
                    response_id=number,
                    kind="reminder" if line is None else "response",
                    started_at=moment,
                    transcript_len=len(runner.transcript) - (1 if reply.text else 0),
                    said=reply.text,
                    end_call=reply.ended,
                    transfer_number=reply.transfer,
                    outcome="fallback" if reply.error else "complete",
                )
            )
            if reply.ended or reply.transfer:
                ended_by = "hang_up" if reply.ended else "transfer"
                break
        facts = CallFacts(
            call=call,
            summary=runner.conversation.summary(),
            turns=tuple(turns),
            transcript=tuple(Utterance(u.role, u.content) for u in runner.transcript),
            started_at=started.timestamp(),
            ended_at=moment.timestamp() + 4,
            ended_by=ended_by,  # type: ignore[arg-type]
            transfer_number=turns[-1].transfer_number,
        )
        return build_record(facts)
    finally:
        runner.close()


async def fill(
    database: Database, project: Project, calls: int, names: tuple[str, ...]
) -> dict[str, int]:
    """``calls`` records in the call log, spread over the scripts; how many per flow."""
    flows = {name: project.open_flow(name) for name in names}
    found = scripts(names)
    per_flow = dict.fromkeys(names, 0)
    for number in range(calls):
        script = found[number % len(found)]
        day = datetime.combine(script.today, datetime.min.time(), UTC) + timedelta(hours=15)
        started = day + timedelta(seconds=number)
        made = await record(flows[script.flow], script, f"bench_{number:05d}", started)
        database.save(made)
        per_flow[script.flow] += 1
    return per_flow


def replay(flow: str, env: dict[str, str], cwd: Path, *extra: str) -> dict[str, Any]:
    """``dialplan replay FLOW --json`` in a process of its own: wall time and verdicts."""
    command = [sys.executable, "-m", "engine.cli", "replay", flow, "--json", "--limit", "100000"]
    began = time.perf_counter()
    done = subprocess.run([*command, *extra], cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if done.returncode not in (0, 1):
        raise SystemExit(f"dialplan replay failed ({done.returncode}):\n{done.stderr}")
    result = json.loads(done.stdout)
    return {
        "flow": flow,
        "extra": list(extra),
        "seconds": round(seconds, 2),
        "calls": result["calls"],
        "same": result["same"],
        "changed": result["changed"],
        "diverged": result["diverged"],
        "skipped": len(result["skipped"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="recorded calls (default 1000)")
    parser.add_argument(
        "--flows", default=",".join(FLOWS), help=f"the flows' calls (default {','.join(FLOWS)})"
    )
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args()
    configure("WARNING")
    folder = Path(tempfile.mkdtemp(prefix="dialplan-bench-replay-"))
    url = f"sqlite:///{folder / 'dialplan.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIALPLAN_", "OPENAI_"))}
    env.update(
        DIALPLAN_DATABASE_URL=url,
        DIALPLAN_FLOWS_DIR=str(REPO / "flows"),
        DIALPLAN_PROMPTS_DIR=str(REPO / "prompts"),
        DIALPLAN_PROJECT_FILE=str(folder / "dialplan.yaml"),
        DIALPLAN_LOG_LEVEL="ERROR",
    )
    settings = Settings(
        database_url=url, flows_dir=REPO / "flows", prompts_dir=REPO / "prompts", log_level="ERROR"
    )
    database = Database(url)
    database.migrate()
    began = time.perf_counter()
    flows = tuple(name for name in args.flows.split(",") if name)
    project = Project.from_settings(settings)
    per_flow = asyncio.run(fill(database, project, args.calls, flows))
    filled = time.perf_counter() - began
    database.close()
    print(f"call log {url}: {args.calls} calls recorded in {filled:.1f} s {per_flow}")
    runs = [replay(flow, env, folder) for flow in flows]
    runs += [replay(flow, env, folder, "--baseline", "replay") for flow in flows]
    print(f"{'flow':<14} {'mode':<16} {'calls':>6} {'seconds':>8} {'ms/call':>8}  verdicts")
    for run in runs:
        mode = " ".join(run["extra"]) or "recorded"
        per_call = 1000 * run["seconds"] / max(run["calls"], 1)
        verdicts = f"{run['same']} same, {run['changed']} changed, {run['diverged']} diverged"
        print(
            f"{run['flow']:<14} {mode:<16} {run['calls']:>6} {run['seconds']:>8.2f} "
            f"{per_call:>8.1f}  {verdicts}, {run['skipped']} skipped"
        )
    total = sum(run["seconds"] for run in runs[: len(flows)])
    calls = sum(run["calls"] for run in runs[: len(flows)])
    print(f"all {calls} calls replayed in {total:.2f} s (both commands, start-up included)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        numbers = {"calls": args.calls, "fill_seconds": filled, "runs": runs}
        args.json.write_text(json.dumps(numbers, indent=2))


if __name__ == "__main__":
    main()
