"""How a question is asked again: only the question, and a re-ask in one sentence.

A state's line often says more than its question ("Thanks, Dana. What is your date of birth?").
Asked again, after a caller's answer was not understood, after "who is this?" was answered, or
after a value for later was noted, only the question is repeated: :func:`question`. A re-ask
that apologises does so in the same sentence: "Sorry, what should I fix: your name, ...?"
rather than "Sorry, I didn't catch that. No problem. What should I fix...".
"""

from __future__ import annotations

import re

NOT_UNDERSTOOD = "Sorry, I didn't catch that."
GOT_IT = "Got it."
NO_MODEL = "Sorry, I can't help with that on this line."
STILL_THERE = "Are you still there?"
GONE_QUIET = (
    "I haven't heard from you for a while, so I'll end the call. Please call back any time. "
    "Goodbye!"
)
CANNOT_GO_ON = (
    "I'm sorry, I can't get any further on this call. Please call back any time. Goodbye!"
)


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)")
_OPENER = re.compile(r"^(?:and|so|now|okay|ok|great|alright|then)\b,?\s*", re.IGNORECASE)
# First words after which "Sorry, " can start the same sentence in lower case.
_LOWER = frozenset(
    re.findall(
        r"\w+",
        "what which how when where who whose could can would will is are do does did shall "
        "should may please tell let",
    )
)


ACKNOWLEDGEMENT = 4
"""Words before a question that only acknowledge ("Thanks, Dana.", "No problem.")."""


def question(line: str) -> str:
    """The part of ``line`` that asks: from its first question on, after an acknowledgement.

    "Thanks, Dana. What is your date of birth?" is asked again as "What is your date of
    birth?", and "And what time?" as "What time?". A question that needs what comes before it
    ("Let me read that back. ... Is that right?") keeps the whole line.
    """
    sentences = _SENTENCE.split(line.strip())
    for index, sentence in enumerate(sentences):
        if sentence.endswith("?"):
            if len(" ".join(sentences[:index]).split()) > ACKNOWLEDGEMENT:
                return line.strip()
            asked = _OPENER.sub("", " ".join(sentences[index:]))
            return asked[:1].upper() + asked[1:]
    return line.strip()


def reask(asked: str, errors: tuple[str, ...] = ()) -> str:
    """The re-ask of a question ``asked``: why the answer was refused, or one "sorry" sentence.

    ``asked`` is the state's ``reask`` line or its question; a line that apologises already is
    kept as it is.
    """
    asked = asked.strip()
    if errors:
        if asked.lower().startswith("sorry"):  # the author's line apologises already
            return f"{errors[0][:1].upper()}{errors[0][1:]}. {asked}"
        return f"Sorry, {errors[0]}. {asked}".strip()
    if not asked:
        return NOT_UNDERSTOOD
    if asked.lower().startswith("sorry"):
        return asked
    plain = _OPENER.sub("", asked)
    first = plain.split(maxsplit=1)[0].lower() if plain else ""
    if first.strip(",?") in _LOWER:
        return f"Sorry, {plain[0].lower()}{plain[1:]}"
    return f"{NOT_UNDERSTOOD} {asked}"
