"""The live feed (pure logic, in process): what the console reads of calls in progress."""

from __future__ import annotations

import asyncio

import pytest

from engine.console import CallSnapshot, MemoryLiveFeed


def snap(call_id: str, status: str = "live", started: float = 1.0, **fields) -> CallSnapshot:  # type: ignore[no-untyped-def]
    return CallSnapshot(call_id=call_id, status=status, started_at=started, **fields)  # type: ignore[arg-type]


async def test_calls_in_progress_are_the_newest_snapshot_of_each_oldest_first():
    feed = MemoryLiveFeed()
    feed.publish(snap("b", started=2.0, state="ask_name"))
    feed.publish(snap("a", started=1.0))
    feed.publish(snap("b", started=2.0, state="ask_dob"))
    feed.publish(snap("c", status="reconnecting", started=3.0))
    current = await feed.current()
    assert [(s.call_id, s.state) for s in current] == [
        ("a", None),
        ("b", "ask_dob"),
        ("c", None),
    ]


async def test_an_ended_call_leaves_the_calls_in_progress_but_stays_readable_a_while():
    feed = MemoryLiveFeed(recent=2)
    for name in ("a", "b", "c"):
        feed.publish(snap(name))
        feed.publish(snap(name, status="ended", ended_by="hang_up"))
    assert await feed.current() == []
    assert await feed.get("a") is None  # the oldest ended call is forgotten
    ended = await feed.get("c")
    assert ended is not None and ended.ended_by == "hang_up"
    feed.publish(snap("c", state="confirm"))  # a call that comes back after its end
    assert [s.call_id for s in await feed.current()] == ["c"]


async def test_a_slow_subscriber_gets_the_newest_of_each_call_and_never_blocks_publishing():
    feed = MemoryLiveFeed()
    subscription = feed.subscribe()
    for turn in range(1000):
        feed.publish(snap("a", state=f"turn {turn}"))
        feed.publish(snap("b", state=f"turn {turn}"))
    first = await subscription.next(1)
    second = await subscription.next(1)
    assert first is not None and second is not None
    assert [(first.call_id, first.state), (second.call_id, second.state)] == [
        ("a", "turn 999"),
        ("b", "turn 999"),
    ]
    assert await subscription.next(0.01) is None  # nothing more: a quiet moment


async def test_a_subscriber_wakes_up_for_a_change():
    feed = MemoryLiveFeed()
    subscription = feed.subscribe()
    waiting = asyncio.create_task(subscription.next(5))
    await asyncio.sleep(0)
    feed.publish(snap("a", state="ask_dob"))
    changed = await asyncio.wait_for(waiting, 5)
    assert changed is not None and changed.state == "ask_dob"


async def test_closing_the_feed_ends_every_subscription():
    feed = MemoryLiveFeed()
    subscription = feed.subscribe()
    waiting = asyncio.create_task(subscription.next(5))
    await asyncio.sleep(0)
    feed.close()
    with pytest.raises(EOFError):
        await asyncio.wait_for(waiting, 5)
    assert feed.subscribers == 0


async def test_a_closed_subscription_is_told_nothing_more():
    feed = MemoryLiveFeed()
    subscription = feed.subscribe()
    subscription.close()
    feed.publish(snap("a"))
    assert feed.subscribers == 0
    with pytest.raises(EOFError):
        await subscription.next(0.01)


def test_a_snapshot_crosses_a_process_boundary_as_json_unchanged():
    snapshot = snap(
        "a",
        flow="booking",
        state="confirm",
        slots={"party_size": 4, "card": "***"},
        sensitive=("card",),
        path=("ask_party", "confirm"),
        transcript=({"role": "agent", "content": "Hi"},),
        last_turn={"response_id": 3, "kind": "response"},
        turns=4,
        from_number="+14155550123",
    )
    assert CallSnapshot.from_json(snapshot.to_json()) == snapshot
