"""Names: a person's name inside what a caller says."""

from __future__ import annotations

import re
from datetime import date

from engine.flow.spec import SlotSpec

from .base import BaseSlotType, Parsed

# Said before a name, volunteered or not ("Book it under Priya Shah").
_NAME_CUE = re.compile(
    r"\b(?:my name is|my name's|the name is|name is|name's|name should be|name would be"
    r"|this is|(?:book|put) (?:it|that|the table|the booking|a table) (?:under|for)"
    r"(?: the name)?(?: of)?|under(?: the name)?(?: of)?)\s+",
    re.IGNORECASE,
)
# Said before a name only as an answer to "what is your name?" ("It's Dana").
_ASKED_NAME_CUE = re.compile(r"\b(?:it's|it is|i'm|i am)\s+", re.IGNORECASE)
# "It's Dr. Ana de la Cruz calling": volunteered with "it's" when the caller says who calls.
_CALLING = re.compile(r"\b(?:it's|it is|i'm|i am)\s+(?=.{2,60}?\b(?:calling|here|speaking)\b)")
_FIRST_LAST = re.compile(
    r"\bfirst name(?: is)? ([\w'-]+),? (?:and )?(?:my )?(?:last|family|sur) ?name(?: is)? "
    r"([\w'-]+)",
    re.IGNORECASE,
)
# "My name is spelled S M Y T H, John Smyth": the spelling, then maybe the whole name.
_SPELLED_AS = re.compile(
    r"\bspel(?:led|lt|ling)?(?: is| it)?\s+((?:[a-z][\s,.-]+){2,}[a-z])\b[\s,.]*", re.IGNORECASE
)
_TITLE = re.compile(
    r"\b(?:dr|doctor|mr|mrs|ms|miss|mx|prof|professor|sir|madam|rev|reverend)\b\.?\s*",
    re.IGNORECASE,
)
_POLITE = re.compile(r"\b(?:please|thanks|thank you)\b", re.IGNORECASE)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PARTICLES = _words("de la del della van von der den da di du le bin ibn al dos das ter")
_FILLERS = _words("oh well so yes yeah yep sure okay ok hi hello hey um uh er erm ah")
_HESITATION = re.compile(r"h*m+|u+[hm]+|e+r+m*|a+h+|huh", re.IGNORECASE)  # "hmm", "umm", "erm"
# Words no name is made of: they show "I don't know", "wait" or "four people" is no name.
_NOT_NAME = _words(
    """a an the and or but of to for from with about at in on by as my your our me i i'm i'd
    i'll i've you we they he she it it's its this that here there is am are was were be been do
    does did don't doesn't have has had need want like know think calling call what why who
    how when where which not no nope nah yes yeah yep yup sure okay ok correct right wrong fine
    good great perfect just hello hi hey well sorry again speaking booking appointment table
    reservation born wait hold hang on sec second moment minute let say said rather spell
    spelled spelt repeat excuse pardon huh can could would should will shall please thanks
    name first last one two three four five six seven eight nine ten eleven twelve dozen
    couple people person us tomorrow today tonight morning evening afternoon night pm am
    o'clock then also only still really actually maybe nothing else anything something
    everything none all thing"""
)
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
# Three letters or more, so that initials ("J Smith") are not run together.
_SPELLED = re.compile(r"\b[a-z]\b(?:[\s,]+[a-z]\b){2,}", re.IGNORECASE)


def _is_name_word(token: str) -> bool:
    hesitation = _HESITATION.fullmatch(token)
    return bool(_NAME_WORD.fullmatch(token)) and token.lower() not in _NOT_NAME and not hesitation


def _capitalise(word: str, first: bool) -> str:
    if word.lower() in _PARTICLES and not first:
        return word.lower()  # "Ana de la Cruz", "Ludwig van Beethoven"
    # Mixed case is kept: the transcriber's "McDonald" is better than "Mcdonald".
    if not (word.islower() or word.isupper()):
        return word
    return re.sub(r"[^\W\d_]+", lambda m: m.group().capitalize(), word)


def _name_words(text: str, *, whole: bool) -> list[str]:
    """The name at the start of ``text``; with ``whole`` it must end where a name can end."""
    text = _TITLE.sub("", _POLITE.sub(" ", text))
    text = re.sub(r"\b([a-z])\.", r"\1", text, flags=re.IGNORECASE)
    text = _SPELLED.sub(lambda m: re.sub(r"[\s,]", "", m.group()), text)  # "D A N A" -> "DANA"
    tokens = re.findall(r"[\w'-]+|[.!?;]", text)
    while tokens and (
        tokens[0].lower() in _FILLERS or _HESITATION.fullmatch(tokens[0]) or tokens[0] in ".!?;"
    ):
        tokens.pop(0)
    run: list[str] = []
    stop = None
    for token in tokens:
        if not _is_name_word(token):
            stop = token
            break
        if not run or token.lower() != run[-1].lower():  # "Dana, Dana Scully", "Dana D A N A"
            run.append(token)
    while run and run[-1].lower() in _PARTICLES:
        run.pop()
    if whole and stop is not None and stop.lower() not in _ENDS_NAME:
        return []
    return run if len(run) <= 5 else []


# What may follow a name in an answer: "Ana Silva, born ...", "Chris Evans and I'm calling".
_ENDS_NAME = _words(
    """. , ! ? ; born and from calling here speaking please with at on for in i i'm my who
    phone number date"""
)


class NameType(BaseSlotType):
    """A person's name, each word capitalised (particles such as "de la" kept small).

    Volunteered only after "my name is", "this is" or "under" ("book it under Priya Shah"), or
    "it's ... calling". When asked, also after "it's" or "I'm", or as the answer itself: at most
    five name-like words (titles such as "Dr." dropped), ending the answer or followed by words
    such as "born" or "and". Fillers, numbers and function words make no name, so "wait", "I
    don't know" or "four people" are none.
    """

    name = "name"
    format = "the person's name, e.g. Dana Scully"
    invalid = "I didn't catch the name"

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        if both := _FIRST_LAST.search(said):
            return self._named([both[1], both[2]])
        if spelled := _SPELLED_AS.search(said):
            letters = re.sub(r"[^a-z]", "", spelled[1].lower())
            after = _name_words(said[spelled.end() :], whole=False)
            if letters in (word.lower() for word in after):
                return self._named(after)
            return self._named([letters])
        cues = [*_NAME_CUE.finditer(said), *_CALLING.finditer(said)]
        if asked:
            cues += _ASKED_NAME_CUE.finditer(said)
        for cue in sorted(cues, key=lambda cue: cue.start()):
            if words := _name_words(said[cue.end() :], whole=False):
                return self._named(words)
        if not asked:
            return None
        # The whole answer is the name; or its first part, before a comma ("Ana Silva, March
        # 3rd 1980", "John Smith, 617 555 0123").
        head, _, rest = said.partition(",")
        if whole := self._named(_name_words(said, whole=True)):
            return whole
        # Not when the rest may be more of the name ("Dana, um, Scully").
        more = (
            rest
            and not re.search(r"\d", rest)
            and all(
                _is_name_word(t) or _HESITATION.fullmatch(t) for t in re.findall(r"[\w'-]+", rest)
            )
        )
        return None if more else self._named(_name_words(head, whole=True))

    @staticmethod
    def _named(words: list[str]) -> Parsed | None:
        if not words:
            return None
        return Parsed(True, " ".join(_capitalise(w, i == 0) for i, w in enumerate(words)))
