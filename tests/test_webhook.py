"""The signed webhook: signatures, retries with backoff, giving up, and a restart mid-delivery.

Deliveries go over real HTTP to a receiver on 127.0.0.1, from the outbox in a real database
file.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from engine.agent import CallInfo, CallSummary
from engine.records import CallFacts, CallLog, Database, Outbox, sign, verify
from engine.settings import Settings
from engine.testing.platform import Dialog, PlatformCall
from engine.testing.server import free_port
from engine.testing.webhook import WebhookReceiver

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec-test-key"


def facts(call_id: str = "call_1") -> CallFacts:
    return CallFacts(
        call=CallInfo(call_id),
        summary=CallSummary(flow="intake", slots={"name": "Dana"}),
        turns=(),
        transcript=(),
        started_at=time.time() - 5,
        ended_at=time.time(),
        ended_by="hang_up",
    )


def settings(url: str, receiver: WebhookReceiver, **kw: object) -> Settings:
    kw.setdefault("webhook_retry_delay", 0.05)
    return Settings(
        database_url=url,
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        **kw,  # type: ignore[arg-type]
    )


def events(url: str) -> list:  # type: ignore[type-arg]
    database = Database(url)
    try:
        return Outbox(database).events()
    finally:
        database.close()


def test_a_signature_verifies_and_a_changed_body_or_an_old_one_does_not():
    body = b'{"id":"evt_1"}'
    now = int(time.time())
    header = sign(SECRET.encode(), body, now)
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    assert verify(SECRET.encode(), body, header)
    assert not verify(SECRET.encode(), body + b" ", header)
    assert not verify(b"another key", body, header)
    assert not verify(SECRET.encode(), body, sign(SECRET.encode(), body, now - 3600))
    assert not verify(SECRET.encode(), body, "garbage")


async def test_a_receiver_that_fails_twice_gets_the_same_event_a_third_time(call_log):
    with WebhookReceiver(fail=2) as receiver:
        log = CallLog(settings(call_log, receiver))
        await log.start()
        try:
            log.write(facts())
            await asyncio.to_thread(receiver.wait, 1)
        finally:
            await log.stop()
    first, second, third = receiver.requests
    assert [d.status for d in receiver.requests] == [500, 500, 200]
    assert first.event_id == second.event_id == third.event_id
    assert first.body == second.body == third.body  # the same bytes every time
    assert all(verify(SECRET.encode(), d.body, d.signature) for d in receiver.requests)
    (event,) = events(call_log)
    assert event.attempts == 3 and event.delivered_at is not None and event.last_error is None


async def test_delivery_is_given_up_after_the_last_attempt(call_log):
    with WebhookReceiver(fail=100) as receiver:
        log = CallLog(settings(call_log, receiver, webhook_attempts=3))
        await log.start()
        try:
            log.write(facts())
            await asyncio.to_thread(receiver.wait, 3, 10.0, False)
            for _ in range(100):  # bounded: until the give-up is written
                (event,) = await log.run(Outbox(log.database).events)  # type: ignore[arg-type]
                if event.failed_at is not None:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)  # time for retries that must not happen
        finally:
            await log.stop()
    assert len(receiver.requests) == 3
    assert event.failed_at is not None and event.last_error == "HTTP 500"


async def test_pending_events_survive_a_restart_and_are_delivered_once(start_server, call_log):
    with WebhookReceiver() as receiver:
        receiver.answer(then=503)  # the receiver is down for now
        webhook = {"webhook_url": receiver.url, "webhook_secret": SECRET}
        first = start_server(call_grace=0, webhook_retry_delay=0.2, **webhook)
        async with PlatformCall.connect(first.url("call_restart")) as call:
            await Dialog(call).start()
            await call.close()
        await asyncio.to_thread(receiver.wait, 1, 10.0, False)
        first.stop()  # with the event still pending
        (pending,) = events(call_log)
        assert pending.delivered_at is None and pending.failed_at is None

        receiver.answer(then=200)
        second = start_server(webhook_retry_delay=0.2, **webhook)
        (delivered,) = await asyncio.to_thread(receiver.wait, 1)
        await asyncio.sleep(0.3)  # time for a second delivery that must not happen
        second.stop()
    assert delivered.event_id == pending.id and delivered.json["call"]["call_id"] == "call_restart"
    assert len(receiver.accepted) == 1
    (event,) = events(call_log)
    assert event.delivered_at is not None


def run_python(script: Path, environment: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(script)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def documented_receiver() -> str:
    page = (ROOT / "docs" / "call-log.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, re.DOTALL)
    return next(block for block in blocks if "X-Dialplan-Signature" in block)


async def test_the_documented_receiver_verifies_real_deliveries_and_refuses_forged_ones(
    tmp_path, start_server, no_llm
):
    script = tmp_path / "receiver.py"
    script.write_text(documented_receiver())
    port = free_port()
    environment = {**os.environ, "DIALPLAN_WEBHOOK_SECRET": SECRET, "PORT": str(port)}
    process = run_python(script, environment)
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(100):  # bounded: 100 x 50 ms until it listens
                try:
                    forged = await http.post(
                        f"http://127.0.0.1:{port}/",
                        content=b'{"id":"evt_x"}',
                        headers={"X-Dialplan-Signature": f"t={int(time.time())},v1=00"},
                    )
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        assert forged.status_code == 401
        server = start_server(
            call_grace=0,
            webhook_url=f"http://127.0.0.1:{port}/",
            webhook_secret=SECRET,
        )
        async with PlatformCall.connect(server.url("call_readme")) as call:
            await Dialog(call).start()
            await call.close()
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 10)
    finally:
        process.terminate()
        process.communicate(timeout=10)  # reaps it and closes its pipe
    event, call_id, slots = line.split(" ", 2)
    assert (event, call_id, orjson.loads(slots)) == ("call.ended", "call_readme", {})


async def test_events_carry_a_standard_webhooks_signature_its_library_verifies(call_log):
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    key = "whsec_" + base64.b64encode(b"a key of thirty-two random bytes").decode()
    for secret, receiver_key in ((SECRET, SECRET.encode()), (key, key)):
        with WebhookReceiver() as receiver:
            log = CallLog(
                Settings(database_url=call_log, webhook_url=receiver.url, webhook_secret=secret)
            )
            await log.start()
            try:
                log.write(facts(f"call_std_{len(secret)}"))
                (delivery,) = await asyncio.to_thread(receiver.wait, 1)
            finally:
                await log.stop()
        headers = {k.lower(): v for k, v in delivery.headers.items()}
        assert headers["webhook-id"] == delivery.event_id == delivery.json["id"]
        # The receiver's side, as Standard Webhooks' own library checks it.
        assert Webhook(receiver_key).verify(delivery.body, headers)["id"] == delivery.event_id
        with pytest.raises(WebhookVerificationError):
            Webhook(receiver_key).verify(delivery.body + b" ", headers)
        # And the signature existing receivers check, with the secret as it is.
        assert verify(secret.encode(), delivery.body, delivery.signature)


async def test_given_up_events_are_listed_and_sent_again_once_the_receiver_is_up(
    start_server, call_log
):
    from click.testing import CliRunner

    from engine.cli.main import main

    # Down: its port is held (bound, not listening: connections are refused) until it is up,
    # so that the server cannot take it for its own.
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    receiver = WebhookReceiver(port=holder.getsockname()[1])
    server = start_server(
        call_grace=0, webhook_url=receiver.url, webhook_secret=SECRET, webhook_attempts=2
    )
    async with PlatformCall.connect(server.url("call_down")) as call:
        await Dialog(call).start()
        await call.close()
    for _ in range(200):  # bounded: until both attempts failed and it was given up
        found = events(call_log)
        if found and found[0].failed_at is not None:
            break
        await asyncio.sleep(0.05)
    (event,) = found
    assert event.failed_at is not None and event.attempts == 2

    cli = CliRunner()
    listed = await asyncio.to_thread(cli.invoke, main, ["calls", "redeliver"])
    assert listed.exit_code == 0, listed.output
    assert event.id in listed.output and "call_down" in listed.output
    assert "given up" in listed.output and event.last_error in listed.output

    holder.close()
    with receiver:  # the receiver is up, on that URL
        sent = await asyncio.to_thread(cli.invoke, main, ["calls", "redeliver", "--all"])
        assert sent.exit_code == 0, sent.output
        assert "1 event(s) queued again" in sent.output
        (delivery,) = await asyncio.to_thread(receiver.wait, 1, 15.0)
    assert delivery.event_id == event.id and delivery.body == event.body.encode()
    for _ in range(100):  # bounded: until the delivery is written down
        (again,) = events(call_log)
        if again.delivered_at is not None:
            break
        await asyncio.sleep(0.05)
    assert (again.delivered_at is not None, again.requeues, again.attempts) == (True, 1, 1)
    nothing = await asyncio.to_thread(cli.invoke, main, ["calls", "redeliver"])
    assert "no webhook event failed or was given up" in nothing.output
