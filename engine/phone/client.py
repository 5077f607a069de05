"""The platform's REST API, as far as dialplan uses it: placing a phone call.

A small typed client on aiohttp (the official SDK takes two seconds to import and retries on
rules of its own). Every request carries ``Authorization: Bearer <key>``; the key is never
logged and never part of an error message. What the platform answers becomes one
:class:`PlatformError` with one clear line:

* 401: the key is refused; 402: the account cannot pay; 404: the URL is not the platform's
  (these stop a batch: every other call would fail the same way);
* 400, 403, 422: this call is refused (a bad number, a number not yours...): the platform
  made no call;
* 408, 409, 429, 5xx and failures on the way are retried with backoff (``Retry-After`` is
  honoured). That is safe because every create request carries an idempotency key: the
  platform answers a repeated key with the call it made already.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import aiohttp
import orjson
import structlog
from pydantic import BaseModel, ConfigDict, Field

from engine.errors import RuntimeFault

log = structlog.get_logger("dialplan.phone")

CREATE_PHONE_CALL = "/v2/create-phone-call"
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0  # seconds; a longer wait is the batch's to decide, not one request's


def _user_agent() -> str:
    try:
        return f"dialplan/{version('dialplan')}"
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "dialplan"


class PlatformError(RuntimeFault):
    """The platform did not place a call; ``str()`` is one line for a person.

    ``refused``: the platform answered that it will not (no call was made, a new request
    may be tried later with a new key). ``fatal``: every other request would fail the same
    way (a wrong key, URL or account), so a batch stops.
    """

    def __init__(
        self, message: str, status: int | None = None, *, refused: bool, fatal: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.refused = refused
        self.fatal = fatal


class CreatePhoneCall(BaseModel):
    """The body of ``POST /v2/create-phone-call`` (the fields dialplan sends)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    from_number: str
    to_number: str
    idempotency_key: str
    """Required here: a create request is only ever retried with the same key."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    retell_llm_dynamic_variables: dict[str, str] = Field(default_factory=dict)
    override_agent_id: str | None = None


class PhoneCall(BaseModel):
    """The call object the platform answers with (the fields dialplan reads; others kept)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    call_id: str
    call_status: str | None = None
    agent_id: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    direction: str | None = None
    metadata: Any = None


class PlatformClient:
    """The REST API at ``base_url`` with ``key``; use as ``async with PlatformClient(...)``."""

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = key
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> PlatformClient:
        self._session = aiohttp.ClientSession(
            headers={
                "Authorization": f"Bearer {self._key}",
                "Content-Type": "application/json",
                "User-Agent": _user_agent(),
            },
            timeout=aiohttp.ClientTimeout(total=self.timeout),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def create_phone_call(self, request: CreatePhoneCall) -> PhoneCall:
        """Place one call; the platform's call object (``call_id`` and all)."""
        answer = await self._post(CREATE_PHONE_CALL, request.model_dump(exclude_none=True))
        try:
            return PhoneCall.model_validate(answer)
        except ValueError:
            raise PlatformError(
                "the platform answered without a call id: is DIALPLAN_PLATFORM_URL the "
                "platform's REST API?",
                refused=False,
                fatal=True,
            ) from None

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        assert self._session is not None, "use `async with PlatformClient(...)`"
        data = orjson.dumps(body)
        url = self.base_url + path
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            tries = f" after {attempt + 1} tries" if attempt else ""
            try:
                async with self._session.post(url, data=data, allow_redirects=False) as answer:
                    raw = await answer.read()
                    if 200 <= answer.status < 300:
                        return _json(raw, answer.status)
                    error = status_error(answer.status, raw, path, tries)
                    if answer.status not in RETRY_STATUSES or last:
                        raise error
                    delay = _retry_after(answer.headers.get("Retry-After"))
            except (aiohttp.ClientError, TimeoutError) as exc:
                if last:
                    reason = type(exc).__name__ if isinstance(exc, TimeoutError) else str(exc)
                    raise PlatformError(
                        f"cannot reach the platform at {self.base_url}{tries}: "
                        f"{reason or type(exc).__name__}",
                        refused=False,
                    ) from None
                delay = None
                error = None
            wait = delay if delay is not None else self._backoff(attempt)
            log.warning(
                "platform.retry",
                path=path,
                status=error.status if error else None,
                attempt=attempt + 1,
                wait_s=round(wait, 2),
            )
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        # Exponential with jitter, so that a batch's retries do not arrive together.
        return float(self.backoff * 2**attempt * (0.5 + random.random()))


def status_error(status: int, raw: bytes, path: str, tries: str = "") -> PlatformError:
    """One clear line for an HTTP error of the platform."""
    said = _message(raw)
    detail = f": {said}" if said else ""
    if status == 401:
        return PlatformError(
            "the platform refused the API key (HTTP 401): check DIALPLAN_PLATFORM_KEY",
            status,
            refused=True,
            fatal=True,
        )
    if status == 402:
        return PlatformError(
            f"the platform account cannot pay for calls (HTTP 402){detail}",
            status,
            refused=True,
            fatal=True,
        )
    if status == 404:
        return PlatformError(
            f"the platform has no {path} (HTTP 404){detail}: check DIALPLAN_PLATFORM_URL "
            "(and --agent)",
            status,
            refused=True,
            fatal=True,
        )
    if status == 429:
        return PlatformError(
            f"the platform is limiting requests (HTTP 429){tries}{detail}: lower --rate or "
            "--concurrency",
            status,
            refused=True,
        )
    if status >= 500:
        return PlatformError(
            f"the platform failed (HTTP {status}){tries}{detail}", status, refused=False
        )
    if status in (408, 409):
        return PlatformError(
            f"the platform did not finish the request (HTTP {status}){tries}{detail}",
            status,
            refused=False,
        )
    return PlatformError(
        f"the platform refused the call (HTTP {status}){detail}", status, refused=True
    )


def _message(raw: bytes, limit: int = 200) -> str:
    """What the platform said, from its JSON error (or its text), on one short line."""
    text = ""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        text = raw.decode("utf-8", "replace")
    else:
        if isinstance(body, dict):
            for key in ("error_message", "message", "error", "detail"):
                if isinstance(body.get(key), str):
                    text = body[key]
                    break
        elif isinstance(body, str):
            text = body
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(raw: bytes, status: int) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise PlatformError(
            f"the platform answered HTTP {status} with no JSON: is DIALPLAN_PLATFORM_URL the "
            "platform's REST API?",
            status,
            refused=False,
            fatal=True,
        ) from None


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (moment - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
