"""What the model is shown for a transcript."""

from __future__ import annotations

from engine.llm import chat_messages
from engine.protocol import Utterance


def test_maps_roles_merges_repeats_and_drops_empty_lines():
    transcript = [
        Utterance("agent", "Hello."),
        Utterance("agent", "  "),
        Utterance("agent", "How can I help?"),
        Utterance("user", "(unintelligible audio)"),
        Utterance("system", "odd role"),
        Utterance("agent", "Sorry?"),
    ]
    assert chat_messages("Be brief.", transcript) == [
        {"role": "system", "content": "Be brief."},
        {"role": "assistant", "content": "Hello. How can I help?"},
        {"role": "user", "content": "(unintelligible audio) odd role"},
        {"role": "assistant", "content": "Sorry?"},
    ]


def test_empty_transcript_is_just_the_instructions():
    assert chat_messages("Greet the caller.", []) == [
        {"role": "system", "content": "Greet the caller."}
    ]
