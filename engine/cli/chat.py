"""``dialplan chat``: be the caller of a flow in the terminal.

The chat drives a :class:`~engine.flow.runner.FlowRunner`, so every line goes through the
conversation code a phone call goes through (parsers, intents, guards, actions, the model when
one is configured). After each turn it prints the state and the slots on one line, and the
actions the platform would carry out (hang up, transfer, press digits).

Interactive use reads the terminal line by line; ``--script FILE`` or a pipe on stdin reads
caller lines from there, and the output is then plain deterministic text that tests assert on.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, cast

import click

from engine.agent import CallInfo
from engine.flow import AgentReply, CompiledFlow, FlowRunner, Stub, StubbedCall, stub_runners
from engine.llm import ChatModel, RecordingModel
from engine.settings import Settings

from . import _project
from ._request import request_lines
from ._values import NOT_SET, shown

Provider = Literal["auto", "openai", "azure", "none", "test"]
"""Where the chat's model comes from: ``DIALPLAN_LLM_PROVIDER``'s values, plus ``test``."""

COMMANDS = {
    "/state": "the current state and the way the call came",
    "/slots": "every slot of the flow and its value",
    "/silence": "stay quiet for a turn (the agent's reminder)",
    "/prompt": "the last request sent to the model: messages, tools, token estimate",
    "/reset": "hang up and start a new call",
    "/quit": "leave",
    "/help": "this list",
}
TEST_MODEL_LINE = "This is the test model speaking."
"""What ``--provider test`` answers whenever the flow hands a turn to the model."""


@dataclass
class Chat:
    """One terminal chat with one flow; :meth:`handle` takes a caller line or a command.

    Everything it prints goes through ``echo``, one line at a time, so tests can collect it.
    """

    flow: CompiledFlow
    model: ChatModel | None = None
    today: Callable[[], date] | None = None
    echo: Callable[[str], None] = click.echo
    fallback_line: str = "Sorry, I'm having a little trouble on my end. Could you say that again?"
    live_actions: bool = False  # run actions for real (webhooks are sent)
    stubs: dict[str, Stub] = field(default_factory=dict)  # what stubbed actions answer, by name
    time_zone: str = "UTC"
    call_id: str | None = None  # the first call's id (default: a new chat_<random> per call)

    def __post_init__(self) -> None:
        self.calls = 0
        self.call = CallInfo("", flow=self.flow.name)  # the current call (set by _new_call)
        self.over = False  # the call hung up or transferred, or the caller quit
        self.actions: list[StubbedCall] = []  # every action the call ran or stood in for
        self._shown_actions = 0
        self._hinted = False  # the hint on what a stub answers is shown once a chat
        self.runner = self._new_call()

    def _new_call(self) -> FlowRunner:
        self.calls += 1
        # Each call its own id, as on the phone: an action or webhook that de-duplicates on
        # the call id must not take two chats for one call.
        if self.call_id is None:
            call_id = new_call_id()
        else:
            call_id = self.call_id if self.calls == 1 else f"{self.call_id}_{self.calls}"
        call = self.call = CallInfo(call_id, flow=self.flow.name)
        # Stubbed unless asked: trying a flow must not POST to a live webhook.
        actions = stub_runners(self.stubs, self.actions, live=self.live_actions)
        return FlowRunner(
            self.flow,
            self.model,
            call=call,
            today=self.today,
            actions=actions,
            time_zone=self.time_zone,
            fallback_line=self.fallback_line,
        )

    def start(self) -> None:
        """Greet: the flow's begin line, then the state line."""
        self._show(self.runner.start(), greeting=True)

    async def handle(self, line: str) -> None:
        """One line from the caller: a command (``/state``), silence (empty), or speech."""
        text = line.strip()
        if not text or text == "/silence":
            self._show(await self.runner.silence())
        elif text.startswith("/"):
            self._command(text.split()[0])
        else:
            self._show(await self.runner.say(text))

    def _command(self, command: str) -> None:
        if command == "/state":
            path = " > ".join(self.runner.states)
            self.echo(f"state: {self.runner.state} (path: {path})")
        elif command == "/slots":
            filled = self.runner.slots
            width = max((len(name) for name in self.flow.slots), default=0)
            for name in self.flow.slots:
                value = shown(filled[name]) if name in filled else NOT_SET
                self.echo(f"  {name:<{width}}  {value}")
            if not self.flow.slots:
                self.echo("  (this flow has no slots)")
        elif command == "/prompt":
            self._last_request()
        elif command == "/reset":
            self.runner.close()
            self.runner = self._new_call()
            self.echo("-- new call --")
            self.start()
        elif command == "/quit":
            self.close()
        elif command == "/help":
            for name, meaning in COMMANDS.items():
                self.echo(f"  {name:<9} {meaning}")
            self.echo("  an empty line is silence too (in a --script, use /silence)")
        else:
            self.echo(f"unknown command {command} (try /help)")

    def _last_request(self) -> None:
        if self.model is None:
            self.echo("no model: nothing is sent to one (dialplan prompt FLOW STATE shows what")
            self.echo("a state would send)")
            return
        last = self.model.last if isinstance(self.model, RecordingModel) else None
        if last is None:
            self.echo("no request was sent to the model yet (the flow's lines and parsers")
            self.echo("handled every turn)")
            return
        self.echo("the last request sent to the model:")
        for line in request_lines(last):
            self.echo(f"  {line}")

    def _show(self, reply: AgentReply, greeting: bool = False) -> None:
        for action in self.actions[self._shown_actions :]:
            self.echo(f"  (action {action.describe()})")
            if not (action.live or action.failed or self._hinted) and action.name not in self.stubs:
                # A flow that reads the answer (`result.available`) goes its "no" way on {}:
                # say why, once, and how to answer otherwise.
                self._hinted = True
                self.echo(
                    "  (a stubbed action answers {}: --actions FILE says what each answers, "
                    "as a conversation test's `actions:`; --live-actions runs them)"
                )
        self._shown_actions = len(self.actions)
        text = reply.text
        if reply.error is not None:
            # The runner says the fallback line, as the server does when a turn fails.
            self.echo(f"  (error: {reply.error})")
        if text:
            self.echo(f"agent: {text}")
        elif greeting:
            self.echo("agent: (no greeting: the caller speaks first)")
        else:
            self.echo("agent: (says nothing)")
        control = reply.control
        if control.digit_to_press:
            self.echo(f"  (presses {control.digit_to_press})")
        if control.transfer_number:
            self.echo(f"  (transfers to {control.transfer_number})")
        if control.end_call:
            self.echo("  (hangs up)")
        self.echo("  " + self.status())
        state = self.flow.spec.states[self.runner.state]
        if control.end_call:
            self._end("hung up")
        elif control.transfer_number:
            self._end(f"transferred to {control.transfer_number}")
        elif control.digit_to_press and not (
            state.next or self.flow.spec.give_up_target(self.runner.state)
        ):
            # A keypad state with no way out hands the call to a phone menu: the flow is done.
            self._end(f"pressed {control.digit_to_press} for a phone menu", what="flow")

    def _end(self, how: str, what: str = "call") -> None:
        self.echo(f"-- {what} ended: {how} --")
        self.close()

    def status(self) -> str:
        """The compact state line: ``[state] slot=value, slot=value``."""
        filled = self.runner.slots
        # In the order the flow declares them, so a slot asked again keeps its place.
        names = [name for name in self.flow.slots if name in filled]
        names += [name for name in filled if name not in self.flow.slots]
        slots = ", ".join(f"{name}={shown(filled[name])}" for name in names)
        return f"[{self.runner.state}]" + (f" {slots}" if slots else "")

    def close(self) -> None:
        """End the chat (frees the call's place in the flow)."""
        if not self.over:
            self.over = True
            self.runner.close()


def new_call_id() -> str:
    """A call id no other chat has: ``chat_`` and eight random hex digits."""
    return f"chat_{secrets.token_hex(4)}"


def script_lines(lines: Iterable[str]) -> Iterator[str]:
    """Caller lines of a script: ``#`` comments and blank lines left out (use ``/silence``)."""
    for raw in lines:
        line = raw.rstrip("\r\n")
        if line.strip() and not line.lstrip().startswith("#"):
            yield line


class _Models(AbstractContextManager["_Models"]):
    """The chat's model, opened and closed on the chat's event loop.

    ``auto`` is the server's choice (the configured model, else none); ``openai`` and ``azure``
    insist on that provider being configured.
    """

    def __init__(self, loop: asyncio.Runner, settings: Settings, provider: Provider) -> None:
        from engine.llm import model_configured

        self.loop = loop
        if provider == "auto":
            provider = settings.llm_provider
        if provider == "auto":
            provider = "auto" if model_configured(settings) else "none"
        self.choice: Provider = provider
        self.settings = settings
        if provider in ("openai", "azure", "auto"):
            self.settings = settings.model_copy(update={"llm_provider": provider})
        self.model: ChatModel | None = None
        self._stack = ExitStack()

    def __enter__(self) -> _Models:
        if self.choice == "none":
            return self
        from engine.llm import make_client, make_model

        settings = self.settings
        try:
            base_url = None
            if self.choice == "test":
                from engine.testing.llm_server import LLMTestServer, Reply

                server = self._stack.enter_context(LLMTestServer(Reply(text=TEST_MODEL_LINE)))
                settings = settings.model_copy(update={"model": "test"})
                base_url = server.base_url

            async def connect() -> Any:  # the client's transport binds to the running loop
                if base_url is None:
                    return make_client(settings)
                import openai

                return openai.AsyncOpenAI(
                    api_key="test", base_url=base_url, max_retries=0, timeout=settings.turn_timeout
                )

            client = self.loop.run(connect())
            if client is None:
                raise click.ClickException(
                    f"no {self.choice} model is configured: set OPENAI_API_KEY (or "
                    "OPENAI_BASE_URL for a local server, or the AZURE_OPENAI_* variables), or "
                    "chat with --provider none"
                )
            self._stack.callback(lambda: self.loop.run(client.close()))
            model = make_model(settings, client)
            self._stack.callback(lambda: self.loop.run(model.aclose()))
            self.model = RecordingModel(model)  # for /prompt: the last request sent
        except BaseException:
            self._stack.close()  # stops a test model's thread already started
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def run(
    flow: CompiledFlow,
    *,
    lines: Iterable[str] | None,
    provider: Provider = "auto",
    model: str | None = None,
    today: date | None = None,
    echo: Callable[[str], None] = click.echo,
    live_actions: bool = False,
    stubs: dict[str, Stub] | None = None,
    call_id: str | None = None,
) -> None:
    """Chat with ``flow``: from ``lines`` (a script) or, when ``None``, from the terminal.

    ``provider`` picks where the model comes from; ``model`` names it (default: the settings').
    ``call_id`` is the call's id (default: a new ``chat_<random>``); ``stubs`` says what
    stubbed actions answer, by name (the others answer ``{}``).
    """
    settings = Settings()
    if model:
        settings = settings.model_copy(update={"model": model})
    with asyncio.Runner() as loop, _Models(loop, settings, provider) as models:
        chat = Chat(
            flow,
            models.model,
            today=(lambda: today) if today is not None else None,
            echo=echo,
            fallback_line=settings.fallback_line,
            live_actions=live_actions,
            stubs=dict(stubs or {}),
            time_zone=settings.time_zone,
            call_id=call_id,
        )
        if lines is None:
            echo(
                f"dialplan chat with {flow.name} (provider: {models.choice}, call "
                f"{chat.call.call_id}). You are the caller; an empty line is silence, /help "
                "lists the commands."
            )
        try:
            chat.start()  # a greeting may already end the call
            source = script_lines(lines) if lines is not None else _terminal()
            while not chat.over:
                line = next(source, None)
                if line is None:
                    break
                if lines is not None:
                    echo(_echo(line))
                loop.run(chat.handle(line))
        finally:
            chat.close()


def _echo(line: str) -> str:
    """A script line as the transcript shows it."""
    text = line.strip()
    if text == "/silence":
        return "caller: (silence)"
    return text if text.startswith("/") else f"caller: {text}"


def _terminal() -> Iterator[str]:
    with contextlib.suppress(ImportError):  # not on every platform
        import readline  # noqa: F401  (line editing and history for input())
    while True:
        try:
            yield input("caller: ")
        except EOFError:
            click.echo()
            return


@click.command("chat")
@click.argument("flow")
@click.option(
    "--provider",
    type=click.Choice(["auto", "openai", "azure", "none", "test"]),
    default=None,
    help="Where the model comes from, as DIALPLAN_LLM_PROVIDER: auto (the configured model: "
    "OPENAI_API_KEY, OPENAI_BASE_URL or AZURE_OPENAI_*; none if there is none), openai, azure, "
    "none (no model: flows of `say` states work fully), or test (a local stand-in model that "
    "always answers with one fixed line). [default: DIALPLAN_LLM_PROVIDER, else auto]",
)
@click.option("--model", metavar="NAME", help="Model or Azure deployment name [DIALPLAN_MODEL].")
@click.option(
    "--live-actions",
    is_flag=True,
    help="Run the flow's actions for real (webhooks are sent). By default they are stubbed: "
    "each shows what it would have sent and returns {} (or what --actions declares).",
)
@click.option(
    "--actions",
    "actions_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    metavar="FILE",
    help="What the stubbed actions answer: a YAML file with `actions:` as in a conversation "
    "test file (`booking.book: {result: {booked: true}}`, `results`, `fail`, `live: true`), "
    "or a conversation test file itself.",
)
@click.option(
    "--script",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Read caller lines from FILE: one per line, `#` comments, commands allowed; blank "
    "lines are skipped (use /silence).",
)
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="Pretend today is YYYY-MM-DD (dates like 'next Friday' resolve from it).",
)
@click.option(
    "--call-id",
    metavar="ID",
    help="The call's id, as templates and actions see it (call.call_id); after /reset, "
    "ID_2, ID_3, ... [default: a new chat_<random> for every call]",
)
def chat(
    flow: str,
    provider: str | None,
    model: str | None,
    script: Path | None,
    today: datetime | None,
    live_actions: bool,
    actions_file: Path | None,
    call_id: str | None,
) -> None:
    """Talk to FLOW as the caller, through the same conversation code the server runs.

    Type what the caller says; the agent's line follows, then the state and the slots as
    `[state] slot=value, ...`. An empty line is the caller staying silent (the agent's
    reminder). Commands: /state, /slots, /silence, /prompt (the last request sent to the
    model), /reset (a new call), /quit, /help. The chat ends when the call hangs up or
    transfers.

    Not a terminal: with --script FILE, or with stdin piped in, caller lines are read from
    there (blank lines and `#` comments skipped, /silence for silence) and echoed, so the whole
    transcript is plain, repeatable text.
    """
    from engine.server.logs import configure

    configure("WARNING")  # the terminal shows the conversation, not the server's log lines
    compiled = _project.open_flow(flow)
    stubs = _project.action_stubs(actions_file) if actions_file is not None else {}
    lines: Iterable[str] | None = None
    if script is not None:
        lines = script.read_text(encoding="utf-8").splitlines()
    elif not sys.stdin.isatty():
        lines = sys.stdin
    try:
        run(
            compiled,
            lines=lines,
            provider=cast(Provider, provider or "auto"),
            model=model,
            today=today.date() if today else None,
            live_actions=live_actions,
            stubs=stubs,
            call_id=call_id or None,
        )
    except KeyboardInterrupt:
        click.echo()
        sys.exit(130)
