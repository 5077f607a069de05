"""What a request looked like before the proxies: believed only from the trusted ones."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from engine.server.proxies import ForwardedHeaders
from engine.testing.platform import PlatformCall
from tests.conftest import CONSOLE_TOKEN


def seen(trusted: list[str], client: str, headers: dict[str, str], kind: str = "http") -> Any:
    """The scope the app gets for a request from ``client`` with ``headers``."""
    got: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        got.append(scope)

    scope = {
        "type": kind,
        "scheme": "http" if kind == "http" else "ws",
        "client": (client, 50000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }

    asyncio.run(ForwardedHeaders(app, trusted)(scope, None, None))  # type: ignore[arg-type]
    return got[0]


def test_forwarded_headers_are_believed_only_from_trusted_proxies():
    headers = {
        "X-Forwarded-For": "203.0.113.9, 10.0.0.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "voice.example.com",
        "Host": "10.0.0.11:8080",
    }
    behind = seen(["10.0.0.0/8"], "10.0.0.5", headers)
    assert behind["client"][0] == "203.0.113.9"  # the right-most address no proxy of ours has
    assert behind["scheme"] == "https"
    assert (b"host", b"voice.example.com") in behind["headers"]
    assert seen(["10.0.0.0/8"], "10.0.0.5", headers, "websocket")["scheme"] == "wss"
    # From anyone else, or with no proxy trusted, the headers are anyone's words.
    for trusted, client in ((["10.0.0.0/8"], "198.51.100.4"), ([], "10.0.0.5")):
        direct = seen(trusted, client, headers)
        assert direct["client"][0] == client and direct["scheme"] == "http"
        assert (b"host", b"10.0.0.11:8080") in direct["headers"]


def test_a_made_up_address_left_of_an_untrusted_one_is_not_believed():
    spoofed = {"X-Forwarded-For": "127.0.0.1, 198.51.100.4, 10.0.0.7"}
    assert seen(["10.0.0.0/8"], "10.0.0.5", spoofed)["client"][0] == "198.51.100.4"
    allproxies = {"X-Forwarded-For": "10.0.0.9, 10.0.0.7"}
    assert seen(["10.0.0.0/8"], "10.0.0.5", allproxies)["client"][0] == "10.0.0.9"


@pytest.mark.parametrize(
    ("trusted", "forwarded", "secure"),
    [
        (("127.0.0.1",), {"X-Forwarded-Proto": "https"}, True),
        (("127.0.0.1",), {}, False),
        ((), {"X-Forwarded-Proto": "https"}, False),
        (("10.0.0.0/8",), {"X-Forwarded-Proto": "https"}, False),
    ],
)
def test_the_console_cookie_is_secure_behind_a_trusted_tls_proxy(
    console_server, no_llm, trusted, forwarded, secure
):
    # Behind the TLS proxy the docs recommend, the cookie was never Secure.
    server = console_server(trusted_proxies=trusted)
    with httpx.Client(base_url=server.http(""), timeout=5) as client:
        signed = client.get(f"/console?token={CONSOLE_TOKEN}", headers=forwarded)
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"].lower()
    assert ("; secure" in cookie) is secure


async def test_the_try_a_call_page_behind_a_proxy_that_names_the_host_opens_calls(
    console_server, no_llm
):
    server = console_server(trusted_proxies=("127.0.0.1",))
    headers = {"X-Forwarded-Host": "voice.example.com", "X-Forwarded-Proto": "https"}
    async with PlatformCall.connect(
        server.url("console-proxied"),
        origin="https://voice.example.com",
        additional_headers=headers,
    ) as call:
        assert (await call.response(0)).complete
