"""`dialplan serve` as a newcomer runs it: a real process, a real call, a clean stop."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from engine.testing.platform import PlatformCall, Transcript
from engine.testing.server import free_port
from tests.helpers import EXAMPLE, finish, serve, wait_healthy


async def test_serve_runs_the_example_flow_without_a_model():
    port = free_port()
    process = serve("--port", str(port), "--flow", "clinic_intake", "--log-level", "INFO")
    try:
        wait_healthy(port, process)
        async with httpx.AsyncClient() as http:
            ready = await http.get(f"http://127.0.0.1:{port}/readyz")
        assert ready.status_code == 200, ready.text  # a flow of `say` states needs no model
        url = f"ws://127.0.0.1:{port}/llm-websocket/call_cli"
        async with PlatformCall.connect(url) as call:
            greeting = await call.response(0, timeout=5)
            transcript = Transcript().agent(greeting.text).user("My name is Dana Scully")
            await call.request(1, transcript)
            answer = await call.response(1)
        assert greeting.text.startswith("Thanks for calling the clinic")
        assert answer.text == "Thanks, Dana. What is your date of birth?"
    finally:
        process.send_signal(signal.SIGINT)
        output = finish(process, 10)
    assert "flow.bound" in output
    assert "Dana" not in output  # caller speech is not logged at INFO


async def test_debug_log_has_the_caller_speech_one_line_per_turn():
    port = free_port()
    process = serve("--port", str(port), "--flow", "clinic_intake", "--log-level", "DEBUG")
    try:
        wait_healthy(port, process)
        url = f"ws://127.0.0.1:{port}/llm-websocket/call_debug"
        async with PlatformCall.connect(url) as call:
            greeting = await call.response(0, timeout=5)
            transcript = Transcript().agent(greeting.text).user("My name is Dana Scully")
            await call.request(1, transcript)
            answer = await call.response(1)
            await call.request(2, transcript.agent(answer.text).user("March third 1980"))
            await call.response(2)
    finally:
        process.send_signal(signal.SIGINT)
        output = finish(process, 10)
    said = [line for line in output.splitlines() if "caller.said" in line]
    assert len(said) == 2, output
    assert "My name is Dana Scully" in said[0]
    assert "March third 1980" in said[1] and "Dana" not in said[1]


async def test_serve_prompt_agent_says_it_has_no_model():
    port = free_port()
    process = serve(
        "--port", str(port), "--flow", "clinic_intake", env={"DIALPLAN_AGENT": "prompt"}
    )
    try:
        wait_healthy(port, process)
        async with httpx.AsyncClient() as http:
            ready = await http.get(f"http://127.0.0.1:{port}/readyz")
        assert ready.status_code == 503
        assert "no language model" in ready.text
        async with PlatformCall.connect(f"ws://127.0.0.1:{port}/llm-websocket/c") as call:
            greeting = await call.response(0)
        assert greeting.text.startswith("Hi, thanks for calling")
    finally:
        process.send_signal(signal.SIGINT)
        output = finish(process, 10)
    assert "no language model is configured" in output


def test_serve_refuses_a_broken_flow(tmp_path):
    (tmp_path / "x.yaml").write_text("flow: x\nstates:\n  a: {say: hi, next: [{to: b}]}\n")
    process = serve("--port", str(free_port()), env={"DIALPLAN_FLOWS_DIR": str(tmp_path)})
    output = finish(process)
    assert process.returncode != 0
    assert f"{tmp_path / 'x.yaml'}:3: unknown state 'b'" in output


def test_serve_refuses_a_call_log_it_cannot_open():
    process = serve(
        "--port", str(free_port()), "--flow", "clinic_intake",
        env={"DIALPLAN_DATABASE_URL": "postgresql+nodriver://u:hunter2@db.example/calls"},
    )  # fmt: skip
    output = finish(process)
    assert process.returncode != 0
    assert "cannot open the call log postgresql+nodriver://u:***@db.example/calls" in output
    assert "hunter2" not in output


def test_serve_refuses_a_broken_prompt(tmp_path):
    (tmp_path / "agent.j2").write_text("Hello {{ call.name\n")
    process = serve(
        "--prompts-dir", str(tmp_path), "--port", str(free_port()), env={"DIALPLAN_AGENT": "prompt"}
    )
    output = finish(process)
    assert process.returncode != 0
    assert "agent.j2:1" in output


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_cli_basics(flag):
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", flag], capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 0
    assert "dialplan" in result.stdout.lower()


async def test_the_secret_never_reaches_the_log():
    port = free_port()
    secret = "s3cr3t-path-segment"
    process = serve(
        "--port",
        str(port),
        "--flow",
        "clinic_intake",
        "--log-level",
        "DEBUG",
        env={"DIALPLAN_SECRET": secret},
    )
    try:
        wait_healthy(port, process)
        base = f"ws://127.0.0.1:{port}/llm-websocket"
        async with PlatformCall.connect(f"{base}/{secret}/call_secret") as call:
            greeting = await call.response(0)
            await call.request(1, Transcript().agent(greeting.text).user("Dana Scully"))
            await call.response(1)
        with pytest.raises(InvalidStatus):
            async with PlatformCall.connect(f"{base}/wrong-{secret}/call_secret"):
                pass
    finally:
        process.send_signal(signal.SIGINT)
        output = finish(process, 10)
    assert "call.refused" in output
    assert secret not in output


async def test_info_log_is_one_line_per_event_not_per_callback():
    port = free_port()
    process = serve("--port", str(port), "--flow", "clinic_intake", "--log-level", "INFO")
    try:
        wait_healthy(port, process)
        url = f"ws://127.0.0.1:{port}/llm-websocket/call_quiet_log"
        async with PlatformCall.connect(url) as call:
            greeting = await call.response(0)
            await call.request(1, Transcript().agent(greeting.text).user("My name is Ann Lee"))
            await call.response(1)
    finally:
        process.send_signal(signal.SIGINT)
        output = finish(process, 10)
    assert "transitions.core" not in output
    assert "httpx" not in output
    assert output.count("listening on") == 1  # ours; hypercorn's repeat of it is dropped
    assert "Running on" not in output


def test_serve_prints_a_console_link_that_signs_the_browser_in():
    port, token = free_port(), "newcomer-token-7c1"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DIALPLAN_")}
    environment.update(
        DIALPLAN_DATABASE_URL=os.environ["DIALPLAN_DATABASE_URL"], DIALPLAN_CONSOLE_TOKEN=token
    )
    # On a terminal, as `make run` is started: the link carries the token.
    terminal, side = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--flow",
         "clinic_intake", "--log-level", "WARNING"],
        cwd=EXAMPLE, env=environment, stdout=subprocess.DEVNULL, stderr=side,
    )  # fmt: skip
    os.close(side)
    printed = b""
    try:
        deadline = time.monotonic() + 20
        while b"/console?token=" not in printed and time.monotonic() < deadline:
            ready, _, _ = select.select([terminal], [], [], 0.2)
            if ready:
                printed += os.read(terminal, 4096)
        line = next(line for line in printed.decode().splitlines() if "console:" in line)
        link = line.split("console:", 1)[1].strip()
        assert link == f"http://127.0.0.1:{port}/console?token={token}"
        wait_healthy(port, process)
        with httpx.Client(follow_redirects=True) as browser:
            page = browser.get(link)
        assert page.status_code == 200 and "<h1>Live calls</h1>" in page.text
        assert str(page.url) == f"http://127.0.0.1:{port}/console"  # the token is gone
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(10)
        os.close(terminal)


def test_serve_keeps_the_console_token_out_of_logs():
    port, token = free_port(), "log-token-91d"
    process = serve(
        "--port", str(port), "--flow", "clinic_intake", "--log-level", "DEBUG",
        env={"DIALPLAN_CONSOLE_TOKEN": token},
    )  # fmt: skip
    try:
        wait_healthy(port, process)
        with httpx.Client() as browser:
            refused = browser.get(f"http://127.0.0.1:{port}/console/calls")
            signed_in = browser.get(f"http://127.0.0.1:{port}/console?token={token}")
            page = browser.get(f"http://127.0.0.1:{port}/console/calls")
    finally:
        process.send_signal(signal.SIGINT)
        output = finish(process, 10)
    assert refused.status_code == 303 and "/console/signin" in refused.headers["location"]
    assert signed_in.status_code == 303 and page.status_code == 200
    assert f"console: http://127.0.0.1:{port}/console  (sign in with" in output
    assert token not in output


def test_serve_says_the_url_to_give_the_platform_with_the_secret_as_a_placeholder():
    port, secret = free_port(), "banner-secret-0f3e5d9a"
    process = serve(
        "--port", str(port), "--flow", "clinic_intake", env={"DIALPLAN_SECRET": secret}
    )  # fmt: skip
    try:
        wait_healthy(port, process)
    finally:
        process.send_signal(signal.SIGINT)
        output = finish(process, 10)
    assert f"listening on ws://127.0.0.1:{port}/llm-websocket/<DIALPLAN_SECRET>/<call_id>" in (
        output
    )
    assert secret not in output


def test_serve_refuses_a_store_that_is_not_redis():
    process = serve(
        "--port", str(free_port()), "--flow", "clinic_intake",
        env={"DIALPLAN_STORE": "memcached://u:hunter2@cache:11211"},
    )  # fmt: skip
    output = finish(process)
    assert process.returncode == 2
    assert output == (
        "dialplan: DIALPLAN_STORE: 'memcached' is neither `memory` nor a Redis URL "
        "(redis://host:port/db)\n"
    )  # and the password in the URL is not shown


async def test_serve_starts_while_its_redis_is_down_and_takes_calls():
    port, down = free_port(), free_port()
    store = {
        "DIALPLAN_STORE": f"redis://:hunter2@127.0.0.1:{down}/0",
        "DIALPLAN_STORE_TIMEOUT": "0.2",
    }
    process = serve("--port", str(port), "--flow", "clinic_intake", env=store)
    try:
        wait_healthy(port, process)
        async with httpx.AsyncClient() as http:
            ready = await http.get(f"http://127.0.0.1:{port}/readyz")
        assert ready.status_code == 200  # calls work without Redis
        assert ready.json()["store"]["state"] == "degraded"
        async with PlatformCall.connect(
            f"ws://127.0.0.1:{port}/llm-websocket/call_nostore"
        ) as call:
            greeting = await call.response(0, timeout=5)
        assert greeting.text.startswith("Thanks for calling the clinic")
    finally:
        process.send_signal(signal.SIGTERM)
        output = finish(process, 15)
    assert "does not answer" in output  # said at start
    assert process.returncode == 0
    assert "hunter2" not in output


def test_serve_on_this_machine_alone_opens_a_console_and_says_how_to_chat():
    # A newcomer's `make run`: no token set, listening on loopback. The console comes on with
    # a token made for this run, its link right under the listening line, then the chat.
    port = free_port()
    process = serve("--port", str(port), "--flow", "clinic_intake", "--local-console")
    try:
        wait_healthy(port, process)
        time.sleep(0.5)  # the first log lines of the worker
    finally:
        process.send_signal(signal.SIGINT)
        output = finish(process, 10)
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "listening on" in line)
    console, tried, chat = lines[start + 1 : start + 4]
    link = re.search(r"console: (http://\S+)", console)
    assert link and link.group(1).startswith(f"http://127.0.0.1:{port}/console?token=")
    assert "(a token made for this run)" in console
    assert '"Try a call" page talks to the flows' in tried and "clinic_intake" in tried
    assert chat.startswith("chat:    dialplan chat clinic_intake")
    # What a newcomer cannot act on stays out of the way until it is configured.
    assert "platform.webhooks_refused" not in output and "Running on" not in output

    # Anywhere else (a service on 0.0.0.0), no console without a token someone chose.
    other = free_port()
    exposed = serve(
        "--host", "0.0.0.0", "--port", str(other), "--flow", "clinic_intake", "--local-console"
    )  # fmt: skip
    try:
        wait_healthy(other, exposed)
        missing = httpx.get(f"http://127.0.0.1:{other}/console")
    finally:
        exposed.send_signal(signal.SIGINT)
        said = finish(exposed, 10)
    assert missing.status_code == 404 and "console:" not in said

    # Nor on loopback unasked: a service behind a proxy on the same host listens there too.
    behind = free_port()
    proxied = serve("--port", str(behind), "--flow", "clinic_intake")
    try:
        wait_healthy(behind, proxied)
        absent = httpx.get(f"http://127.0.0.1:{behind}/console")
    finally:
        proxied.send_signal(signal.SIGINT)
        quiet = finish(proxied, 10)
    assert absent.status_code == 404 and "console:" not in quiet and "token" not in quiet


def test_the_made_console_token_signs_a_browser_in():
    port = free_port()
    process = serve("--port", str(port), "--flow", "clinic_intake", "--local-console")
    try:
        wait_healthy(port, process)
        assert process.stdout is not None
        link = None
        for _ in range(20):  # bounded: the banner is the first lines
            found = re.search(r"console: (http://\S+)", process.stdout.readline())
            if found:
                link = found.group(1)
                break
        assert link is not None
        with httpx.Client(follow_redirects=True) as browser:
            page = browser.get(link)
        assert page.status_code == 200 and "<h1>Live calls</h1>" in page.text
    finally:
        process.send_signal(signal.SIGINT)
        finish(process, 10)
