"""The single-prompt agent: one system prompt, the model answers every turn.

This is the server's default conversation and the simplest useful agent: a Jinja system prompt
from the prompts folder, a greeting line, and the transcript. Flows replace it with a state
machine; both speak through the same :mod:`engine.agent` interface.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
import jinja2.meta

from engine.agent import CallInfo, CallSummary, Greeting, Part, Speech, Turn, TurnTrace
from engine.llm import ChatModel, Meter, TextDelta, chat_messages
from engine.protocol import RawTranscript
from engine.templates import compile_string, load_template, render

REMINDER_INSTRUCTION = (
    "The caller has gone quiet. Check in with one short, friendly sentence, for example asking "
    "whether they are still there or need a moment. Do not repeat or extend your last answer."
)
NO_MODEL_LINE = "Sorry, this line has no language model set up yet, so I can't answer that."


@dataclass(frozen=True, slots=True)
class PromptAgentSpec:
    """What a prompt agent says: immutable, shared by every call it serves."""

    system: jinja2.Template
    greeting: jinja2.Template | None
    greeting_uses_call: bool
    reminder_line: str
    fallback_line: str


def prompt_agent_spec(
    env: jinja2.Environment,
    prompt: str,
    greeting: str,
    reminder_line: str,
    fallback_line: str,
) -> PromptAgentSpec:
    """Load and check the templates of a prompt agent (raises :class:`TemplateError`)."""
    system = load_template(env, prompt)
    compiled = compile_string(env, greeting, "greeting") if greeting.strip() else None
    uses_call = bool(compiled) and "call" in jinja2.meta.find_undeclared_variables(
        env.parse(greeting)
    )
    return PromptAgentSpec(system, compiled, uses_call, reminder_line, fallback_line)


class PromptAgent:
    """An :class:`~engine.agent.Agent` whose every call runs the same system prompt."""

    def __init__(self, spec: PromptAgentSpec, model: ChatModel | None) -> None:
        self.spec = spec
        self.model = model

    def start(self, call: CallInfo) -> PromptConversation:
        """A conversation for a new call."""
        return PromptConversation(self.spec, self.model)

    def accepts(self, call: CallInfo) -> str | None:
        """Every call: the single prompt ignores a flow segment in the URL."""
        return None

    def problems(self) -> list[str]:
        """Readiness problems: no model means the agent can only greet and apologise."""
        return [] if self.model else ["no language model is configured (set OPENAI_API_KEY)"]


class PromptConversation:
    """One call of the prompt agent; it keeps no state beyond the transcript it is given."""

    def __init__(self, spec: PromptAgentSpec, model: ChatModel | None) -> None:
        self.spec = spec
        self.model = model
        self._system: tuple[object, str] | None = None  # (call details it was rendered for, text)
        self._trace: TurnTrace | None = None

    @property
    def wants_call_details(self) -> bool:
        """True when the greeting template reads ``call``."""
        return self.spec.greeting_uses_call

    def greeting(self, call: CallInfo) -> Greeting:
        """Render the greeting with the call details that have arrived (possibly none)."""
        if self.spec.greeting is None:
            return Greeting("")
        return Greeting(render(self.spec.greeting, _context(call)))

    def observe(self, transcript: RawTranscript, turntaking: str | None) -> None:
        """Nothing to fold: every turn carries the whole transcript."""

    def close(self) -> None:
        """Nothing to release."""

    def turn_trace(self) -> TurnTrace | None:
        """The last finished turn: whether (and how) the model answered it."""
        return self._trace

    def summary(self) -> CallSummary:
        """Nothing collected: the prompt agent keeps no slots or states."""
        return CallSummary()

    async def respond(self, turn: Turn) -> AsyncIterator[Part]:
        """Stream the model's answer to the transcript (a short check-in on reminders)."""
        self._trace = None
        plan = "remind" if turn.reminder else "answer"
        if self.model is None:
            yield Speech(self.spec.reminder_line if turn.reminder else NO_MODEL_LINE)
            self._trace = TurnTrace(plan=f"{plan}_without_model")
            return
        # The system prompt depends only on the call details, which arrive once per call.
        if self._system is None or self._system[0] is not turn.call.details:
            self._system = (turn.call.details, render(self.spec.system, _context(turn.call)))
        system = self._system[1]
        if turn.reminder:
            system = f"{system}\n\n{REMINDER_INSTRUCTION}"
        messages: Sequence[Mapping[str, Any]] = chat_messages(system, turn.transcript)
        meter = Meter()
        # Measured here rather than through ``meter.wrap``: a generator less between the
        # model's stream and the caller, for every piece of the answer.
        events = self.model.stream(messages)
        started = meter.begin()
        try:
            try:
                async for event in events:
                    if meter.saw(event, started) and isinstance(event, TextDelta):
                        yield Speech(event.text)
            finally:
                meter.end(started)
                close = getattr(events, "aclose", None)
                if close is not None:
                    await close()  # now, not when collected: it holds the HTTP stream
        except Exception:
            self._trace = TurnTrace(plan=plan, model=meter.use())
            raise
        self._trace = TurnTrace(plan=plan, model=meter.use())


def _context(call: CallInfo) -> dict[str, Any]:
    return {"call": call.template_view()}
