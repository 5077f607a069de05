"""Names spelled out letter by letter: "Smyth, S M Y T H", "the last name is spelled K O W ...".

A spelling says how to write a word of the name: the word just before it ("Dana, D A N A") or a
part the caller names ("the last name is spelled ..."). It never replaces the whole name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz

# Letters one by one ("S M Y T H", "S-M-Y-T-H"), maybe after "that's" or "spelled".
_RUN = re.compile(
    r"(?P<intro>\b(?:(?:that's|that is|it's|it is|which is)(?: spel(?:led|t))?|spel(?:led|t)"
    r"(?: as)?|spelling(?: is)?)[\s,:]+)?"
    r"(?P<letters>(?<![\w'\u2019])[a-z]\b(?:(?:[\s,-]+|\s+(?:apostrophe|hyphen|dash)\s+)"
    r"(?<![\w'\u2019])[a-z]\b)+)",
    re.IGNORECASE,
)
# Remarks on a spelling, dropped: "Hannah with an H (at the end)", "Harris with two R's", "Rose,
# like the flower" (a word said to be the word it sounds like, set off by commas).
REMARK = re.compile(
    r"\b(?:with|without) (?:an?|one|two|double|a double) [a-z]\b(?:['\u2019]?s\b)?"
    r"(?: (?:at|on|in) the (?:end|start|beginning|middle|front|back))?"
    r"|(?<=,) ?(?:like|as in) (?:the|a|an) [a-z]+(?=\s*(?:,|$))",
    re.IGNORECASE,
)
# "It's spelled, Smythe, S M Y T H E": the word "spelled" with nothing spelled after it.
_SPELLED_WORD = re.compile(r"\b(?:it's |that's |is )?spel(?:led|t)\b(?![\s,:]+[a-z]\b)", re.I)
_PART = re.compile(
    r"\b(?:(?P<first>first|given)|last|family|sur) ?name(?:'s| is)?(?: spel(?:led|t))?[\s,:]*$",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_][\w'-]*")
_NEAR = 40  # characters before a spelling where the word it spells is looked for


@dataclass(frozen=True)
class Spelled:
    """A word spelled out with no word beside it to spell, and the part of the name it is."""

    word: str
    part: Literal["first", "last", ""] = ""


def spells(text: str) -> bool:
    """Whether ``text`` spells a word out letter by letter ("Nguyen, N G U Y E N")."""
    return any(len(_letters(run["letters"])) > 2 for run in _RUN.finditer(text))


def _letters(run: str) -> str:
    """The word a run of letters spells: "O apostrophe C O N N O R" is "o'connor"."""
    marks = {"apostrophe": "'", "hyphen": "-", "dash": "-"}
    return "".join(marks.get(word, word) for word in re.findall(r"[a-z]+", run.lower()))


def spelled_out(text: str) -> tuple[list[Spelled], str]:
    """The spellings in ``text`` applied to the words they spell, and the text left.

    A spelling right after the word it spells is dropped ("Smyth, S M Y T H"), or corrects
    that word when it is close ("Smith, spelled S M Y T H" -> "Smyth"). One after "the last
    name is spelled" comes back as a :class:`Spelled` of that part; one before the name ("D A
    N A Scully") becomes a word of it.
    """
    text = REMARK.sub(" ", re.sub(r"\b([a-z])\.", r"\1", text, flags=re.IGNORECASE))
    text = _SPELLED_WORD.sub(" ", text)
    floating: list[Spelled] = []
    kept: list[str] = []
    position = 0
    for run in _RUN.finditer(text):
        # "O apostrophe C O N N O R" is "o'connor", "A L dash S A Y E D" "al-sayed".
        letters = _letters(run["letters"])
        before = text[position : run.start()]
        # Only the last words before the letters matter (and a long text stays linear).
        near = max(0, len(before) - _NEAR)
        # The word it spells: the closest of the last few ("Dana Scully, D A N A").
        previous = max(
            _WORD.finditer(before, near),
            key=lambda word: (fuzz.ratio(word[0].lower(), letters), word.start()),
            default=None,
        )
        closeness = fuzz.ratio(previous[0].lower(), letters) if previous is not None else 0
        similar = closeness == 100 or (len(letters) > 2 and closeness >= 60)
        part = _PART.search(before, near)
        if len(letters) < 3 and not (similar or run["intro"] or part):
            continue  # two letters alone are initials ("J R Smith"), not a spelling
        if similar and previous is not None:
            # "Smith, spelled S M Y T H": the word is as spelled ("Kim, K I M" keeps "Kim").
            same = previous[0].lower() == letters
            kept.append(
                before if same else before[: previous.start()] + letters + before[previous.end() :]
            )
        elif part is not None or (run["intro"] and not previous):
            kept.append(before)
            floating.append(Spelled(letters, "first" if part and part["first"] else "last"))
            if part is None:
                floating[-1] = Spelled(letters)
        else:
            kept.append(f"{before}, {letters}, ")  # a word of the name said only letter by letter
        position = run.end()
    kept.append(text[position:])
    return floating, "".join(kept)
