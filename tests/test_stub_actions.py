"""Actions in `dialplan chat` and `dialplan test` are stubbed unless asked: nothing is sent."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from engine.cli import chat as chat_module
from engine.errors import AuthoringErrors
from engine.flow import ActionRegistry, Stub, StubActionRunner
from engine.testing.conversation_spec import load_conversations
from engine.testing.conversations import ConversationFailure, ConversationSession
from tests.helpers import OrderService, project, write_project

FLOW = """\
flow: lookup
begin: Hi. What is your order number?
slots:
  order: {type: number}
  status: {type: text, source: action}
states:
  ask_order:
    say: What is your order number?
    collect: [order]
    next: [{to: lookup}]
  lookup:
    actions:
      - webhook:
          url: "http://127.0.0.1:PORT/orders/{{ slots.order }}"
          body: {order: "{{ slots.order }}"}
          timeout: 2
        store: {status: "result.get('status') or result.get('error')"}
    next:
      - {to: shipped, when: "slots.status == 'shipped'"}
      - {to: sorry}
  shipped:
    say: Order {{ slots.order }} has shipped. Goodbye!
    end_call: true
  sorry:
    say: "I could not look that up ({{ slots.status or 'no answer' }}). Goodbye!"
    end_call: true
"""

TESTS = """\
flow: lookup
actions:
  "webhook:lookup:0": {result: {status: shipped}}
tests:
  - name: declared result
    turns:
      - caller: order 42
        expect:
          state: shipped
          says: has shipped
          called: {"webhook:lookup:0": {order: 42}}
  - name: declared failure, per test
    actions:
      "webhook:lookup:0": {fail: HTTP 503}
    turns:
      - caller: order 42
        expect: {state: sorry, says: HTTP 503}
  - name: nothing declared returns an empty result
    actions:
      "webhook:lookup:0": {result: {}}
    turns:
      - caller: order 7
        expect: {state: sorry, says: no answer}
    expect: {called: {"webhook:lookup:0": true}}
"""


@pytest.fixture
def service():  # type: ignore[no-untyped-def]
    with OrderService(delay=0) as running:
        yield running


def lookup_project(root: Path, service: OrderService, tests: str = TESTS) -> Path:
    write_project(root, {"lookup": FLOW.replace("PORT", str(service.port))})
    conversations = root / "tests" / "conversations"
    conversations.mkdir(parents=True)
    (conversations / "lookup.yaml").write_text(tests)
    return conversations / "lookup.yaml"


def run_tests(root: Path, path: Path, *, live: bool = False) -> list[str]:
    """Each test's outcome: ``ok`` or its failure message."""
    loaded = load_conversations(path)
    session = ConversationSession(project(root), root, live_actions=live)
    outcomes = []
    try:
        for index in range(len(loaded.spec.tests)):
            try:
                session.run(loaded, index)
                outcomes.append("ok")
            except (ConversationFailure, AuthoringErrors) as exc:
                outcomes.append(str(exc))
    finally:
        session.close()
    return outcomes


def test_conversation_tests_stub_actions_and_check_their_arguments(tmp_path, service):
    path = lookup_project(tmp_path, service)
    assert run_tests(tmp_path, path) == ["ok", "ok", "ok"]
    assert service.calls == []  # nothing was POSTed


def test_a_wrong_argument_expectation_fails_with_what_was_sent(tmp_path, service):
    tests = TESTS.replace("{order: 42}", "{order: 43}")
    outcome = run_tests(tmp_path, lookup_project(tmp_path, service, tests))[0]
    assert outcome.startswith(
        'turn 1: called.webhook:lookup:0: expected arguments {"order":43}, got {"order":42}'
    )
    assert "action webhook:lookup:0 (stubbed) POST http://127.0.0.1:" in outcome


def test_live_actions_run_for_real(tmp_path, service):
    path = lookup_project(tmp_path, service)
    outcomes = run_tests(tmp_path, path, live=True)
    assert outcomes[0] == "ok"  # the receiver answers "shipped" too
    assert [call["body"] for call in service.calls] == [{"order": 42}] * 2 + [{"order": 7}]


def test_an_action_the_flow_does_not_have_is_a_file_error(tmp_path, service):
    tests = TESTS.replace(
        '"webhook:lookup:0": {result: {status: shipped}}', "lookup.find: {live: true}"
    )
    (outcome, *_) = run_tests(tmp_path, lookup_project(tmp_path, service, tests))
    assert outcome == (
        f"{tmp_path / 'tests' / 'conversations' / 'lookup.yaml'}:3: action 'lookup.find' is not "
        "in flow 'lookup' (lookup has: webhook:lookup:0)"
    )


def test_a_stub_with_two_outcomes_is_a_file_error(tmp_path, service):
    tests = TESTS.replace("{result: {status: shipped}}", "{result: {}, fail: boom}")
    with pytest.raises(AuthoringErrors) as raised:
        load_conversations(lookup_project(tmp_path, service, tests))
    assert str(raised.value).endswith(
        "lookup.yaml:3: actions.webhook:lookup:0: an action stub has exactly one of `result`, "
        "`results`, `fail` and `live: true`"
    )


def test_a_stub_answers_its_results_in_turn_then_the_last_again():
    runner = StubActionRunner("c1", ActionRegistry(), stubs={"check": Stub(results=(1, 2))})

    async def answers() -> list[object]:
        return [await runner.run("check", {"n": n}) for n in range(4)]

    assert asyncio.run(answers()) == [1, 2, 2, 2]


def test_dialplan_test_live_actions_flag(tmp_path, service):
    lookup_project(tmp_path, service, TESTS.split("  - name: declared failure")[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIALPLAN_", "OPENAI_"))}
    for flags, sent in (([], 0), (["--live-actions"], 1)):
        result = subprocess.run(
            [sys.executable, "-m", "engine.cli", "test", *flags],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert len(service.calls) == sent


def chat_lines(root: Path, *lines: str, live: bool = False) -> list[str]:
    flow = project(root).open_flow("lookup")
    out: list[str] = []
    chat_module.run(
        flow,
        lines=lines,
        provider="none",
        today=date(2025, 1, 15),
        echo=out.append,
        live_actions=live,
    )
    return out


def test_chat_shows_what_a_stubbed_webhook_would_have_sent(tmp_path, service):
    lookup_project(tmp_path, service)
    out = chat_lines(tmp_path, "order 42")
    url = f"http://127.0.0.1:{service.port}/orders/42"
    assert f'  (action webhook:lookup:0 (stubbed) POST {url} {{"order":42}} -> {{}})' in out
    assert "agent: I could not look that up (no answer). Goodbye!" in out
    assert service.calls == []


def test_chat_with_live_actions_shows_a_failed_action(tmp_path, service):
    lookup_project(tmp_path, service)
    out = chat_lines(tmp_path, "order 404", live=True)
    url = f"http://127.0.0.1:{service.port}/orders/404"
    assert (
        f'  (action webhook:lookup:0 (ran) POST {url} {{"order":404}} failed: webhook '
        "answered HTTP 404)"
    ) in out
    assert "agent: I could not look that up (webhook answered HTTP 404). Goodbye!" in out
    assert len(service.calls) == 1
