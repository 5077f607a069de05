"""Free text: the caller's point in their own words, without what other slots took.

When a ``text`` slot is asked, its value is the words no other slot took, without hesitations
inside or around them ("I've got, like, a rash, um, on my arm" -> "I've got a rash on my arm"),
restarts ("my, uh, my annual physical"), politeness, taken-back words or trailing punctuation.
Before it is asked, it takes only the words after one of its cues ("I'm calling about a sore
knee"); after the caller says it is wrong, the words that follow ("the street is wrong, it's 48
Elm Street"); after the caller takes it back, the words that replace it ("not lisinopril, I
meant losartan"). A slot without cues takes a thing named on its own beside another answer
("rx number 5502198, amoxicillin"). The judgement and the cue are never the value.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence

from .slots.fillers import HESITATION, only_fillers
from .slots.names import is_name_word
from .utterance import Segment, pieces, spans, strip_fillers

Taken = Callable[[str], bool]
"""Whether a piece of the utterance says another slot's new value."""

# Where a piece may end before words that say another slot's value ("42 Elm Street on Friday").
_TAIL = re.compile(
    r"\s(?=(?:on|at|around|about|for|with|by|this|next|tomorrow|today|tonight|in|from|like)\b)",
    re.IGNORECASE,
)
_TAILS = 4  # boundaries tried per piece: a bounded number keeps a long piece linear
_UNIT = re.compile(r"(?:apartment|apt|unit|suite|floor|building|flat|room|#)\b", re.IGNORECASE)
# Words that introduce a corrected value, never part of it: "it's 48 Elm Street".
_INTRODUCER = re.compile(
    r"^(?:no,?\s+)?(?:it's|it is|it should be|should be|that's|that is|it was|make it|it's actually"
    r"|actually)\b[\s,]*",
    re.IGNORECASE,
)
_FILLER = rf"(?:{HESITATION}|like|you know|i mean|well|so|basically|sort of|kind of)"
# Words said again after a hesitation: "my, uh, my annual physical", "on my, uh, on my".
_RESTART = re.compile(
    rf"\b((?:[\w']+ ){{0,2}}[\w']+)(?:\s*,\s*(?:{_FILLER}\s*,?\s*)*|\s+(?:{_FILLER}\s*,?\s*)+)"
    r"\1\b",
    re.IGNORECASE,
)
# A filler set off by commas, with the words on either side (a few letters each, so that a long
# utterance costs linear time).
_ASIDE = re.compile(rf"(\S{{0,40}})\s*,\s*{_FILLER}\s*,\s*(\S{{0,40}})", re.IGNORECASE)
_LOOSE = re.compile(rf"(?<=\s){HESITATION}(?:\s*,)?\s+", re.IGNORECASE)
# "Since like six", "for like three days": "like" before an amount only softens it.
_ABOUT = re.compile(
    r"\b(since|for|about|around|every|until|till|from|after|before|at|by|in|over)"
    r"\s+like,?(?=\s+(?:\d|(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven"
    r"|twelve|twenty|thirty|forty|fifty|sixty|a few|a couple|half)\b))",
    re.IGNORECASE,
)
# After ", like," these go on with the phrase before: "I need, like, a physical", "headaches,
# like, every morning"; anything else is a phrase of its own ("really slow, like, dial-up slow").
_DETERMINERS = frozenset(
    re.findall(
        r"\S+",
        """a an the my your his her our their some any this that these those every each all
        once twice one two three four five six seven eight nine ten half""",
    )
)
# A phrase goes on after these: "I've got, like, a rash", "since, like, October".
_GOES_ON = frozenset(
    re.findall(
        r"\S+",
        """a an the my your his her our their of for to with in on at from got have has had is
        was are it's and or but some about since like this that these those into by""",
    )
)
# These carry a phrase on: "a rash, um, on my arm".
_CARRIES_ON = frozenset(
    re.findall(r"\S+", "on in at of for since from to with by about after before until")
)


def answer_point(found: Sequence[Segment], cue: re.Pattern[str] | None, taken: Taken) -> str:
    """The caller's point when asked: what no other slot took, from the last correction on.

    Where one of the slot's cues comes later in the answer, the point starts there ("oh boy,
    it's been a while, I'm here about my knee" is "my knee").
    """
    said = [s for s in found if s.mode != "negated" and not s.question]
    replaced = [i for i, s in enumerate(said) if s.mode == "replace"]
    if replaced and any(_content(s.text, cue, taken) for s in said[replaced[-1] :]):
        said = said[replaced[-1] :]  # "a headache, sorry, I mean a migraine"
    cued = [i for i, s in enumerate(said) if cue is not None and cue.search(s.text)]
    if cued:
        first = said[cued[0]]
        start = _cue_piece(first.text, cue)
        said = [Segment(first.text[start:], first.mode), *said[cued[0] + 1 :]]
    return ", ".join(part for s in said for part in _content(s.text, cue, taken))


_BARE_WORDS = 3  # words in a thing named on its own ("amoxicillin", "the blue inhaler" is not)


def bare_point(found: Sequence[Segment], taken: Taken) -> str:
    """A thing named on its own beside another answer ("rx number 5502198, amoxicillin").

    The one piece no other slot took that is only a few words, each a word a name could be
    made of (no article, pronoun, verb, number, day or filler); "" when there is none or more.
    """
    bare = [
        piece
        for segment in found
        if segment.mode in ("plain", "replace") and not segment.question
        for piece in map(strip_fillers, pieces(segment.text))
        if piece
        and len(words := piece.split()) <= _BARE_WORDS
        and all(is_name_word(word) for word in words)
        and not taken(piece)
    ]
    return bare[0] if len(bare) == 1 else ""


def _cue_piece(text: str, cue: re.Pattern[str] | None) -> int:
    """Where the piece of ``text`` holding the first cue starts."""
    for start, end in spans(text):
        if _opening(text[start:end], cue) is not None:
            return start
    return 0


def cued_point(found: Sequence[Segment], cue: re.Pattern[str] | None, taken: Taken) -> str:
    """The words after one of the slot's cues ("I'm calling about a sore knee"), if any.

    Only the first piece after the cue counts, once hesitations and restarts are out of it
    ("I'm calling about my, um, my results" -> "my results").
    """
    if cue is None:
        return ""
    for segment in found:
        if segment.mode == "negated" or segment.question:
            continue
        for match in cue.finditer(segment.text):
            rest = strip_fillers(_collapse(segment.text[match.end() :]))
            said = pieces(rest)
            # "9 Elm Street, apartment 2": the parts of an address go on past a comma.
            first = ", ".join(said[:1] + list(itertools.takewhile(_UNIT.match, said[1:])))
            first = _untaken(first, taken) if rest else ""
            point = _finish(first) if first and not taken(first) else ""
            if point:
                return point
    return ""


def retold_point(found: Sequence[Segment], cue: re.Pattern[str] | None, taken: Taken) -> str:
    """The new words for free text the caller took back ("not lisinopril, I meant losartan").

    As an answer, without the words that introduce a corrected value ("it's metformin").
    """
    return answer_point([Segment(_INTRODUCER.sub("", s.text), s.mode) for s in found], cue, taken)


def disputed_point(found: Sequence[Segment], dispute: re.Pattern[str], taken: Taken) -> str:
    """The words after the caller says the slot is wrong ("the street is wrong, it's ...")."""
    after: list[str] = []
    for segment in found:
        if after and segment.mode in ("plain", "replace") and not segment.question:
            after.append(segment.text)
        elif not after and (judged := dispute.search(segment.text)):
            after.append(segment.text[judged.end() :])
    for text in after:
        parts = _content(_INTRODUCER.sub("", text.strip(" ,.;:")), None, taken)
        if parts:
            return ", ".join(parts)
    return ""


def _content(text: str, cue: re.Pattern[str] | None, taken: Taken) -> list[str]:
    """The caller's own words in ``text``: runs of pieces no other slot took, as said.

    Hesitations between commas are out first ("it's a, um, Mazda 3" is "it's a Mazda 3").
    """
    text = _collapse(text)
    runs: list[str] = []
    run: tuple[int, int] | None = None
    for start, end in [*spans(text), (len(text), len(text))]:
        piece = text[start:end]
        # "I'm calling about a sore knee"; a cue that ends the piece is part of the point
        # ("42 Elm Street" for an address cued by "street").
        opening = _opening(piece, cue)
        if opening is not None:
            start += opening.end()
        # After a cue the point may run into another value ("pick the car up at 2100 Pine
        # Street around 8"); without one, a piece that says another value is no point ("I was
        # born on June 4th 1972").
        body = text[start:end] if end > start else ""
        kept = _untaken(body, taken) if opening is not None else body
        if kept.strip() and not taken(kept):
            end = start + len(kept)
            if strip_fillers(kept):
                run = (run[0] if run else start, end)
            continue  # hesitations before the point: "um, well, it's my knee"
        if run is not None:
            # What another slot took, or the end, closes a run of the caller's own words.
            point = _finish(text[run[0] : run[1]])
            if point:
                runs.append(point)
            run = None
    return runs


def _opening(piece: str, cue: re.Pattern[str] | None) -> re.Match[str] | None:
    """The first cue in ``piece`` with words after it (a cue ending the piece is part of it)."""
    if cue is None:
        return None
    found = list(cue.finditer(piece))
    opening = next((m for m in found if piece[m.end() :].strip(" ,.!?")), None)
    if opening is None and found and not strip_fillers(piece[: found[0].start()]):
        return found[0]  # the piece is only the cue: "the reason is, let me think, headaches"
    return opening


def _untaken(piece: str, taken: Taken) -> str:
    """``piece`` up to the words that say another slot's value ("42 Elm Street on Friday")."""
    for count, boundary in enumerate(_TAIL.finditer(piece)):
        if count == _TAILS:
            break
        if taken(piece[boundary.end() :]):
            return piece[: boundary.start()]
    return piece


def _collapse(text: str) -> str:
    """``text`` without restarts and hesitations inside it, its commas kept where they part."""
    text = _RESTART.sub(r"\1", text)
    for _ in range(2):  # twice: asides one word apart share that word ("a, um, 2012, uh, Honda")
        text = _ASIDE.sub(_join, text)
    return _ABOUT.sub(r"\1", _LOOSE.sub("", text))


def _finish(text: str) -> str:
    """The point tidied: no fillers around it, no cue before a number; "" for no point."""
    if only_fillers(text):
        return ""
    text = strip_fillers(_collapse(text))
    text = re.sub(r"^(?:it's|it is)\s+(?=\d)", "", text, flags=re.IGNORECASE)  # "it's 5 Rose Ct"
    text = " ".join(text.split())
    return "" if only_fillers(text) else strip_fillers(text)


def _join(found: re.Match[str]) -> str:
    """Two sides of a filler set off by commas: one phrase ("a rash on my arm"), or two."""
    before, after = found[1], found[2]
    like = re.search(r",\s*like\s*,", found[0], re.IGNORECASE)
    one_phrase = (
        before.lower().strip(",") in _GOES_ON
        or (like and (after.lower() in _DETERMINERS or after.isdigit()))
        or after.lower() in _CARRIES_ON
        or before.isdigit()  # "a 2012, uh, Honda Accord"
    )
    return f"{before} {after}" if one_phrase else f"{before}, {after}"
