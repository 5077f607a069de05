"""Placing calls: one, or a batch's rows at a bounded pace, each written down before it is asked.

A call is placed with ``POST /v2/create-phone-call``: ``from_number``, ``to_number``, the flow
in ``metadata.flow`` (the server runs that flow when the call's socket connects), the row's
variables as ``retell_llm_dynamic_variables`` (templates see them as
``call.retell_llm_dynamic_variables``), and an idempotency key. The metadata also names the
placement (``metadata.dialplan``), so the call's events and its record link back to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

import structlog
from aiolimiter import AsyncLimiter
from sqlalchemy.exc import IntegrityError

from .client import CreatePhoneCall, PlatformClient, PlatformError
from .ledger import Ledger, Placement, new_id

log = structlog.get_logger("dialplan.phone")

T = TypeVar("T")
RunBlocking = Callable[..., Awaitable[Any]]
"""Runs a blocking function off the event loop: ``await run(fn, *args)``."""

Result = Literal["placed", "failed", "unknown", "skipped", "stopped"]
"""``placed``: the platform made the call. ``failed``: it refused (no call was made).
``unknown``: no answer, so the call may or may not have been made (a rerun asks again with
the same key). ``skipped``: placed before, or its outcome cannot be learnt any more.
``stopped``: not tried, because an earlier row showed every call would fail."""


@dataclass(frozen=True)
class Order:
    """One call to place: the number (E.164), its variables, and its batch file line."""

    to_number: str
    variables: Mapping[str, str] = field(default_factory=dict)
    line: int | None = None


@dataclass(frozen=True)
class Step:
    """What a run does with one order: place it (``again``: the earlier try) or skip it."""

    order: Order
    action: Literal["place", "retry", "skip"]
    again: Placement | None = None
    reason: str = ""


@dataclass(frozen=True)
class Outcome:
    """What became of one order."""

    order: Order
    result: Result
    call_id: str | None = None
    error: str | None = None
    placement: str | None = None
    fatal: bool = False
    """Every other call would fail the same way (a wrong key, URL or account)."""


def plan(orders: Sequence[Order], earlier: Mapping[str, Placement], now: datetime) -> list[Step]:
    """What a run of a batch does with each order, given the batch's earlier placements.

    A number placed before is skipped; one whose outcome is unknown is asked again with the
    same key while the platform still knows it (within the hour) and skipped after; one the
    platform refused is placed again with a new key.
    """
    steps = []
    for order in orders:
        before = earlier.get(order.to_number)
        if before is None:
            steps.append(Step(order, "place"))
        elif before.status == "placed":
            steps.append(Step(order, "skip", before, "called already"))
        elif before.status == "failed":
            steps.append(Step(order, "retry", before, f"refused before: {before.error}"))
        elif before.key_is_fresh(now):
            why = f"outcome unknown ({before.error})" if before.error else "interrupted"
            steps.append(Step(order, "retry", before, f"{why}: asked again with the same key"))
        else:
            steps.append(
                Step(
                    order,
                    "skip",
                    before,
                    "outcome unknown, and its key is over an hour old: not asked again (see "
                    "the platform's call list)",
                )
            )
    return steps


def metadata(flow: str | None, placement: Placement) -> dict[str, Any]:
    """The call's metadata: its flow, and the placement its events and record link back to."""
    mine: dict[str, Any] = {"placement": placement.id}
    if placement.batch is not None:
        mine["batch"] = placement.batch
    if placement.row is not None:
        mine["row"] = placement.row
    found: dict[str, Any] = {"dialplan": mine}
    if flow:
        found["flow"] = flow
    return found


async def _inline(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return fn(*args, **kwargs)


class Placer:
    """Places calls for one flow and caller id, writing each to the ledger around the request."""

    def __init__(
        self,
        client: PlatformClient,
        *,
        from_number: str,
        flow: str | None,
        agent_id: str | None = None,
        ledger: Ledger | None = None,
        batch: str | None = None,
        run_blocking: RunBlocking = _inline,
    ) -> None:
        self.client = client
        self.from_number = from_number
        self.flow = flow
        self.agent_id = agent_id
        self.ledger = ledger
        self.batch = batch
        self.run_blocking = run_blocking

    async def place(self, order: Order, again: Placement | None = None) -> Outcome:
        """Write ``placing``, ask the platform, write what it answered."""
        try:
            placement = await self._begin(order, again)
        except IntegrityError:  # the batch's number is being placed by another run right now
            return Outcome(order, "skipped", error="placed by another run of this batch")
        request = CreatePhoneCall(
            from_number=self.from_number,
            to_number=order.to_number,
            idempotency_key=placement.idempotency_key,
            metadata=metadata(self.flow, placement),
            retell_llm_dynamic_variables=dict(order.variables),
            override_agent_id=self.agent_id,
        )
        try:
            call = await self.client.create_phone_call(request)
        except PlatformError as exc:
            if self.ledger is not None:
                await self.run_blocking(
                    self.ledger.failed, placement.id, str(exc), refused=exc.refused
                )
            result: Result = "failed" if exc.refused else "unknown"
            log.info("call.not_placed", placement=placement.id, result=result, error=str(exc))
            return Outcome(order, result, error=str(exc), placement=placement.id, fatal=exc.fatal)
        if self.ledger is not None:
            await self.run_blocking(self.ledger.placed, placement.id, call.call_id)
        log.info("call.placed", call_id=call.call_id, placement=placement.id, flow=self.flow)
        return Outcome(order, "placed", call_id=call.call_id, placement=placement.id)

    async def _begin(self, order: Order, again: Placement | None) -> Placement:
        fields: dict[str, Any] = {
            "to_number": order.to_number,
            "from_number": self.from_number,
            "flow": self.flow,
            "agent_id": self.agent_id,
            "variables": dict(order.variables),
            "batch": self.batch,
            "row": order.line,
            "again": again,
        }
        if self.ledger is not None:
            placement: Placement = await self.run_blocking(self.ledger.begin, **fields)
            return placement
        # No call log: the key still makes the client's own retries safe.
        return Placement(
            id=new_id("plc"),
            idempotency_key=new_id("key"),
            batch=self.batch,
            row=order.line,
            to_number=order.to_number,
            status="placing",
            call_id=None,
            error=None,
            attempts=1,
            key_first_sent_at=None,
            variables=dict(order.variables),
        )


async def run_batch(
    placer: Placer,
    steps: Sequence[Step],
    *,
    concurrency: int,
    rate: float,
    done: Callable[[Outcome], None] = lambda outcome: None,
) -> list[Outcome]:
    """Place the steps' calls in order: at most ``concurrency`` at once, ``rate`` a second.

    ``done`` is told of every outcome as it comes (for a progress bar). A fatal refusal (a
    wrong key, URL or account) stops the run: the calls under way finish, the rest are
    ``stopped``. Outcomes come back in the steps' order.
    """
    outcomes: list[Outcome | None] = [None] * len(steps)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(steps)):
        queue.put_nowait(index)
    limiter = AsyncLimiter(1, 1.0 / rate)  # one call started every 1/rate seconds, no bursts
    fatal: list[str] = []

    async def worker() -> None:
        while True:
            try:
                index = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            step = steps[index]
            if step.action == "skip":
                before = step.again
                outcome = Outcome(
                    step.order,
                    "skipped",
                    call_id=before.call_id if before else None,
                    error=step.reason,
                    placement=before.id if before else None,
                )
            else:
                if not fatal:
                    await limiter.acquire()
                if fatal:  # also when another worker hit it while this one waited
                    outcome = Outcome(step.order, "stopped", error=f"not placed: {fatal[0]}")
                else:
                    outcome = await placer.place(step.order, step.again)
                    if outcome.fatal and outcome.error:
                        fatal.append(outcome.error)
            outcomes[index] = outcome
            done(outcome)

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return [outcome for outcome in outcomes if outcome is not None]
