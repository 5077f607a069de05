"""Restarts inside a value read out in groups: "nine eight seven, sorry, nine eight six".

A caller reading a code or a phone number off a card in groups often corrects one group as they
go: they say it again at once, changed, after "sorry", "no" or "wait". The group said again
replaces the one before it, and the rest of the value stands ("D E L, nine eight seven, sorry,
nine eight six, five four three" is DEL986543). Only groups of single characters of the same
length count: "seven thirty, sorry, eight" or "three, no, four" are ordinary corrections, which
:mod:`engine.flow.utterance` reads.
"""

from __future__ import annotations

import re

_DIGIT = r"(?i:\d+|zero|oh|one|two|three|four|five|six|seven|eight|nine|double|triple)"
# A letter alone, not "a" or "I" (an article, the caller).
_LETTER = r"(?<![\w'\u2019])[b-hj-zA-HJ-Z](?![\w'\u2019])"
_TOKEN = rf"(?:{_DIGIT}|{_LETTER})"
_RUN_BEFORE = re.compile(rf"(?<![\w'\u2019]){_TOKEN}(?: {_TOKEN})*$")
_RUN_AFTER = re.compile(rf"{_TOKEN}(?: {_TOKEN})*(?![\w'\u2019])")
_MARKER = re.compile(
    r"(?:\s*,\s*|\s+|\.{2,}\s*)(?:no,? sorry|no,? wait|wait,? no|sorry,? i mean|i mean|sorry"
    r"|no|wait|oops|or rather|rather)[,.]*\s+",
    re.IGNORECASE,
)
_REACH = 60  # characters on either side of a marker where the groups are looked for
_FEWEST = 2  # characters in a group said again (one character alone is an ordinary correction)


def restarted(text: str) -> str:
    """``text`` without each group of characters the caller said again at once, changed."""
    kept: list[str] = []
    position = 0
    for marker in _MARKER.finditer(text):
        if marker.start() < position:
            continue
        window = max(position, marker.start() - _REACH)
        before = _RUN_BEFORE.search(text, window, marker.start())
        after = _RUN_AFTER.match(text, marker.end(), marker.end() + _REACH)
        if before is None or after is None or before[0].lower() == after[0].lower():
            continue
        size = _characters(before[0])
        if size >= _FEWEST and size == _characters(after[0]):
            kept.append(text[position : before.start()])
            position = after.start()
    kept.append(text[position:])
    return "".join(kept)


def _characters(group: str) -> int:
    """How many characters a group says ("double seven" is two, "550" three)."""
    count = 0
    for word in group.lower().split():
        count += len(word) if word.isdigit() else {"double": 1, "triple": 2}.get(word, 1)
    return count
