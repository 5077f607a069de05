"""Names: a person's name inside what a caller says."""

from __future__ import annotations

import re
from datetime import date

from engine.flow.spec import SlotSpec

from .base import BaseSlotType, Parsed

_NAME_CUE = re.compile(r"\b(?:my name is|my name's|name is|this is)\s+", re.IGNORECASE)
_ASKED_NAME_CUE = re.compile(r"\b(?:it's|it is|i'm|i am)\s+", re.IGNORECASE)
_POLITE = re.compile(r"\b(?:please|thanks|thank you)\b", re.IGNORECASE)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FILLERS = _words("oh well so yes yeah yep sure okay ok hi hello hey")
_HESITATION = re.compile(r"h*m+|u+[hm]+|e+r+m*|a+h+", re.IGNORECASE)  # "hmm", "umm", "erm"
# Words no name is made of: they show "I don't know" or "why do you need that" is no name.
_NOT_NAME = _words(
    """a an the and or but of to for from with about at in on by as my your our me i i'm you we
    they he she it it's its this that here there is am are was were be been do does did don't
    doesn't have has had need want like know think calling call what why who how when where which
    not no nope nah yes yeah yep yup sure okay ok correct right wrong fine good great perfect just
    hello hi hey well sorry again speaking booking appointment table reservation"""
)
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
# Three letters or more, so that initials ("J Smith") are not run together.
_SPELLED = re.compile(r"\b[a-z]\b(?:[\s,]+[a-z]\b){2,}", re.IGNORECASE)


def _is_name_word(token: str) -> bool:
    hesitation = _HESITATION.fullmatch(token)
    return bool(_NAME_WORD.fullmatch(token)) and token.lower() not in _NOT_NAME and not hesitation


def _capitalise(word: str) -> str:
    # Mixed case is kept: the transcriber's "McDonald" is better than "Mcdonald".
    if not (word.islower() or word.isupper()):
        return word
    return re.sub(r"[^\W\d_]+", lambda m: m.group().capitalize(), word)


def _name_words(text: str, *, whole: bool) -> list[str]:
    """The name at the start of ``text``; with ``whole`` the entire text must be that name."""
    text = _POLITE.sub(" ", re.sub(r"\b([a-z])\.", r"\1", text, flags=re.IGNORECASE))
    text = _SPELLED.sub(lambda m: re.sub(r"[\s,]", "", m.group()), text)  # "D A N A" -> "DANA"
    tokens = re.findall(r"[\w'-]+" if whole else r"[\w'-]+|[.!?;]", text)
    while tokens and (tokens[0].lower() in _FILLERS or _HESITATION.fullmatch(tokens[0])):
        tokens.pop(0)
    run: list[str] = []
    for token in tokens:
        if not _is_name_word(token):
            if whole:
                return []
            break
        if not run or token.lower() != run[-1].lower():  # "Dana, Dana Scully", "Dana D A N A"
            run.append(token)
    return run if len(run) <= 5 else []


class NameType(BaseSlotType):
    """A person's name, each word capitalised.

    Volunteered only after "my name is" or "this is". When asked, also after "it's" or
    "I'm", or as a bare answer of at most five name-like words: no digits, no function words, no
    yes/no, so "I don't know" or "why do you need that" are not names.
    """

    name = "name"
    format = "the person's name, e.g. Dana Scully"
    invalid = "I didn't catch the name"

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        cue = _NAME_CUE.search(said) or (_ASKED_NAME_CUE.search(said) if asked else None)
        if cue is None and not asked:
            return None
        words = (
            _name_words(said[cue.end() :], whole=False) if cue else _name_words(said, whole=True)
        )
        return Parsed(True, " ".join(map(_capitalise, words))) if words else None
