"""The platform's webhook signature, checked against the official SDK's own sign and verify."""

from __future__ import annotations

import time

from retell.lib.webhook_auth import symmetric as sdk
from retell.lib.webhook_auth import verify as sdk_verify

from engine.phone.signature import sign, verify

KEY = "key_1234567890abcdef"
BODY = '{"event":"call_ended","call":{"call_id":"call_1","transcript":"Agent: Hi, café crème"}}'


def test_what_we_sign_the_sdk_verifies():
    header = sign(KEY.encode(), BODY.encode())
    assert sdk_verify(BODY, KEY, header)


def test_what_the_sdk_signs_we_verify_on_the_raw_body():
    header = sdk["sign"](BODY, KEY)
    assert verify(KEY.encode(), BODY.encode(), header)


def test_another_key_or_another_body_is_refused_like_the_sdk_refuses_it():
    header = sdk["sign"](BODY, KEY)
    assert not verify(b"another key", BODY.encode(), header)
    assert not verify(KEY.encode(), BODY.replace("call_1", "call_2").encode(), header)
    # The same JSON re-encoded (spaces) is another body: only the raw bytes count.
    assert not verify(KEY.encode(), BODY.replace(",", ", ").encode(), header)


def test_a_signature_older_or_newer_than_five_minutes_is_refused():
    now = int(time.time() * 1000)
    old = sign(KEY.encode(), BODY.encode(), now - 5 * 60 * 1000 - 1)
    future = sign(KEY.encode(), BODY.encode(), now + 5 * 60 * 1000 + 1000)
    recent = sign(KEY.encode(), BODY.encode(), now - 4 * 60 * 1000)
    assert not verify(KEY.encode(), BODY.encode(), old, now_ms=now)
    assert not verify(KEY.encode(), BODY.encode(), future, now_ms=now)
    assert verify(KEY.encode(), BODY.encode(), recent, now_ms=now)
    assert not sdk_verify(BODY, KEY, old)  # the SDK draws the line at the same place


def test_malformed_headers_are_refused():
    good = sign(KEY.encode(), BODY.encode())
    for header in (
        None,
        "",
        "v=1",
        good.upper(),
        good + ",x=1",
        good.replace("d=", "d= "),
        "d=00,v=1",
    ):
        assert not verify(KEY.encode(), BODY.encode(), header)
    assert not verify(b"", BODY.encode(), good)
