"""A call's state as bytes for the shared store, and back, whole."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.agent import CallInfo, Speech, Turn
from engine.flow import FlowAgent
from engine.protocol import Transcript, Utterance
from engine.records import TurnRecord
from engine.server.codec import DecodeError, decode_state, encode_state, encode_turn
from engine.server.store import CallState
from tests.helpers import EXAMPLE, project


@pytest.fixture
def agent():
    example = project(EXAMPLE)
    example.load()
    return FlowAgent(example.registry, None, "clinic_intake")


async def test_a_call_comes_back_whole(agent):
    call = CallInfo("call_c", flow="clinic_intake", query={"t": "1"}, details={"from_number": "+1"})
    state = CallState(call, agent.start(call), greeted=True, interrupt_id=2)
    state.agent_config = {"responsiveness": 0.4}
    state.transcript = Transcript.of(
        [
            {"role": "agent", "content": "Hello.", "words": [1]},  # odd words: untimed
            {"role": "user", "content": "Dana Scully", "words": [{"start": 2, "end": 2.5}] * 2},
        ]
    )
    state.ended_by, state.transfer_number, state.connections = "transfer", "+14155550100", 2
    state.closed_at = 1764031800.5
    turn = Turn(1, (Utterance("user", "Dana Scully"),), call)
    said = [
        part.text async for part in state.conversation.respond(turn) if isinstance(part, Speech)
    ]
    state.conversation.memory.slots["deposit"] = Decimal("12.50")  # set by an action, say
    record = TurnRecord(response_id=1, started_at=datetime.now(UTC), said="".join(said))

    again = decode_state(encode_state(state), [encode_turn(record)], agent.resume)
    assert again.call == call and again.details_arrived.is_set()
    assert (again.greeted, again.interrupt_id, again.connections) == (True, 2, 2)
    assert again.agent_config == {"responsiveness": 0.4}
    assert again.transcript.utterances() == (
        Utterance("agent", "Hello."),
        Utterance("user", "Dana Scully"),
    )
    # When each line was said goes along (not every word): the record needs it.
    assert again.transcript.spans() == ((None, None), (2.0, 2.5))
    assert again.closed_at == 1764031800.5
    assert (again.ended_by, again.transfer_number, again.recorded) == (
        "transfer",
        "+14155550100",
        -1,
    )
    assert again.turns == [record]
    assert again.conversation.state == "ask_dob"
    assert again.conversation.memory.slots == {"full_name": "Dana Scully", "deposit": "12.50"}


def test_bytes_that_are_not_a_call_state_are_refused(agent):
    with pytest.raises(DecodeError):
        decode_state(b"\x00not msgpack", [], agent.resume)
    with pytest.raises(DecodeError, match="format"):
        decode_state(b"\x81\xa6format\x63", [], agent.resume)  # {"format": 99}


def test_an_integer_beyond_64_bits_from_outside_is_kept_as_its_text(agent):
    # Call details come from whoever created the call; such a number must not stop the saves.
    details = {"metadata": {"account": 2**70, "ok": 7, "list": [1, -(2**64)]}}
    call = CallInfo("call_big", flow="clinic_intake", details=details)
    state = CallState(call, agent.start(call))
    again = decode_state(encode_state(state), [], agent.resume)
    assert again.call.details == {
        "metadata": {"account": str(2**70), "ok": 7, "list": [1, str(-(2**64))]}
    }
