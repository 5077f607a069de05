"""A read-back the caller confirms or corrects: the item the caller names, and whether it is wrong.

A read-back state (``read_back: [slots]``) reads values back and waits for a yes. What else the
caller says is one of: a corrected value ("no, it's the 14th": the parsers take it), an item
named as wrong without its value ("the date is wrong"), or a plain "no". This module finds the
item a caller names (:func:`named`) by the words that name a slot: its label, its cues, the
words of its name and of its type ("the date", "my last name", "the phone number"), and tells
whether the words say something is wrong (:func:`says_wrong`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .cues import cues
from .slots import yes_no
from .spec import SlotSpec

_STOP = frozenset(re.findall(r"\w+", "the a an of my your for to is it its and or in on at"))
# Words that name a value of a type, whichever slot holds it ("the spelling" is a name's).
_TYPE_WORDS: Mapping[str, tuple[str, ...]] = {
    "name": ("name", "spelling", "spelled", "spelt", "surname", "last name", "first name"),
    "date": ("date", "day"),
    "time": ("time", "hour"),
    "number": ("number", "how many"),
    "phone": ("phone", "number", "cell", "mobile", "phone number"),
    "email": ("email", "e-mail", "address"),
    "identifier": ("number", "id", "code"),
    "yes_no": (),
    "enum": (),
    "text": (),
}
_WRONG = re.compile(
    r"\b(?:wrong|incorrect|not right|isn't right|is not right|not correct|isn't correct"
    r"|mistake|mistaken|typo|misspel\w*|misheard|off|change|fix|different|not quite)\b",
    re.IGNORECASE,
)
MAX_CHARS = 400  # what one names an item with is short; longer words are an answer


def _phrases(name: str, spec: SlotSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(specific phrases, generic type words) that name slot ``name``."""
    label = spec.spoken_label(name).lower()
    words = [w for w in re.findall(r"[\w-]+", label) if w not in _STOP]
    specific = (label, *cues(name, spec), *(w for w in words if len(w) > 2))
    return tuple(dict.fromkeys(specific)), _TYPE_WORDS.get(spec.type, ())


def _says(text: str, phrase: str) -> bool:
    return re.search(rf"\b{re.escape(phrase)}\w*\b", text) is not None


def named(slots: Mapping[str, SlotSpec], among: Iterable[str], said: str) -> list[str]:
    """The slots of ``among`` the caller's words name, best first (empty: none clearly)."""
    text = said[:MAX_CHARS].lower()
    scores: dict[str, int] = {}
    for name in among:
        specific, generic = _phrases(name, slots[name])
        score = 3 * sum(_says(text, phrase) for phrase in specific)
        score += sum(_says(text, phrase) for phrase in generic)
        if score:
            scores[name] = score
    if not scores:
        return []
    best = max(scores.values())
    top = [name for name, score in scores.items() if score == best]
    return top if len(top) == 1 else []


_COPULA = re.compile(
    r"^\W*(?:is|was|'s|are|were|should (?:be|say|read)|needs to be|has to be|must be)\b\W*",
    re.IGNORECASE,
)
_NEW_VALUE = re.compile(
    r"^\W*(?:(?:it|that|the right one|the correct one)\s*(?:'s|is|should be)|i (?:said|meant)"
    r"|should be|make it|change it to)\b\W*",
    re.IGNORECASE,
)


def value_after(said: str, slots: Mapping[str, SlotSpec], name: str) -> str:
    """The words after the caller names item ``name``: its new value ("the reason is X" -> X).

    Empty when they only say it is wrong ("the street is wrong"): the cue of a correction is
    never a value.
    """
    text = said[:MAX_CHARS]
    specific, generic = _phrases(name, slots[name])
    ends = [
        found.end()
        for phrase in (*specific, *generic)
        if (found := re.search(rf"\b{re.escape(phrase)}\w*\b", text, re.IGNORECASE))
    ]
    if not ends:
        return ""
    rest = _COPULA.sub("", text[min(ends) :])
    wrong = _WRONG.match(rest.lstrip(" ,.")) or re.match(r"\W*(?:not|n't)\b.*", rest)
    if wrong:
        rest = rest.lstrip(" ,.")[wrong.end() :] if _WRONG.match(rest.lstrip(" ,.")) else ""
    rest = _NEW_VALUE.sub("", rest.lstrip(" ,.;:-"))
    return rest.strip(" ,.;:-!?")


def says_wrong(said: str) -> bool:
    """Whether the caller says something read back is wrong ("no", "that's not right")."""
    text = said[:MAX_CHARS]
    return yes_no(text) is False or _WRONG.search(text) is not None
