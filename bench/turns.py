"""The agent's own work per turn, in-process: a flow turn against a prompt-agent turn.

    .venv/bin/python bench/turns.py [--agent prompt|flow|both] [--calls 200] [--rounds 5]

Drives the agent a call runs (the prompt agent, or the flow agent with bench/flows/bench_chat,
whose every caller line goes to the model) through calls of 10 turns each, with the caller
lines of ``bench/calls.py``, against a model in this process that answers at once with 30
pieces. No server, socket or call log: only what the agent does with a turn (understanding the
caller, the flow's state machine, the state's prompt, the model's pieces passed on). Prints
the CPU time per turn, the least of ``--rounds`` rounds: far less moved by other work on the
machine than a server's CPU per turn.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import structlog

from engine.agent import Agent, CallInfo, Speech, Turn
from engine.llm import LLMEvent, Message, TextDelta, Usage
from engine.project import Project
from engine.protocol import Utterance
from engine.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TURNS = 10
PIECES = 30
LINE = "caller line {n}: I would like to hear about option {n} for my booking please"


class InstantModel:
    """A model that answers every request at once, in :data:`PIECES` pieces."""

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Message] | None = None,
        *,
        tool_choice: Message | str | None = None,
    ) -> AsyncIterator[LLMEvent]:
        for n in range(PIECES):
            yield TextDelta(f"word{n} ")
        yield Usage(prompt_tokens=100, completion_tokens=PIECES)


def agent_of(kind: str) -> Agent:
    settings: dict[str, Any] = {"agent": kind}
    if kind == "flow":
        settings.update(
            flows_dir=ROOT / "bench" / "flows", prompts_dir=ROOT / "bench" / "prompts",
            flow="bench_chat",
        )  # fmt: skip
    return Project.from_settings(Settings(**settings)).agent(InstantModel())


async def play(agent: Agent, calls: int, tag: str) -> int:
    """``calls`` calls of :data:`TURNS` turns, each turn after every call's previous one."""
    talks = []
    for n in range(calls):
        call = CallInfo(call_id=f"bench_{tag}_{n}")
        conversation = agent.start(call)
        greeting = conversation.greeting(call)
        talks.append((call, conversation, [Utterance("agent", greeting.text)]))
    for turn in range(TURNS):
        for call, conversation, transcript in talks:
            transcript.append(Utterance("user", LINE.format(n=turn)))
            said = []
            asked = Turn(turn + 1, tuple(transcript), call)
            async for part in conversation.respond(asked):
                if isinstance(part, Speech):
                    said.append(part.text)
            conversation.turn_trace()
            transcript.append(Utterance("agent", "".join(said)))
    for _, conversation, _ in talks:
        conversation.close()
    return calls * TURNS


def per_turn(kind: str, calls: int, rounds: int) -> float:
    """The least CPU seconds per turn over ``rounds`` rounds (one warm-up round first)."""
    agent = agent_of(kind)
    asyncio.run(play(agent, 3, "warm"))  # lazy dictionaries, compiled patterns, templates
    best = float("inf")
    for n in range(rounds):
        started = time.process_time()
        turns = asyncio.run(play(agent, calls, str(n)))
        best = min(best, (time.process_time() - started) / turns)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", choices=("prompt", "flow", "both"), default="both")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ.pop("DIALPLAN_FLOW", None)  # the bench's own flow, never the caller's
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    kinds = ("prompt", "flow") if args.agent == "both" else (args.agent,)
    costs = {kind: per_turn(kind, args.calls, args.rounds) for kind in kinds}
    for kind, cost in costs.items():
        print(f"{kind:6} agent: {cost * 1e6:7.1f} µs CPU per turn")
    if len(costs) == 2:
        print(f"flow turn beyond a prompt turn: {(costs['flow'] - costs['prompt']) * 1e6:.1f} µs")


if __name__ == "__main__":
    main()
