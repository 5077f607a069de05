"""A caller's utterance in pieces: what is said plainly, taken back, corrected or only hesitated.

Callers correct themselves as they speak ("five thirty, sorry, I mean nine"), take values back
("March fourth, not third"), offer alternatives ("six or seven") and fill silence ("um, hold
on"). Before any slot type reads the words, the utterance is cut into :class:`Segment` items at
those markers and at sentence ends, each with its :data:`Mode`; commas and "and" only cut a
segment into finer :func:`pieces` where that is needed to tell two values apart or to find the
caller's point. Everything here is pure text work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .slots.fillers import INTERJECTIONS, THINKING

Mode = Literal["plain", "replace", "negated", "alternative"]
"""How a segment relates to what came before it.

``replace``: it follows a correction ("I mean", "actually", "make that"): its value wins.
``negated``: it follows "not" or "instead of": the caller does not mean this value.
``alternative``: it follows "or": one of two values, neither settled.
"""


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the utterance between two markers."""

    text: str
    mode: Mode = "plain"

    @property
    def question(self) -> bool:
        """Whether it asks something of the agent ("what time do you close today?").

        Values in such a question are the caller's topic, not an answer ("how about Friday" and
        "can you do 7?" are proposals, and count).
        """
        return bool(_QUESTION.match(strip_fillers(self.text)))

    def after_question(self) -> Segment | None:
        """What follows the question in the same breath, as its own segment, if anything.

        "Where is it, okay, 3 3 9 8 1 0 2": the caller asks themself, then answers.
        """
        for start, end in spans(self.text):
            if strip_fillers(self.text[start:end]):
                rest = Segment(_tidy(self.text[end:]), self.mode)
                return rest if rest.text and not rest.question else None
        return None


# Nothing more in the clause: "... make it anymore."
_CLAUSE_END = r"(?: (?:anymore|any more|after all|now))?(?=\s*(?:[,.;!?]|$))"
_ABSENT = rf" (?:make it|come|join(?: us)?|be there){_CLAUSE_END}"
_ABBREVIATION = r"(?<!\b[A-Za-z])(?<!\b(?:dr|mr|ms|st|jr|sr))(?<!\b(?:mrs))(?<!\bprof)"
_CORRECTION = (
    r"sorry,? (?:i mean[t]?|i said)|(?:no|oh),? i mean[t]?|i mean[t]?|i meant|actually"
    r"|(?<=, )no,? sorry"
    # "make it" with no value after it is "make it there" ("one of us can't make it")
    rf"|no,? wait|wait,? no|make (?:that|it)(?!{_CLAUSE_END})"
    r"|change (?:that|it|the \w+)(?: to)?|or rather|rather"
    r"|scratch that|let me correct(?: that)?|correction"
)
_MARKERS = re.compile(
    # Sentence ends (not "Dr." or "a.m."). The lookahead comes first so that the lookbehinds
    # are tried only before a stop, not at every character (half of this pattern's time).
    rf"(?=[.!?;]){_ABBREVIATION}(?:\.{{2,}}|[.!?;](?=\s|$))"
    r"|\s[-\u2013\u2014]+\s"  # a dash between words
    rf"|(?P<replace>\b(?:{_CORRECTION})\b)"
    # "no, four", "the twelfth, no the thirteenth": a fresh start, but not a correction
    r"|(?P<plain>\b(?:no|sorry)(?=, )|(?<=, )no\b(?= (?!problem|worries|idea|thanks)\w))"
    # "One of us can't make it": a negated verb with nothing after it takes no value back.
    # "Not even my phone" stresses what follows, it takes nothing back.
    rf"|(?P<negated>\b(?:not|isn't|wasn't|aren't|instead of|can't|cannot)\b(?!{_ABSENT})"
    r"(?! (?:even|only|just)\b))"
    # "ten minutes or so", "a rattle or something": a guess at the size, no second value.
    r"|(?P<alternative>\bor\b(?! (?:so|something|whatever|anything)\b))",
    re.IGNORECASE,
)
_QUESTION = re.compile(
    r"(?:what|when|where|why|which|who|how)(?:'s| is| are| do| does| did| time| times| late"
    r"| early| long| many| much| can| should| would| kinds? of| sorts? of| types? of)\b"
    r"|(?:what|sorry|pardon)\W*$",
    re.IGNORECASE,
)
# "Not" ends at the next comma: "not 7, 8" takes back 7 and means 8.
# A comma inside a number ("90,000") parts nothing.
_SOFT = re.compile(
    r"\s*(?:[;:]|(?<!\d),|,(?!\d{3}\b))\s*(?:(?:and|but|plus|also)\s+)?"
    r"|\s+(?:and|but|plus|also)\s+",
    re.IGNORECASE,
)


# A day or time refused after it is said: "Saturday's no good", "the 5th won't work for me".
_REFUSED = re.compile(
    r"\b(?P<day>(?:this |next |the )?(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|tomorrow|today"
    r"|tonight|\d{1,2}(?:st|nd|rd|th)|\d{1,2}(?::\d\d)?(?: ?[ap]\.?m\.?| o'clock)?))"
    r"(?:'s| is)? (?:no good|not good|out|(?:doesn't|does not|won't|will not|isn't going to"
    r"|is not going to|not going to) work)(?: for (?:me|us))?\b",
    re.IGNORECASE,
)
# Every refusal above ends in one of these words: a line without them (most) costs one quick
# search, not the day pattern tried at every word.
_REFUSAL_END = re.compile(r"\b(?:good|out|work)\b", re.IGNORECASE)
# "No, it's ..." at the start disputes what the agent just read back.
_CORRECTIVE = re.compile(
    r"\binstead\b|\bwrong\b|\bmistake\b|^(?:(?:uh|um|oh),? )?no\b(?!,? (?:problem|worries))",
    re.IGNORECASE,
)


def corrective(found: list[Segment], disputed: bool) -> bool:
    """Whether the caller is correcting something: a correction, a "not", or "instead".

    ``disputed`` is :func:`disputes` of the same words (asked once a turn).
    """
    return disputed or any(s.mode in ("replace", "negated") for s in found)


# The caller's own verb, negated: "I'm not", "I can't", "we aren't".
_STATEMENT = re.compile(
    r"\b(?:i|i'm|i am|we|we're|we are|i was|we were|i've|i have|i do|i did|i could|i just)\s+$",
    re.IGNORECASE,
)


def disputes(text: str) -> bool:
    """Whether the caller says something is wrong ("that's wrong", "no, it's ...", "instead")."""
    return bool(_CORRECTIVE.search(text))


def segments(text: str, *, statements: bool = False) -> list[Segment]:
    """``text`` cut at corrections, negations, alternatives and sentence ends, in order.

    A negation covers only the words up to the next comma; empty stretches are dropped, and a
    correction right after "or" ("or actually") is a correction. With ``statements``, a
    negation of the caller's own verb ("I'm not feeling well", "I can't sleep") stays inside its
    words: it takes back no value, it says something (what free text keeps).
    """
    text = _refusals_taken_back(text)
    return _cut(text, list(_MARKERS.finditer(text)), statements)


def segments_and_statements(text: str) -> tuple[list[Segment], list[Segment]]:
    """:func:`segments` of ``text``, and with ``statements``: its markers are found once."""
    text = _refusals_taken_back(text)
    markers = list(_MARKERS.finditer(text))
    return _cut(text, markers, False), _cut(text, markers, True)


def _refusals_taken_back(text: str) -> str:
    """Read "Saturday's no good" as "not Saturday,": the day is taken back."""
    if _REFUSAL_END.search(text) is None:
        return text
    return _REFUSED.sub(r"not \g<day>,", text)


def _cut(text: str, markers: list[re.Match[str]], statements: bool) -> list[Segment]:
    found: list[Segment] = []
    mode: Mode = "plain"
    position = 0
    for marker in markers:
        if (
            statements
            and marker.lastgroup == "negated"
            and _STATEMENT.search(text, 0, marker.start())
        ) or _pause_in_number(text, marker):
            continue
        _add(found, text[position : marker.start()], mode)
        position = marker.end()
        if marker.lastgroup is not None:
            # "or actually" corrects; a marker with nothing before it keeps the stronger mode.
            pending = found[-1].mode if found and not found[-1].text else None
            mode = marker.lastgroup  # type: ignore[assignment]
            if mode == "plain" and _restated(text, position, marker):
                mode = "replace"
            if pending == "alternative" and mode == "replace":
                found.pop()
        else:
            mode = "plain"
    _add(found, text[position:], mode)
    return [segment for segment in found if segment.text]


_WORDS_BEFORE = re.compile(r"(?:^|,)\s*([\w'-]+)((?:\s+[\w'-]+){0,2})\s*,?\s*$")
_RESTATE_REACH = 40  # characters before "sorry" where the words it takes back are looked for


def _restated(text: str, end: int, marker: re.Match[str]) -> bool:
    """Whether "sorry" parts a few words from the same words said another way.

    "The router, sorry, the modem": what follows starts as what went before did, so it
    replaces it; "a cough, sorry, and a fever" adds to it.
    """
    if not marker[0].lower().startswith("sorry"):
        return False
    before = _WORDS_BEFORE.search(text, max(0, marker.start() - _RESTATE_REACH), marker.start())
    after = re.match(r"[\s,]*([\w'-]+)\s+\w", text[marker.end() : marker.end() + _RESTATE_REACH])
    return (
        before is not None
        and after is not None
        and before[2] != ""
        and before[1].lower() == after[1].lower()
    )


_NUMBER_WORD = (
    r"(?:\d|\b(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|teen"
    r"|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|double|triple)\w*)"
)
_ENDS_IN_NUMBER = re.compile(rf"{_NUMBER_WORD}$", re.IGNORECASE)
_STARTS_WITH_NUMBER = re.compile(rf"\s*{_NUMBER_WORD}", re.IGNORECASE)
_NUMBER_REACH = 12  # characters before a pause where the number it follows is looked for


def _pause_in_number(text: str, marker: re.Match[str]) -> bool:
    """Whether ``marker`` is "..." between two numbers: a pause inside one value.

    "Nine one seven... five five five... zero four four eight" is one phone number.
    """
    if not marker[0].startswith(".."):
        return False
    before = _ENDS_IN_NUMBER.search(text, max(0, marker.start() - _NUMBER_REACH), marker.start())
    return before is not None and _STARTS_WITH_NUMBER.match(text, marker.end()) is not None


def _add(found: list[Segment], text: str, mode: Mode) -> None:
    if mode != "negated":
        found.append(Segment(_tidy(text), mode))
        return
    # Only the words up to the next comma are taken back, or up to "but" ("not Friday but
    # Saturday"); the rest is said plainly.
    head, *rest = re.split(r"\s*,\s*|\s+but\s+", text.strip(" ,"), maxsplit=1)
    found.append(Segment(_tidy(head), "negated"))
    if rest:
        found.append(Segment(_tidy(rest[0]), "plain"))


def _tidy(text: str) -> str:
    return " ".join(text.strip(" ,;:").split())


def pieces(text: str) -> list[str]:
    """``text`` cut at commas and joining words ("and", "but"): the caller's separate points."""
    return [text[start:end] for start, end in spans(text)]


def spans(text: str) -> list[tuple[int, int]]:
    """Where each of :func:`pieces` lies in ``text`` (start, end), in order."""
    found = []
    position = 0
    for separator in [*_SOFT.finditer(text), None]:
        end = separator.start() if separator else len(text)
        piece = text[position:end]
        stripped = piece.strip(" ,;:")
        if stripped:
            start = position + piece.index(stripped)
            found.append((start, start + len(stripped)))
        position = separator.end() if separator else len(text)
    return found


# The words after an answer's "no" ("no, it's ...", "no I don't", "no thanks"); before anything
# else "no" says there is none of it ("no TV and no internet").
_AFTER_NO = (
    r"i|i'm|i've|i'd|i'll|it|it's|we|we're|we've|he|he's|she|she's|they|they're|you|you're"
    r"|that|that's|this|there|there's|thanks|thank|sorry|not|wait|actually|but|just|so|well"
    r"|okay|ok|no|nope|problem|worries|way|sir|ma'am|dear"
)
_FILLER_PHRASE = re.compile(
    rf"^(?:(?:{INTERJECTIONS}|{THINKING}|um+|uh+|er+m?|ah+|hm+|mm+|oh|well|so|like|okay|ok"
    rf"|alright|yes|yeah|yep|no(?=\s*[,.!?]|\s*$|\s+(?:{_AFTER_NO})\b)|nope|please|sorry|hi"
    r"|hello|hey|wait|hold on|hang on"
    r"|one sec(?:ond)?|(?:just )?a (?:sec(?:ond)?|moment|minute)|let me (?:think|see|check)"
    r"|you know|i guess|basically|anyway|then|thanks|thank you|(?:that's |that is |it's )?wrong"
    r"|incorrect|(?:that's )?correct(?=[,.]))\b[\s,.!?]*)+",
    re.IGNORECASE,
)
_TRAILING_REACH = 200
_TRAILING = re.compile(
    r"(?:[\s,]+(?:please|thanks|thank you|you know|then|for now))+[\s.!?]*$"
    r"|[\s.!?,;:]+$",
    re.IGNORECASE,
)


def strip_fillers(text: str) -> str:
    """``text`` without leading hesitations and yes/no words, and without trailing politeness.

    ``"um, well, it's my knee."`` -> ``"it's my knee"``; a text of only fillers -> ``""``.
    """
    text = _FILLER_PHRASE.sub("", text.strip())
    # Trailing politeness is short: it is looked for in the last few words only, so that a
    # long utterance costs linear time.
    end = len(text)
    while end:
        start = max(0, end - _TRAILING_REACH)
        found = _TRAILING.search(text, start, end)
        if found is None or found.start() == found.end():
            break
        end = found.start()
    return text[:end].strip()
