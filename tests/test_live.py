"""Snapshots of calls for the console's live feed, made from a call's state (in process)."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.agent import MASK, CallInfo, CallSummary
from engine.console import CallSnapshot, MemoryLiveFeed
from engine.protocol import Transcript
from engine.records import TurnRecord
from engine.server.live import LivePublisher, snapshot
from engine.server.store import CallState


class Talk:
    """A conversation that only tells what it did (all a snapshot reads)."""

    wants_call_details = False

    def __init__(self, summary: CallSummary | Exception) -> None:
        self._summary = summary

    def summary(self) -> CallSummary:
        if isinstance(self._summary, Exception):
            raise self._summary
        return self._summary

    def turn_trace(self) -> None:
        return None


def member_call(summary: CallSummary | Exception) -> CallState:
    state = CallState(
        CallInfo("call_member", flow="member", details={"from_number": "+14155550123"}),
        Talk(summary),  # type: ignore[arg-type]
    )
    state.transcript = Transcript.of(
        [
            {"role": "agent", "content": "What is your member number?"},
            {"role": "user", "content": "It is AB-12345"},
        ]
    )
    now = datetime.now(UTC)
    state.turns = [
        TurnRecord(response_id=0, kind="greeting", started_at=now, said="Hi!"),
        TurnRecord(
            response_id=1,
            started_at=now,
            transcript_len=2,
            said="I have AB-12345. Goodbye!",
            state_before="ask_member",
            state_after="done",
            understood=[{"kind": "slot", "name": "member_id", "value": MASK, "by": "parser"}],
        ),
    ]
    return state


SUMMARY = CallSummary(
    flow="member",
    state="done",
    slots={"name": "Dana", "member_id": "AB-12345"},
    sensitive=frozenset({"member_id"}),
    path=("ask_name", "ask_member", "done"),
)


def test_a_snapshot_masks_sensitive_values_as_the_call_log_shows_them():
    shot = snapshot(member_call(SUMMARY), "live")
    assert shot.slots == {"name": "Dana", "member_id": MASK}
    assert shot.sensitive == ("member_id",)
    # The caller's words in the turn that gave the value are hidden whole, and the agent's
    # answer (not yet sent back by the platform) comes last, masked where it repeats it.
    assert [line["content"] for line in shot.transcript] == [
        "What is your member number?",
        MASK,
        f"I have {MASK}. Goodbye!",
    ]
    assert shot.last_turn is not None and shot.last_turn["said"] == f"I have {MASK}. Goodbye!"
    assert "AB-12345" not in str(shot.to_json())
    assert (shot.flow, shot.state, shot.turns, shot.from_number) == (
        "member",
        "done",
        2,
        "+14155550123",
    )
    assert shot.path == ("ask_name", "ask_member", "done")


def test_the_answer_is_not_repeated_once_the_platform_sent_it_back():
    state = member_call(SUMMARY)
    state.transcript = Transcript.of(
        [
            {"role": "agent", "content": "What is your member number?"},
            {"role": "user", "content": "It is AB-12345"},
            {"role": "agent", "content": "I have AB-12345. Goodbye!"},
        ]
    )
    shot = snapshot(state, "ended")
    assert [line["role"] for line in shot.transcript] == ["agent", "user", "agent"]
    assert shot.transcript[-1]["content"] == f"I have {MASK}. Goodbye!"


def test_the_status_follows_the_socket_and_who_ended_the_call():
    feed = MemoryLiveFeed()
    publisher = LivePublisher(feed)
    state = member_call(SUMMARY)
    publisher.changed(state)
    publisher.socket_closed(state)  # the caller's side went away: it may come back
    reconnecting = feed._live["call_member"]
    assert reconnecting.status == "reconnecting"
    state.ended_by = "hang_up"
    publisher.socket_closed(state)  # the agent hung up: the call is over
    assert "call_member" not in feed._live
    assert feed._ended["call_member"].status == "ended"


def test_a_snapshot_that_cannot_be_made_never_reaches_the_call():
    published: list[CallSnapshot] = []

    class Broken(MemoryLiveFeed):
        def publish(self, snapshot: CallSnapshot) -> None:
            published.append(snapshot)
            raise RuntimeError("the feed is down")

    LivePublisher(Broken()).changed(member_call(SUMMARY))  # no exception
    LivePublisher(MemoryLiveFeed()).changed(member_call(RuntimeError("no summary")))
    assert len(published) == 1


async def test_a_change_nobody_watches_is_made_into_a_snapshot_when_read():
    feed = MemoryLiveFeed()
    publisher = LivePublisher(feed)
    state = member_call(SUMMARY)
    publisher.changed(state)
    assert isinstance(feed._live["call_member"], tuple)  # nothing made yet
    state.turns.append(TurnRecord(response_id=2, started_at=datetime.now(UTC), said="Bye."))
    [shot] = await feed.current()  # made as the call is now
    assert shot.status == "live" and shot.turns == 3
    assert await feed.get("call_member") is shot  # and kept until the call changes again
    publisher.changed(member_call(RuntimeError("no summary")))  # cannot be made: the one before
    assert await feed.current() == [shot]
    publisher.changed(CallState(CallInfo("call_new"), Talk(RuntimeError("no summary"))))  # type: ignore[arg-type]
    assert await feed.current() == [shot]  # and a call with none before is left out


async def test_a_change_is_published_at_once_while_someone_watches():
    feed = MemoryLiveFeed()
    subscription = feed.subscribe()
    LivePublisher(feed).changed(member_call(SUMMARY))
    shot = await subscription.next(timeout=1)
    assert shot is not None and shot.call_id == "call_member"
    assert feed._live["call_member"] is shot
