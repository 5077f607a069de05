"""The signed end-of-call webhook: each outbox event POSTed until the receiver takes it.

Every request carries the event's JSON body unchanged from one attempt to the next, and::

    X-Dialplan-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
    X-Dialplan-Event: call.ended
    X-Dialplan-Event-Id: evt_...
    webhook-id: evt_...
    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<raw body>")>

The last three are the `Standard Webhooks <https://www.standardwebhooks.com>`_ signature, so a
receiver can check it with that project's libraries (``Webhook(key).verify(body, headers)``).
Their key is the secret's bytes; a secret written as Standard Webhooks writes keys
(``whsec_<base64>``) is that key, decoded. The ``X-Dialplan-Signature`` stays for receivers
written against it.

A 2xx answer delivers the event; anything else (an error status, a refused connection, a
timeout) is tried again later, with the delay doubling, until the last attempt. Delivery is at
least once: a receiver de-duplicates on the event id. The secret and the URL (which may carry
a token) are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
import structlog

from .database import failure_of
from .outbox import Delivery, Outbox, Result

log = structlog.get_logger("dialplan.webhook")

T = TypeVar("T")
RunBlocking = Callable[..., Awaitable[Any]]
"""Runs a blocking function off the event loop: ``await run(fn, *args)``."""

SIGNATURE_HEADER = "X-Dialplan-Signature"
STANDARD_PREFIX = "whsec_"
"""How Standard Webhooks writes a key: this prefix, then the key in base64."""
POLL = 5.0  # seconds between looks for events that others queued or that came due


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def standard_key(secret: bytes) -> bytes:
    """The Standard Webhooks key of a secret: ``whsec_<base64>`` decoded, else its bytes."""
    if secret.startswith(STANDARD_PREFIX.encode()):
        try:
            return base64.b64decode(secret[len(STANDARD_PREFIX) :] + b"==", validate=False)
        except binascii.Error:
            pass  # not base64 after all: the secret as it is
    return secret


def standard_headers(key: bytes, event_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The Standard Webhooks headers of ``body`` sent as ``event_id`` at ``timestamp``."""
    signed = f"{event_id}.{timestamp}.".encode() + body
    mac = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{mac}",
    }


def verify(secret: bytes, body: bytes, header: str, tolerance: float = 300.0) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds of now."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    fresh = abs(time.time() - timestamp) <= tolerance
    return fresh and hmac.compare_digest(expected, fields.get("v1", ""))


class Deliverer:
    """Sends the outbox's due events in the background; one per server process."""

    def __init__(
        self,
        outbox: Outbox,
        run: RunBlocking,
        *,
        url: str,
        secret: bytes,
        timeout: float,
        attempts: int,
        retry_delay: float,
        poll: float = POLL,
    ) -> None:
        self.outbox = outbox
        self.run_blocking = run
        self.url = url
        self.secret = secret
        self.key = standard_key(secret)
        self.timeout = timeout
        self.attempts = attempts
        self.retry_delay = retry_delay
        self.poll = poll
        self._wake = asyncio.Event()
        self._claimed: list[str] = []
        self._stopping = False

    def wake(self) -> None:
        """New events were queued: look now instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the deliveries under way, then return from :meth:`run`."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Deliver until stopped (or cancelled: claims in flight are then handed back)."""
        lease = self.timeout + 30.0
        async with aiohttp.ClientSession(headers={"User-Agent": "dialplan-webhook"}) as http:
            try:
                while not self._stopping:
                    self._wake.clear()
                    try:
                        batch = await self._blocking(self.outbox.claim, _now(), lease)
                        if batch:
                            await self._deliver(http, batch)
                            continue
                        due = await self._blocking(self.outbox.next_due)
                    except Exception as exc:  # the database is away: try again later
                        log.error("webhook.outbox_unavailable", error=failure_of(exc))
                        due = None
                    await self._sleep(due)
            finally:
                if self._claimed:
                    await asyncio.shield(self.run_blocking(self.outbox.release, self._claimed))

    async def _blocking(self, fn: Callable[..., T], *args: Any) -> T:
        result: T = await self.run_blocking(fn, *args)
        return result

    async def _sleep(self, due: datetime | None) -> None:
        delay = self.poll
        if due is not None:
            delay = min(delay, max(0.0, (due - _now()).total_seconds()))
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _deliver(self, http: aiohttp.ClientSession, batch: list[Delivery]) -> None:
        self._claimed = [delivery.id for delivery in batch]
        results = await asyncio.gather(*(self._send(http, delivery) for delivery in batch))
        given_up = await self._blocking(
            self.outbox.settle, list(results), _now(), self.retry_delay, self.attempts
        )
        self._claimed = []
        for delivery, result in zip(batch, results, strict=True):
            if result.ok:
                log.info(
                    "webhook.delivered",
                    event_id=delivery.id,
                    call_id=delivery.call_id,
                    attempts=delivery.attempts + 1,
                )
            elif delivery.id in given_up:
                log.error(
                    "webhook.given_up",
                    event_id=delivery.id,
                    call_id=delivery.call_id,
                    attempts=delivery.attempts + 1,
                    error=result.error,
                )
            else:
                log.warning(
                    "webhook.retry_later",
                    event_id=delivery.id,
                    call_id=delivery.call_id,
                    attempt=delivery.attempts + 1,
                    error=result.error,
                )

    async def _send(self, http: aiohttp.ClientSession, delivery: Delivery) -> Result:
        now = int(time.time())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.secret, delivery.body, now),
            "X-Dialplan-Event": delivery.event,
            "X-Dialplan-Event-Id": delivery.id,
            **standard_headers(self.key, delivery.id, delivery.body, now),
        }
        try:
            async with http.post(
                self.url,
                data=delivery.body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                allow_redirects=False,
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return Result(delivery.id, True)
                return Result(delivery.id, False, f"HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return Result(delivery.id, False, type(exc).__name__)


def _now() -> datetime:
    return datetime.now(UTC)
