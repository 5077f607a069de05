"""Webhook and Python actions, voice settings and DTMF, over the real server."""

from __future__ import annotations

import asyncio

import pytest

from engine.flow import Plugin
from engine.testing.platform import Dialog, PlatformCall
from tests.helpers import EXAMPLE, OrderService

ROOT = EXAMPLE  # not flows/: editing an example flow must not move these tests

FLOW = """\
flow: lookup
begin: Hi. What is your order number?
slots:
  order: {type: number}
  status: {type: text, source: action}
  eta: {type: text, source: action}
states:
  ask_order:
    say: What is your order number?
    collect: [order]
    voice: {responsiveness: 0.4, reminder_trigger_ms: 4000}
    next: [{to: lookup}]
  lookup:
    actions:
      - webhook:
          url: "http://127.0.0.1:PORT/orders/{{ slots.order }}"
          body: {order: "{{ slots.order }}", caller: "{{ call.call_id }}"}
          timeout: 2
        store: {status: result.status, eta: result.eta}
      - call: test.count
        args: {order: "{{ slots.order }}"}
    next:
      - {to: found, when: "slots.status == 'shipped'"}
      - {to: menu, when: "not slots.status"}
  found:
    say: Order {{ slots.order }} has shipped and arrives {{ slots.eta }}. Goodbye!
    end_call: true
  menu:
    say: Let me take you to the phone menu.
    press_digit: "3"
"""

COUNTED: list[str] = []
plugin = Plugin()


@plugin.action("test.count")
def count(order: int) -> dict[str, object]:
    COUNTED.append(order)
    return {"ok": True}


@pytest.fixture
def orders_server(start_server, tmp_path):  # type: ignore[no-untyped-def]
    def start(delay: float = 0.0):  # type: ignore[no-untyped-def]
        service = OrderService(delay).__enter__()
        flows = tmp_path / "flows"
        flows.mkdir()
        (flows / "lookup.yaml").write_text(FLOW.replace("PORT", str(service.port)))
        server = start_server(
            agent="flow",
            flows_dir=flows,
            prompts_dir=ROOT / "prompts",
            flow="lookup",
            plugins=("tests.test_flow_actions",),
        )
        return service, server

    return start


async def test_webhook_result_fills_slots_and_routes(no_llm, orders_server):
    service, server = orders_server()
    try:
        async with PlatformCall.connect(server.url("order_call")) as call:
            dialog = Dialog(call)
            await dialog.start()
            answer = await dialog.say("It's order 1234")
        voice = call.sent("update_agent")
        invocation = call.sent("tool_call_invocation")[0]
        result = call.sent("tool_call_result")[0]
    finally:
        service.__exit__()
    assert voice[0]["agent_config"] == {"responsiveness": 0.4, "reminder_trigger_ms": 4000}
    assert answer.text == "Order 1234 has shipped and arrives Friday. Goodbye!"
    assert answer.flag("end_call") is True
    assert service.calls == [
        {"path": "/orders/1234", "body": {"order": 1234, "caller": "order_call"}}
    ]
    assert invocation["name"] == "webhook:lookup:0"
    assert result["successful"] is True and '"shipped"' in result["content"]


async def test_superseded_turn_runs_each_action_once(no_llm, orders_server):
    service, server = orders_server(delay=0.4)
    COUNTED.clear()
    try:
        async with PlatformCall.connect(server.url("order_twice")) as call:
            dialog = Dialog(call)
            await dialog.start()
            dialog.transcript.user("Order 77")
            await call.request(1, list(dialog.transcript))
            await asyncio.sleep(0.1)  # the webhook is in flight
            dialog.transcript[-1]["content"] = "Order 77, please"
            await call.request(2, list(dialog.transcript))
            answer = await call.response(2)
            await asyncio.sleep(0.1)
    finally:
        service.__exit__()
    assert answer.text.startswith("Order 77 has shipped")
    assert len(service.calls) == 1  # the re-asked turn waited for the same request
    assert COUNTED == [77]  # the number itself: one expression gives its value


async def test_failed_webhook_routes_on_the_missing_result(no_llm, orders_server):
    service, server = orders_server()
    try:
        async with PlatformCall.connect(server.url("order_missing")) as call:
            dialog = Dialog(call)
            await dialog.start()
            answer = await dialog.say("Order 404")
    finally:
        service.__exit__()
    assert answer.text == "Let me take you to the phone menu."
    assert answer.flag("digit_to_press") == "3"
    result = call.sent("tool_call_result")[0]
    assert result["successful"] is False and "HTTP 404" in result["content"]


async def test_out_of_order_answer_is_kept_and_the_question_asked_again(no_llm, start_server):
    server = start_server(
        agent="flow", flows_dir=ROOT / "flows", prompts_dir=ROOT / "prompts", flow="clinic_intake"
    )
    async with PlatformCall.connect(server.url("clinic_order")) as call:
        dialog = Dialog(call)
        await dialog.start()
        first = await dialog.say("March 3rd 1980")
        second = await dialog.say("Dana Scully")
    assert first.text == "Got it. Could you tell me your first and last name?"
    assert second.text == "Thanks, Dana. What is your date of birth?" or second.text.endswith(
        "And what is the reason for your visit?"
    )
    talk = server.runtime.store.get("clinic_order").conversation
    assert talk.memory.slots["date_of_birth"] == "1980-03-03"
    assert talk.state == "ask_reason"  # the date was not asked twice
