"""`dialplan chat`: scripted transcripts, the commands, and a real terminal (tmux)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

from engine.cli import chat as chat_module
from engine.errors import LLMError
from engine.flow import CompiledFlow
from engine.project import Project
from engine.settings import Settings
from tests import tools
from tests.helpers import EXAMPLE

ROOT = EXAMPLE  # not flows/: editing an example flow must not move these tests
TODAY = "2025-01-15"


def open_flow(name_or_path: str | Path, prompts_dir: Path = ROOT / "prompts") -> CompiledFlow:
    settings = Settings(flows_dir=ROOT / "flows", prompts_dir=prompts_dir)
    return Project.from_settings(settings).open_flow(name_or_path)


HAPPY_PATH = """\
# clinic intake: the happy path
My name is Dana Scully
February 23rd 1964

a sore throat
yes
"""

HAPPY_TRANSCRIPT = "".join(
    line + "\n"
    for line in [
        "agent: Thanks for calling the clinic. I can get you registered for a visit. "
        "Can I have your full name?",
        "  [ask_name]",
        "caller: My name is Dana Scully",
        "agent: Thanks, Dana. What is your date of birth?",
        "  [ask_dob] full_name=Dana Scully",
        "caller: February 23rd 1964",
        "agent: And what is the reason for your visit?",
        "  [ask_reason] full_name=Dana Scully, date_of_birth=1964-02-23",
        "caller: a sore throat",
        "agent: Let me read that back. Dana Scully, born February 23rd, 1964. Reason for the "
        "visit: a sore throat. Is that right?",
        "  [confirm] full_name=Dana Scully, date_of_birth=1964-02-23, reason=a sore throat",
        "caller: yes",
        "agent: Thank you, Dana, you're all set. The front desk will call you to book a time. "
        "Goodbye!",
        "  (hangs up)",
        "  [done] full_name=Dana Scully, date_of_birth=1964-02-23, reason=a sore throat",
        "-- call ended: hung up --",
    ]
)


def clean_env() -> dict[str, str]:
    """The environment without any model or dialplan settings (and outside any tmux)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "DIALPLAN_", "TMUX"))
    }


def dialplan_chat(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "chat", *args],
        cwd=ROOT,
        env=clean_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def chat(name: str, *lines: str, provider: chat_module.Provider = "none") -> list[str]:
    """An in-process chat from script lines; returns the printed lines."""
    from datetime import date

    flow = open_flow(name)
    out: list[str] = []
    chat_module.run(flow, lines=lines, provider=provider, today=date(2025, 1, 15), echo=out.append)
    return out


def test_scripted_happy_path_shows_states_slots_and_the_hang_up(tmp_path):
    script = tmp_path / "happy.txt"
    script.write_text(HAPPY_PATH)
    result = dialplan_chat("clinic_intake", "--script", str(script), "--today", TODAY)
    assert result.returncode == 0, result.stderr
    assert result.stdout == HAPPY_TRANSCRIPT
    assert result.stderr == ""  # no log lines in the terminal


def test_piped_stdin_is_a_script():
    result = dialplan_chat("clinic_intake", "--today", TODAY, stdin=HAPPY_PATH)
    assert result.returncode == 0, result.stderr
    assert result.stdout == HAPPY_TRANSCRIPT


def test_state_slots_and_reset():
    out = chat("clinic_intake", "Dana Scully", "/state", "/slots", "/reset", "/state", "/slots")
    assert out == [
        "agent: Thanks for calling the clinic. I can get you registered for a visit. "
        "Can I have your full name?",
        "  [ask_name]",
        "caller: Dana Scully",
        "agent: Thanks, Dana. What is your date of birth?",
        "  [ask_dob] full_name=Dana Scully",
        "/state",
        "state: ask_dob (path: ask_name > ask_dob)",
        "/slots",
        "  full_name      Dana Scully",
        "  date_of_birth  (not set)",
        "  reason         (not set)",
        "/reset",
        "-- new call --",
        "agent: Thanks for calling the clinic. I can get you registered for a visit. "
        "Can I have your full name?",
        "  [ask_name]",
        "/state",
        "state: ask_name (path: ask_name)",
        "/slots",
        "  full_name      (not set)",
        "  date_of_birth  (not set)",
        "  reason         (not set)",
    ]


def test_silence_is_a_reminder_turn():
    out = chat("clinic_intake", "Dana Scully", "/silence")
    assert out[-3:] == [
        "caller: (silence)",
        "agent: Are you still there? What is your date of birth?",
        "  [ask_dob] full_name=Dana Scully",
    ]


def test_a_transfer_ends_the_chat_and_later_lines_are_not_read():
    out = chat("clinic_intake", "I want to talk to a person", "Dana Scully")
    assert out[-4:] == [
        "agent: Let me connect you with our front desk.",
        "  (transfers to +14155550100)",
        "  [front_desk]",
        "-- call ended: transferred to +14155550100 --",
    ]
    assert "caller: Dana Scully" not in out


KEYPAD_FLOW = """\
flow: menu
begin: Hi, this is the assistant. Do you want billing?
states:
  ask:
    say: Do you want billing?
    next:
      - {to: billing, intent: billing, means: "yes", examples: [billing]}
      - {to: bye, intent: other, means: "no"}
  billing:
    say: Putting you through to billing.
    press_digit: "2"
  bye:
    say: Goodbye.
    end_call: true
"""


def test_a_final_keypad_state_ends_the_flow(tmp_path):
    path = tmp_path / "menu.yaml"
    path.write_text(KEYPAD_FLOW)
    out: list[str] = []
    flow = open_flow(path, prompts_dir=tmp_path)
    chat_module.run(flow, lines=["yes", "hello?"], model="none", echo=out.append)
    assert out == [
        "agent: Hi, this is the assistant. Do you want billing?",
        "  [ask]",
        "caller: yes",
        "agent: Putting you through to billing.",
        "  (presses 2)",
        "  [billing]",
        "-- flow ended: pressed 2 for a phone menu --",
    ]


def test_quit_and_unknown_commands():
    out = chat("booking", "/nope", "/quit", "4 people")
    assert "unknown command /nope (try /help)" in out
    assert out[-1] == "/quit"


def test_the_test_model_reads_answers_but_never_speaks_a_fixed_line():
    # In a `say` state the model is only asked to read the answer (a structured call); the
    # test model answers in words, so nothing is read and the flow asks again.
    out = chat("clinic_intake", "Dana Scully", "um hmm okay", provider="test")
    assert chat_module.TEST_MODEL_LINE not in "\n".join(out)
    assert out[-2:] == [
        "agent: Sorry, what is your date of birth, with the month, day and year?",
        "  [ask_dob] full_name=Dana Scully",
    ]


def test_real_model_without_configuration_is_a_clear_error(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert chat("clinic_intake", "/quit", provider="auto")[0].startswith("agent: ")  # none
    with pytest.raises(click.ClickException, match="no openai model is configured"):
        chat("clinic_intake", "Dana Scully", provider="openai")


def test_help_says_what_an_empty_line_does():
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "chat", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "An empty line is the caller staying" in result.stdout
    assert "/silence" in result.stdout


# -- a real terminal ------------------------------------------------------------------------


@pytest.mark.needs("tmux")
def test_chat_in_a_real_terminal(tmp_path):
    tmux_program = str(tools.require("tmux"))
    # A private tmux server (own socket, no user config) so nothing of the user's tmux is
    # touched; the pane stays after the program exits so its last screen can be read.
    socket = tmp_path / "tmux.sock"
    config = tmp_path / "tmux.conf"
    config.write_text("set -g remain-on-exit on\n")
    session = "dialplan-chat"

    def tmux(*args: str) -> str:
        result = subprocess.run(
            [tmux_program, "-S", str(socket), "-f", str(config), *args],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def wait_for(*texts: str, polls: int = 100) -> str:
        """The screen once every one of ``texts`` is on it (the program prints line by line)."""
        screen = ""
        for _ in range(polls):  # bounded: polls x 50 ms
            screen = tmux("capture-pane", "-p", "-J", "-t", session)
            if all(text in screen for text in texts):
                return screen
            time.sleep(0.05)
        missing = [text for text in texts if text not in screen]
        raise AssertionError(f"{missing!r} did not appear; the screen was:\n{screen}")

    command = [sys.executable, "-m", "engine.cli", "chat", "clinic_intake", "--today", TODAY]
    # The pane's shell reports the exit status itself: tmux sometimes reaps a finished pane's
    # process late, so its #{pane_dead_status} is not a reliable signal.
    shell = f'{shlex.join(command)}; echo "[chat exited with $?]"'
    size = ("-x", "120", "-y", "40")
    tmux("new-session", "-d", "-s", session, *size, "-c", str(ROOT), shell)
    try:
        # The first screen waits for Python to start and load the flow: allow 10 s.
        # Then the prompt, waiting for the caller.
        wait_for("Can I have your full name?", "  [ask_name]\ncaller: ", polls=200)

        tmux("send-keys", "-t", session, "My name is Dana Scully", "Enter")
        wait_for(
            "agent: Thanks, Dana. What is your date of birth?",
            "  [ask_dob] full_name=Dana Scully\ncaller: ",
        )

        tmux("send-keys", "-t", session, "Enter")  # an empty line: the caller is silent
        wait_for("agent: Are you still there? What is your date of birth?")

        tmux("send-keys", "-t", session, "/slots", "Enter")
        wait_for("date_of_birth  (not set)")

        tmux("send-keys", "-t", session, "/quit", "Enter")
        wait_for("[chat exited with 0]")
    finally:
        subprocess.run(
            [tmux_program, "-S", str(socket), "kill-session", "-t", session],
            env=clean_env(),
            capture_output=True,
            timeout=10,
        )


CALL_ID_FLOW = """\
flow: ids
begin: "Call {{ call.call_id }}."
states:
  hello:
    say: Hello.
    next: [{to: hello}]
"""


def test_each_chat_and_each_new_call_has_its_own_call_id(tmp_path):
    from engine.cli.chat import Chat

    (tmp_path / "ids.yaml").write_text(CALL_ID_FLOW, encoding="utf-8")
    flow = open_flow(tmp_path / "ids.yaml")
    greetings: list[str] = []
    for _ in range(2):
        out: list[str] = []
        chat = Chat(flow, echo=out.append)
        chat.start()
        chat._command("/reset")
        chat.close()
        greetings += [line for line in out if line.startswith("agent: Call")]
    assert len(greetings) == 4
    assert all(re.fullmatch(r"agent: Call chat_[0-9a-f]{8}\.", line) for line in greetings)
    assert len(set(greetings)) == 4


def test_call_id_option(tmp_path):
    (tmp_path / "ids.yaml").write_text(CALL_ID_FLOW, encoding="utf-8")
    result = dialplan_chat(str(tmp_path / "ids.yaml"), "--call-id", "abc", stdin="/reset\n")
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stdout.splitlines() if "Call" in line] == [
        "agent: Call abc.",
        "agent: Call abc_2.",
    ]


class FailsOnce:
    """A model whose first request fails (the server would speak its fallback line)."""

    def __init__(self) -> None:
        self.requests = 0

    async def stream(self, messages, tools=None, *, tool_choice=None):  # type: ignore[no-untyped-def]
        self.requests += 1
        if self.requests == 1:
            raise LLMError("the model request failed: HTTP 503")
        return
        yield


async def test_the_fallback_line_is_in_the_transcript_and_the_next_line_stands_alone():
    # The caller heard the fallback line; without it in the transcript the next line was read
    # together with the one before ("I'd rather not say Dana Scully": no name at all).
    out: list[str] = []
    chat = chat_module.Chat(open_flow("clinic_intake"), model=FailsOnce(), echo=out.append)
    chat.start()
    await chat.handle("I'd rather not say")
    await chat.handle("Dana Scully")
    fallback = chat.fallback_line
    assert f"agent: {fallback}" in out
    assert out[-2:] == [
        "agent: Thanks, Dana. What is your date of birth?",
        "  [ask_dob] full_name=Dana Scully",
    ]
    said = [(u.role, u.content) for u in chat.runner.transcript]
    assert said[1:4] == [
        ("user", "I'd rather not say"),
        ("agent", fallback),
        ("user", "Dana Scully"),
    ]


BOOKING_CALL = "a table for two tomorrow at 6pm\nJane Doe\n617 555 0142\nyes\n"


def test_a_stubbed_action_answers_empty_and_the_chat_says_how_to_answer_otherwise():
    result = dialplan_chat("booking", "--today", "2026-11-25", stdin=BOOKING_CALL)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert '(action booking.check_availability (stubbed) {"date":"2026-11-26",' in result.stdout
    hints = [line for line in lines if "--actions FILE" in line]
    assert len(hints) == 1  # once a chat, not after every action
    assert "fully booked" in result.stdout  # what {} means to this flow, now explained


def test_an_actions_file_says_what_each_stubbed_action_answers(tmp_path):
    stubs = tmp_path / "stubs.yaml"
    stubs.write_text(
        "actions:\n"
        "  booking.check_availability: {result: {available: true, alternatives: []}}\n"
        "  booking.book: {result: {booked: true, reference: R4242}}\n"
    )
    result = dialplan_chat(
        "booking", "--today", "2026-11-25", "--actions", str(stubs), stdin=BOOKING_CALL
    )
    assert result.returncode == 0, result.stderr
    assert "we have a table at 6 PM" in result.stdout
    assert '(action booking.book (stubbed) {"date":"2026-11-26","name":"Jane Doe",' in result.stdout
    assert "R4242" in result.stdout  # the declared answer reached the agent's line
    assert "--actions FILE" not in result.stdout
    assert "-- call ended: hung up --" in result.stdout


def test_a_conversation_test_file_serves_as_the_actions_file():
    # tests/conversations/booking.yaml runs the example's table book for real (`live: true`).
    result = dialplan_chat(
        "booking",
        "--today",
        "2026-11-25",
        "--actions",
        str(ROOT / "tests" / "conversations" / "booking.yaml"),
        stdin=BOOKING_CALL,
    )
    assert result.returncode == 0, result.stderr
    assert "(action booking.book (ran)" in result.stdout
    assert "You're booked" in result.stdout


def test_a_broken_actions_file_is_one_clear_error_with_its_line(tmp_path):
    stubs = tmp_path / "stubs.yaml"
    stubs.write_text("actions:\n  booking.book: {result: {booked: true}, fail: down}\n")
    result = dialplan_chat("booking", "--actions", str(stubs), stdin=BOOKING_CALL)
    assert result.returncode == 1
    assert f"actions file '{stubs}' does not load" in result.stderr
    assert f"{stubs}:2" in result.stderr
    assert "exactly one of `result`" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # no call was started
