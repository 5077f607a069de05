"""Who may see the console: off without a token, and nothing of a call without a sign-in.

A real server on 127.0.0.1 and a plain HTTP client (the browser tests sign in with Chromium).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from engine.console.auth import COOKIE, Gate, safe_next
from engine.console.throttle import FORGET_AFTER, SignInThrottle
from engine.testing.platform import Dialog, PlatformCall
from engine.testing.server import free_port
from tests.conftest import CONSOLE_TOKEN
from tests.helpers import finish, serve, wait_healthy

PAGES = [
    "/console",
    "/console/calls",
    "/console/calls/call_secretive",
    "/console/flows",
    "/console/flows/clinic_intake",
    "/console/try",
]
API = ["/console/api/live", "/console/api/live/call_secretive"]


@pytest.fixture
def server(console_server, no_llm):  # type: ignore[no-untyped-def]
    return console_server()


@contextmanager
def signed_in(server) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=server.http(""), timeout=5) as client:
        assert client.get(f"/console?token={CONSOLE_TOKEN}").status_code == 303
        yield client


def test_without_a_token_there_is_no_console(start_server, no_llm):
    server = start_server()
    with httpx.Client(base_url=server.http(""), timeout=5) as client:
        for path in ["/console", "/console/signin", "/console/static/console.js", *API]:
            assert client.get(path).status_code == 404, path
        assert client.get(f"/console?token={CONSOLE_TOKEN}").status_code == 404


async def test_nothing_of_a_call_is_served_without_a_sign_in(server):
    async with PlatformCall.connect(server.url("call_secretive")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("My name is Dana Scully")
        async with httpx.AsyncClient(base_url=server.http(""), timeout=5) as client:
            for path in PAGES:
                answer = await client.get(path)
                assert answer.status_code == 303, path
                assert answer.headers["location"].startswith("/console/signin?next=")
                assert "Scully" not in answer.text and "ask_dob" not in answer.text
            for path in API:
                answer = await client.get(path)
                assert answer.status_code == 401, path
                assert "Scully" not in answer.text and "ask_dob" not in answer.text
            started = await client.post("/console/api/try", json={"flow": "clinic_intake"})
            assert started.status_code == 401
            # A forged or foreign cookie is no sign-in either.
            for value in ("signed-in", Gate("another-token")._serializer.dumps("signed-in")):
                client.cookies.set(COOKIE, value, path="/console")
                assert (await client.get("/console/calls")).status_code == 303
                assert (await client.get("/console/api/live/call_secretive")).status_code == 401


def test_the_token_link_signs_in_and_leaves_the_address_bar(server):
    with httpx.Client(base_url=server.http(""), timeout=5) as client:
        answer = client.get(f"/console/calls?flow=booking&token={CONSOLE_TOKEN}")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/calls?flow=booking"
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=")
        for flag in ("HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age=43200"):
            assert flag in cookie
        assert CONSOLE_TOKEN not in cookie  # a signed session value, never the token
        assert client.get("/console/calls?flow=booking").status_code == 200


def test_a_wrong_token_is_refused_and_shown_nowhere(server):
    with httpx.Client(base_url=server.http(""), timeout=5) as client:
        answer = client.get("/console?token=guess-1234")
        assert answer.status_code == 401
        assert "That token is not right" in answer.text
        assert "guess-1234" not in answer.text
        assert "set-cookie" not in answer.headers
        posted = client.post("/console/signin", data={"token": "guess-5678", "next": "/console"})
        assert posted.status_code == 401 and "set-cookie" not in posted.headers
        assert client.get("/console/flows").status_code == 303


def test_the_sign_in_form_goes_back_to_the_page_asked_for_and_only_on_this_server(server):
    with httpx.Client(base_url=server.http(""), timeout=5) as client:
        asked = client.get("/console/flows")
        form = client.get(asked.headers["location"])
        assert form.status_code == 200
        assert 'name="next" value="/console/flows"' in form.text
        assert '<label for="token">Console token</label>' in form.text
        posted = client.post(
            "/console/signin", data={"token": CONSOLE_TOKEN, "next": "/console/flows"}
        )
        assert posted.status_code == 303 and posted.headers["location"] == "/console/flows"
        assert client.get("/console/flows").status_code == 200
    for target in ("https://evil.example/console", "//evil.example/console", "/elsewhere"):
        assert safe_next(target) == "/console"
    assert safe_next("/console/calls?flow=booking") == "/console/calls?flow=booking"


def test_signing_out_ends_the_session_in_the_browser(server):
    with signed_in(server) as client:
        assert client.get("/console/calls").status_code == 200
        out = client.post("/console/signout")
        assert out.status_code == 303 and out.headers["location"] == "/console/signin"
        assert (
            f"{COOKIE}=" in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]
        )
        assert client.get("/console/calls").status_code == 303


def test_another_site_cannot_act_for_a_signed_in_browser(server):
    with signed_in(server) as client:
        foreign = {"Origin": "http://evil.example"}
        assert (
            client.post("/console/api/try", json={"flow": "booking"}, headers=foreign).status_code
            == 403
        )
        assert client.post("/console/signout", headers=foreign).status_code == 403
        assert client.get("/console/calls").status_code == 200  # still signed in


def test_pages_are_not_cached_framed_or_open_to_other_scripts(server):
    with signed_in(server) as client:
        page = client.get("/console/calls")
        static = client.get("/console/static/console.css")
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")


def test_the_token_is_compared_whole_and_a_session_expires():
    gate = Gate("s3cret-token")
    assert gate.token_ok("s3cret-token")
    for wrong in ("", "s3cret", "s3cret-token ", "S3CRET-TOKEN", "s3cret-token\x00"):
        assert not gate.token_ok(wrong)
    value = gate._serializer.dumps("signed-in")
    assert gate.session_ok(value)
    assert not gate.session_ok(value[:-2] + "xx")
    assert not Gate("s3cret-token", max_age=-1).session_ok(value)


async def test_a_refused_request_with_a_body_leaves_its_connection_usable(server):
    # The body comes after the headers, as it may on a busy network: the refusal waits for it,
    # so the server can take the connection's next request (a keep-alive client reuses it).
    host, port = server.http("").removeprefix("http://").rstrip("/").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    body = b'{"flow": "clinic_intake"}'
    try:
        writer.write(
            b"POST /console/api/try HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
        )
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.write(body)
        writer.write(b"GET /console/calls HTTP/1.1\r\nHost: " + host.encode() + b"\r\n\r\n")
        await writer.drain()
        async with asyncio.timeout(5):
            first = await reader.readuntil(b"\r\n\r\n")
            length = int(first.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            second = await reader.readuntil(b"\r\n\r\n")
    finally:
        writer.close()
    assert first.startswith(b"HTTP/1.1 401")
    assert second.startswith(b"HTTP/1.1 303")


def test_failed_sign_ins_wait_longer_each_time_per_address_and_are_forgotten():
    now = [0.0]
    throttle = SignInThrottle(remembered=100, clock=lambda: now[0])
    assert [throttle.failed("10.0.0.1")[1] for _ in range(8)] == [
        0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0,
    ]  # fmt: skip
    assert throttle.busy("10.0.0.1") == 30.0 and throttle.busy("10.0.0.2") == 0.0
    assert throttle.failed("10.0.0.2") == (1, 0.5)  # another address is counted apart
    now[0] += FORGET_AFTER + 1
    assert throttle.failed("10.0.0.1") == (1, 0.5)  # quiet long enough: forgotten
    throttle.succeeded("10.0.0.1")
    assert throttle.busy("10.0.0.1") == 0.0
    for n in range(1000):  # a flood of addresses keeps the newest only
        throttle.failed(f"198.51.{n // 256}.{n % 256}")
    assert len(throttle) == 100


async def test_guesses_in_parallel_from_one_address_are_refused_at_once(server):
    # A wrong token waited half a second, however many guesses one client made at once.
    async with httpx.AsyncClient(base_url=server.http(""), timeout=10) as client:
        first = asyncio.create_task(client.get("/console?token=guess-0001"))
        await asyncio.sleep(0.2)  # the first guess is waiting for its answer
        at_once = await asyncio.gather(*(client.get(f"/console?token=g-{n}") for n in range(5)))
        assert [answer.status_code for answer in at_once] == [429] * 5
        assert int(at_once[0].headers["retry-after"]) >= 1
        assert (await first).status_code == 401
        # The right token, once the wait is over, signs in (and the count starts again).
        await asyncio.sleep(0.5)
        assert (await client.get(f"/console?token={CONSOLE_TOKEN}")).status_code == 303


async def test_failed_sign_ins_are_logged_without_the_token():
    port = free_port()
    env = {"DIALPLAN_CONSOLE_TOKEN": CONSOLE_TOKEN, "DIALPLAN_LOG_LEVEL": "INFO"}
    process = serve("--port", str(port), "--flow", "clinic_intake", env=env)
    try:
        wait_healthy(port, process)
        async with httpx.AsyncClient(timeout=10) as client:
            base = f"http://127.0.0.1:{port}"
            answer = await client.post(f"{base}/console/signin", data={"token": "guess-9876"})
            assert answer.status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        output = finish(process)
    failed = [line for line in output.splitlines() if "console.sign_in_failed" in line]
    assert len(failed) == 1 and "client=127.0.0.1" in failed[0] and "failures=1" in failed[0]
    assert "guess-9876" not in output and CONSOLE_TOKEN not in output
