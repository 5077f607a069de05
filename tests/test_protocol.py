"""Wire events: lenient parsing of what the platform sends, strict types in what we send."""

from __future__ import annotations

import inspect
import sys

import orjson
import pytest

from engine.errors import ProtocolError
from engine.protocol import (
    AgentInterrupt,
    CallControl,
    CallDetails,
    Config,
    Metadata,
    PingPong,
    Pong,
    ResponseChunk,
    ResponseRequired,
    ToolCallInvocation,
    ToolCallResult,
    Transcript,
    UnknownEvent,
    UpdateAgent,
    UpdateOnly,
    Utterance,
    encode,
    parse_event,
    utterances,
)


def test_parses_each_inbound_type():
    assert parse_event('{"interaction_type":"ping_pong","timestamp":5}') == PingPong(5)
    details = parse_event('{"interaction_type":"call_details","call":{"call_id":"c"}}')
    assert details == CallDetails({"call_id": "c"})
    update = parse_event(
        '{"interaction_type":"update_only","transcript":[],"turntaking":"user_turn"}'
    )
    assert isinstance(update, UpdateOnly) and update.turntaking == "user_turn"
    assert update.transcript.utterances() == ()
    request = parse_event(
        b'{"interaction_type":"reminder_required","response_id":3,"transcript":[],"timestamp":9}'
    )
    assert isinstance(request, ResponseRequired)
    assert (request.response_id, request.reminder) == (3, True)
    assert parse_event('{"interaction_type":"dtmf","digit":"1"}') == UnknownEvent("dtmf")


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("{", "not JSON"),
        ('"text"', "not a JSON object"),
        ("{}", "no `interaction_type`"),
        ('{"interaction_type":"response_required","transcript":[]}', "response_id"),
        ('{"interaction_type":"response_required","response_id":true}', "response_id"),
        ('{"interaction_type":"response_required","response_id":-1}', "response_id"),
        ('{"interaction_type":"ping_pong","timestamp":"5"}', "timestamp"),
        # Numbers no JSON peer can take back: echoing one would be a frame that cannot be sent.
        ('{"interaction_type":"ping_pong","timestamp":37778931862954477355008}', "timestamp"),
        ('{"interaction_type":"response_required","response_id":9223372036854775808}', "id"),
        ('{"interaction_type":"update_only","transcript":{}}', "transcript"),
        ('{"interaction_type":"call_details"}', "call"),
    ],
)
def test_unusable_frames_say_why(frame, reason):
    with pytest.raises(ProtocolError, match=reason):
        parse_event(frame)


def test_utterances_skip_unusable_entries():
    raw = [
        {"role": "agent", "content": "Hi", "words": []},
        {"role": "user"},
        "junk",
        {"role": "transfer_target", "content": "Desk"},
    ]
    expected = (Utterance("agent", "Hi"), Utterance("transfer_target", "Desk"))
    assert utterances(raw) == expected
    assert Transcript.of(raw).utterances() == expected  # decoded lazily, just as tolerant


def test_a_transcript_is_decoded_only_when_read_and_keeps_everything():
    frame = orjson.dumps(
        {
            "interaction_type": "response_required",
            "response_id": 1,
            "transcript": [
                {"role": "user", "content": "Hi", "words": [{"word": "Hi", "start": 1.0}]},
                {"role": "agent", "content": "Hello", "metadata": {"response_id": 0}},
            ],
        }
    )
    request = parse_event(frame)
    assert isinstance(request, ResponseRequired)
    assert request.transcript.utterances() == (
        Utterance("user", "Hi"),
        Utterance("agent", "Hello"),
    )
    assert request.transcript.entries()[0]["words"] == [{"word": "Hi", "start": 1.0}]


def test_response_chunk_has_exact_types_and_omits_unset_actions():
    wire = orjson.loads(encode(ResponseChunk(4, "We open at nine.", False)))
    assert wire == {
        "response_type": "response",
        "response_id": 4,
        "content": "We open at nine.",
        "content_complete": False,
    }
    assert type(wire["content_complete"]) is bool and type(wire["response_id"]) is int


def test_actions_fields_and_union():
    actions = CallControl(transfer_number="+14155550123") | CallControl(
        no_interruption_allowed=True
    )
    wire = orjson.loads(encode(ResponseChunk(1, "Bye.", True, actions)))
    assert wire["transfer_number"] == "+14155550123"
    assert wire["no_interruption_allowed"] is True
    assert "end_call" not in wire and "show_transferee_as_caller" not in wire
    assert not CallControl()
    assert CallControl(end_call=True) | CallControl() == CallControl(end_call=True)


def test_every_outbound_event_has_its_response_type():
    events = {
        "config": Config(),
        "ping_pong": Pong(7),
        "response": ResponseChunk(0, "", True),
        "agent_interrupt": AgentInterrupt(1, "Sorry,"),
        "tool_call_invocation": ToolCallInvocation("t", "f", "{}"),
        "tool_call_result": ToolCallResult("t", "ok"),
        "update_agent": UpdateAgent({"responsiveness": 0.5}),
        "metadata": Metadata({"k": 1}),
    }
    for kind, event in events.items():
        text = encode(event)
        assert isinstance(text, str)  # text frames only; binary ends the call
        assert orjson.loads(text)["response_type"] == kind
    assert "successful" not in orjson.loads(encode(ToolCallResult("t", "ok")))


def test_update_agent_clamps_to_documented_ranges():
    wire = orjson.loads(
        encode(
            UpdateAgent(
                {
                    "responsiveness": -1,
                    "interruption_sensitivity": 7,
                    "reminder_trigger_ms": 0,
                    "reminder_max_count": -3,
                }
            )
        )
    )
    assert wire["agent_config"] == {
        "responsiveness": 0.0,
        "interruption_sensitivity": 1.0,
        "reminder_trigger_ms": 1,
        "reminder_max_count": 0,
    }


def test_numbers_in_call_details_that_no_encoder_takes_are_kept_as_their_text():
    frame = (
        '{"interaction_type":"call_details","call":{"call_id":"c","metadata":'
        '{"account":37778931862954477355008,"seats":[2,-9223372036854775809],"ok":true}}}'
    )
    details = parse_event(frame)
    assert isinstance(details, CallDetails)
    assert details.call["metadata"] == {
        "account": "37778931862954477355008",
        "seats": [2, "-9223372036854775809"],
        "ok": True,
    }


DEEP = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize(
    "frame",
    [
        '{"interaction_type":"update_only","stray":' + DEEP + "}",
        '{"interaction_type":"response_required","response_id":1,"transcript":' + DEEP + "}",
        '{"interaction_type":"update_only","transcript":[{"role":"user","content":"hi",'
        '"words":' + DEEP + "}]}",
        '{"interaction_type":"call_details","call":{"metadata":' + DEEP + "}}",
    ],
)
def test_a_frame_nested_too_deeply_is_malformed(frame):
    # The decoders' recursion limit is no crash: the frame is refused like any malformed one.
    with pytest.raises(ProtocolError, match="nested"):
        parse_event(frame)


def test_call_details_nested_beyond_what_a_record_can_hold_are_refused():
    # Shallow enough to parse, too deep for the call log's JSON (orjson stops at 254 levels):
    # the details would make every record of the call fail.
    call = '{"call_id":"c","metadata":' + "[" * 100 + "]" * 100 + "}"
    with pytest.raises(ProtocolError, match="nested"):
        parse_event('{"interaction_type":"call_details","call":' + call + "}")
    assert parse_event('{"interaction_type":"call_details","call":{"a":[[[1]]]}}') == CallDetails(
        {"a": [[[1]]]}
    )


def test_a_transcript_too_deep_for_where_it_is_read_has_no_usable_utterances():
    # Parsed at the top of the read loop, read from deep inside a turn: the decoder's limit
    # depends on the stack below it. Simulated with a lower recursion limit.
    transcript = Transcript(b'[{"role":"user","content":"hi","words":' + DEEP.encode() + b"}]")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 200)
    try:
        assert transcript.utterances() == ()
    finally:
        sys.setrecursionlimit(limit)
