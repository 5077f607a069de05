"""The platform's REST client against the local stand-in of the platform's API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.phone import CreatePhoneCall, PlatformClient, PlatformError
from engine.testing.platform_api import PlatformAPI
from engine.testing.server import free_port


@pytest.fixture
def platform() -> Iterator[PlatformAPI]:
    with PlatformAPI() as api:
        yield api


def client(platform: PlatformAPI, key: str | None = None, retries: int = 3) -> PlatformClient:
    return PlatformClient(platform.url, key or platform.key, retries=retries, backoff=0.01)


def request(key: str = "key_1", **fields: object) -> CreatePhoneCall:
    return CreatePhoneCall(
        from_number="+14155550199",
        to_number="+14155550100",
        idempotency_key=key,
        metadata={"flow": "booking"},
        retell_llm_dynamic_variables={"name": "Dana"},
        **fields,  # type: ignore[arg-type]
    )


async def test_a_call_is_placed_with_the_bearer_key_and_the_documented_fields(platform):
    async with client(platform) as api:
        call = await api.create_phone_call(request(override_agent_id="agent_9"))
    assert call.call_id.startswith("call_")
    sent = platform.requests[0]
    assert sent.headers["Authorization"] == f"Bearer {platform.key}"
    assert sent.body == {
        "from_number": "+14155550199",
        "to_number": "+14155550100",
        "idempotency_key": "key_1",
        "metadata": {"flow": "booking"},
        "retell_llm_dynamic_variables": {"name": "Dana"},
        "override_agent_id": "agent_9",
    }
    assert platform.calls[call.call_id]["agent_id"] == "agent_9"


@pytest.mark.parametrize(
    ("status", "says", "fatal"),
    [
        (401, "the platform refused the API key (HTTP 401): check DIALPLAN_PLATFORM_KEY", True),
        (402, "the platform account cannot pay for calls (HTTP 402): no credit", True),
        (422, "the platform refused the call (HTTP 422): no credit", False),
        (404, "the platform has no /v2/create-phone-call (HTTP 404): no credit", True),
    ],
)
async def test_a_refusal_is_one_clear_line_and_is_not_retried(platform, status, says, fatal):
    platform.fail(status, times=5, message="no credit")
    async with client(platform) as api:
        with pytest.raises(PlatformError) as caught:
            await api.create_phone_call(request())
    message = str(caught.value)
    assert message.startswith(says)
    assert "\n" not in message and platform.key not in message
    assert caught.value.refused and caught.value.fatal is fatal
    assert len(platform.requests) == 1  # a refusal is final
    assert platform.calls == {}


async def test_a_wrong_key_is_refused_by_the_platform_and_named(platform):
    async with client(platform, key="wrong") as api:
        with pytest.raises(PlatformError, match="HTTP 401") as caught:
            await api.create_phone_call(request())
    assert "wrong" not in str(caught.value)


async def test_rate_limits_and_server_errors_are_retried_with_the_same_key(platform):
    platform.fail(429, retry_after="0")
    platform.fail(503)
    async with client(platform) as api:
        call = await api.create_phone_call(request(key="key_same"))
    assert [r.status for r in platform.requests] == [429, 503, 201]
    assert {r.body["idempotency_key"] for r in platform.requests} == {"key_same"}
    assert list(platform.calls) == [call.call_id]


async def test_a_lost_answer_is_asked_again_and_the_platform_makes_no_second_call(platform):
    platform.fail(502, after_creating=True)  # the call is made, the answer is lost
    async with client(platform) as api:
        call = await api.create_phone_call(request())
    assert len(platform.requests) == 2
    assert list(platform.calls) == [call.call_id]


async def test_server_errors_past_the_retries_leave_the_outcome_unknown(platform):
    platform.fail(500, times=3, message="database on fire")
    async with client(platform, retries=2) as api:
        with pytest.raises(PlatformError) as caught:
            await api.create_phone_call(request())
    assert str(caught.value) == "the platform failed (HTTP 500) after 3 tries: database on fire"
    assert not caught.value.refused and not caught.value.fatal


async def test_a_platform_that_cannot_be_reached_is_named_by_its_url():
    url = f"http://127.0.0.1:{free_port()}"
    async with PlatformClient(url, "key", retries=1, backoff=0.01) as api:
        with pytest.raises(
            PlatformError, match=f"cannot reach the platform at {url} after 2 tries"
        ):
            await api.create_phone_call(request())


async def test_an_answer_that_is_not_the_platforms_stops_everything(platform):
    async with PlatformClient(platform.url + "/not-here", platform.key, retries=0) as api:
        with pytest.raises(PlatformError, match="HTTP 404") as caught:
            await api.create_phone_call(request())
    assert caught.value.fatal
