"""What the model is shown: the platform's transcript mapped to chat messages.

The transcript in each request is the truth of what was said (agent lines as actually spoken,
cut short where the caller barged in). Roles other than ``agent`` are the caller's side, as the
platform's own documentation maps them; consecutive lines of one side are merged and empty lines
dropped, because several providers reject or mishandle repeated roles.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.protocol import Utterance


def chat_messages(system: str, transcript: Iterable[Utterance]) -> list[dict[str, str]]:
    """The chat-completions ``messages`` for ``system`` instructions and a transcript."""
    messages: list[dict[str, str]] = [{"role": "system", "content": system}]
    for utterance in transcript:
        content = utterance.content.strip()
        if not content:
            continue
        role = "assistant" if utterance.role == "agent" else "user"
        last = messages[-1]
        if last["role"] == role:
            last["content"] = f"{last['content']} {content}"
        else:
            messages.append({"role": role, "content": content})
    return messages
