"""What happened on one conversation-test call, for checks and for failure messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from engine.flow import AgentReply, FlowRunner, StubbedCall

from .conversation_spec import ConversationTest


@dataclass
class Line:
    """One line of the transcript: who said what on which turn, and what happened."""

    turn: int
    speaker: str  # "caller" or "agent"
    text: str
    notes: tuple[str, ...] = ()


@dataclass
class CallRecord:
    """The record of one test call, for checks and failure messages."""

    test: ConversationTest
    runner: FlowRunner
    lines: list[Line] = field(default_factory=list)
    ended_on: int | None = None  # turn on which the agent hung up or transferred
    ended_how: str = ""
    transfer: str | None = None
    hung_up: bool = False
    model_requests: int = 0
    intents: list[str] = field(default_factory=list)  # global intents taken (coverage)
    actions: list[StubbedCall] = field(default_factory=list)  # every action, stubbed or run
    actions_before: int = 0  # actions of earlier turns

    def turn_starts(self) -> None:
        """A new turn: actions called from now on are this turn's."""
        self.actions_before = len(self.actions)

    def agent_said(self, number: int, reply: AgentReply, asked: int) -> None:
        """Record the agent's reply on turn ``number`` (``asked``: model requests)."""
        notes = [f"action {a.describe()}" for a in self.actions[self.actions_before :]]
        if reply.ended:
            notes.append("hangs up")
        if reply.transfer is not None:
            notes.append(f"transfers to {reply.transfer}")
        if asked:
            notes.append("model asked" if asked == 1 else f"model asked {asked} times")
        if reply.error is not None:
            notes.append(f"failed: {reply.error}")  # the server would speak its fallback
        self.lines.append(Line(number, "agent", reply.text, tuple(notes)))
        if reply.ended or reply.transfer is not None:
            self.ended_on = number
            self.ended_how = "hung up" if reply.ended else f"transferred to {reply.transfer}"
            self.hung_up = self.hung_up or reply.ended
            self.transfer = reply.transfer or self.transfer

    def story(self, failing: int | None) -> str:
        """The transcript, states and slots, the failing turn's lines marked with ``>``."""
        out = ["transcript:"]
        for line in self.lines:
            mark = ">" if line.turn == failing else " "
            text = line.text.strip() or (
                "(silence)" if line.speaker == "caller" else "(says nothing)"
            )
            notes = f"   [{', '.join(line.notes)}]" if line.notes else ""
            out.append(f"  {mark} {line.speaker + ':':7} {text}{notes}")
        out.append("path:  " + " -> ".join(self.runner.states))
        out.append("slots: " + show(self.runner.slots))
        return "\n".join(out)


def show(value: Any) -> str:
    """A value as compact, stable JSON."""
    return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS).decode()
