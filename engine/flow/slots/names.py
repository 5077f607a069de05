"""Names: a person's name inside what a caller says."""

from __future__ import annotations

import calendar
import re
from datetime import date

from rapidfuzz import fuzz

from engine.flow.spec import SlotSpec

from .base import BaseSlotType, Parsed
from .fillers import HESITATION, drop_asides
from .heads import RELATION
from .spelled import REMARK, Spelled, spelled_out, spells
from .spelling import as_letters
from .world import pet_named

# Said before a name, volunteered or not ("Book it under Priya Shah").
_NAME_CUE = re.compile(
    r"\b(?:my name is|my name's|the name is|name is|name's|name should be|name would be"
    r"|(?:his|her|their) name(?: is|'s)"
    r"|(?:my )?(?:first |last |family |sur ?)name(?:'s| is)?|surname(?:'s| is)?"
    r"|this is(?: for)?|(?:i'm |i am )?calling for|(?:the )?(?:refill|prescription|appointment"
    r"|booking|reservation) is for"
    r"|(?:book|put) (?:it|that|the table|the booking|a table) (?:under|for)(?: the name)?(?: of)?"
    r"|under(?: the name)?(?: of)?)[\s,]+",
    re.IGNORECASE,
)
# Who the person is, said before their name: "it's for my mother, Dolores Whitaker", "my
# husband's name, Tom Reilly".
_RELATION_CUE = re.compile(
    rf"\b(?:my|our) (?:{RELATION})(?:['\u2019]s(?: name)?)?(?:,| is| named| called)[\s,]+",
    re.IGNORECASE,
)
# Said before a name only as an answer to "what is your name?" ("It's Dana").
_ASKED_NAME_CUE = re.compile(
    r"(?:\b(?:it's|it is|i'm|i am|(?:it |that )?should be)|(?:^|\b(?:you can|just|please) )call me)"
    r"[\s,]+",
    re.IGNORECASE,
)
# "It's Dr. Ana de la Cruz calling": volunteered with "it's" when the caller says who calls.
_CALLING = re.compile(r"\b(?:it's|it is|i'm|i am)\s+(?=.{2,60}?\b(?:calling|here|speaking)\b)")
# "The name is wrong, it's Jane Doe": after a name is disputed, "it's" introduces the new one.
_CORRECTED = re.compile(
    r"\bname (?:is|was|'s) (?:wrong|not right|incorrect)[\s,.]+(?:it's|it is|it should be"
    r"|should be|make it)\s+",
    re.IGNORECASE,
)
# "Saturday, seven-ish, it's Rossi", "I'm calling to book, I'm Grace Liu": a capitalised
# name rounding off what a caller volunteers (not "It's Dana" alone, said to another question).
_LATE_ITS = re.compile(r"(?:(?<=[,.] )|(?<=[,.] and ))(?i:it's|it is|i'm|i am)\s+(?=[A-Z])")
_FIRST_LAST = re.compile(
    r"\bfirst name(?:'s| is)? ([\w'-]+)[\s,]+(?:and )?(?:my )?(?:last|family|sur) ?name"
    r"(?:'s| is)? ([\w'-]+)",
    re.IGNORECASE,
)
_LAST_FIRST = re.compile(
    r"\b(?:last|family|sur) ?name(?:'s| is)? ([\w'-]+)[\s,]+(?:and )?(?:my )?first name"
    r"(?:'s| is)? ([\w'-]+)",
    re.IGNORECASE,
)
# A nickname beside the legal name: "Robert Jones, but everyone calls me Bob", "Kate for short".
_NICKNAME = re.compile(
    r"(?:,\s*|\s+)?(?:but |and |though |although )?(?:(?:everyone|everybody|people|most people"
    r"|my friends|friends"
    r"|folks|they all|you can|just) (?:calls?|call) me|i go by|i'm known as"
    r"|\b[\w'-]+ to (?:my )?(?:friends|family|everyone|everybody)"
    r"|(?:my )?nickname(?:'s| is)) [\w'-]+|(?:,\s*|\s+)[\w'-]+ for short\b",
    re.IGNORECASE,
)
_TITLE = re.compile(
    r"\b(?:dr|doctor|mr|mrs|ms|miss|mx|prof|professor|sir|madam|rev|reverend)\b\.?\s*",
    re.IGNORECASE,
)
_POLITE = re.compile(r"\b(?:please|thanks|thank you)\b", re.IGNORECASE)
# A name is a few words: past this many characters after a cue, nothing more is read, so that
# an utterance of many cues ("my name is my name is ...") costs linear time.
_REACH = 160
_PET_REACH = 40  # characters before a cue where an animal's "'s" is looked for


_MOST_SAID = 12  # name words said in a row, restarts included ("Dana, Dana Scully")
_NEXT_WORD = re.compile(r"[\s,]{0,4}([\w'\u2019-]+)")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PARTICLES = _words("de la del della van von der den da di du le bin ibn al dos das ter")
_FILLERS = _words("oh well so yes yeah yep sure okay ok hi hello hey um uh er erm ah sorry")
_HESITATION = re.compile(HESITATION, re.IGNORECASE)
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
    everything none all thing under over surname nickname phone number cell mobile email
    address street birthday dob member id policy prescription card insurance patient zero
    thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty
    sixty seventy eighty ninety hundred thousand million monday tuesday wednesday
    thursday friday saturday sunday gosh golly geez jeez jeepers whoa woah wow oops whoops ugh
    argh yikes dang darn phew ahem aha haha mhm hmm grief goodness christmas thanksgiving
    easter weekend march third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth
    thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth
    thirtieth date birth though although probably perhaps possibly usually normally honestly
    literally definitely certainly likely obviously mostly noon midnight midday yesterday
    asking saying telling talking wondering coming going getting waiting trying looking
    checking helping driving doing making having being taking sitting standing shouting
    yelling listening watching needing wanting thinking his her hers him their them already
    new existing regular patient there pretty very quite super kinda sorta fairly extremely"""
)
# Months are names too ("April", "June"), but not when only "it's" introduces them.
_MONTHS = frozenset(month.lower() for month in calendar.month_name[1:])
# Contractions are never names ("that's", "we'll", "can't"); "O'Neil" is.
_CONTRACTION = re.compile(r"[\w]+['\u2019](?:re|ve|ll|d|m|t)|\w+n['\u2019]t", re.IGNORECASE)
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")


def is_name_word(token: str) -> bool:
    """Whether ``token`` could be a word of a name: no function word, number, day or filler."""
    lower = token.lower()
    if _CONTRACTION.fullmatch(lower) or _HESITATION.fullmatch(token):
        return False
    if lower.endswith(("'s", "\u2019s")) and lower[:-2] in _NOT_NAME:
        return False  # "that's", "surname's"; not "O'Neil"
    # "Anne-Marie" is a name, "forty-four" is not: each part of a hyphenated word counts.
    return bool(_NAME_WORD.fullmatch(token)) and _NOT_NAME.isdisjoint([lower, *lower.split("-")])


def _capitalise(word: str, first: bool) -> str:
    if word.lower() in _PARTICLES and not first:
        return word.lower()  # "Ana de la Cruz", "Ludwig van Beethoven"
    # Mixed case is kept: the transcriber's "McDonald" is better than "Mcdonald".
    if not (word.islower() or word.isupper()):
        return word
    return re.sub(r"[^\W\d_]+", lambda m: m.group().capitalize(), word)


def _name_words(text: str, *, whole: bool) -> list[str]:
    """The name at the start of ``text``; with ``whole`` it must end where a name can end.

    Hesitations inside are skipped ("Dana, um, Scully"); a part said again in full is said once
    ("Dana, Dana Scully", "Fernandez, Luis Fernandez").
    """
    text = _TITLE.sub("", _POLITE.sub(" ", text))
    text = re.sub(r"\b([a-z])\.", r"\1", text, flags=re.IGNORECASE)
    tokens = re.findall(r"[\w'\u2019-]+|[.!?;,]", text)
    first = next(
        (
            index
            for index, token in enumerate(tokens)
            if not (token.lower() in _FILLERS or _HESITATION.fullmatch(token) or token in ".!?;,")
        ),
        len(tokens),
    )
    chunks: list[list[str]] = [[]]
    paused: set[int] = set()  # chunks after a hesitation: the name goes on ("Dana, um, Scully")
    stop = None
    past_comma = False
    words = 0
    for token in tokens[first:]:
        if token == ",":
            chunks.append([])
            continue
        if _HESITATION.fullmatch(token):
            if not chunks[-1]:
                paused.add(len(chunks) - 1)
            continue
        if not is_name_word(token):
            stop = token
            # A word after a comma is past the name: "William Hart, that's what's on my card".
            past_comma = not chunks[-1] and len(chunks) > 1
            break
        chunks[-1].append(token)
        words += 1
        if words > _MOST_SAID:
            return []  # no name is this long, even said twice
    # A word said after a whole name and a comma is something else: "Ray Dunn, lisinopril".
    for index in range(1, len(chunks)):
        said = [word for chunk in chunks[:index] for word in chunk]
        new = chunks[index] and not _within(said, chunks[index])
        if len(said) > 1 and new and index not in paused:
            chunks = chunks[:index]
            break
    chunks = [chunk for chunk in chunks if chunk]
    # A part the caller says again inside a later, fuller part: "Dana, Dana Scully".
    chunks = [
        chunk
        for index, chunk in enumerate(chunks)
        if not any(_within(chunk, later) for later in chunks[index + 1 :])
    ]
    run = [word for chunk in chunks for word in chunk]
    run = [word for i, word in enumerate(run) if i == 0 or word.lower() != run[i - 1].lower()]
    while run and run[-1].lower() in _PARTICLES:
        run.pop()
    ended = past_comma and len(run) > 1  # a first and a last name, then something else
    if whole and stop is not None and stop.lower() not in _ENDS_NAME and not ended:
        return []
    return run if len(run) <= 5 else []


# "Bill, well, William Hart": a name word or two, then "well" between commas, then the name.
_RESTATED = re.compile(r"(?:^|(?<=[,.] ))([\w'-]+(?: [\w'-]+)?),\s*well,\s*(?=\w)", re.IGNORECASE)


def _restated(said: str) -> str:
    """``said`` from the name said again after "well" ("Bill, well, William, William Hart")."""
    found = _RESTATED.search(said[:_REACH])
    if found is None or not all(is_name_word(word) for word in found[1].split()):
        return said
    return said[found.end() :]


def _within(part: list[str], whole: list[str]) -> bool:
    said = [word.lower() for word in whole]
    return all(word.lower() in said for word in part)


# What may follow a name in an answer: "Ana Silva, born ...", "Chris Evans and I'm calling".
_ENDS_NAME = _words(
    """. , ! ? ; born and from calling here speaking please with at on for in i i'm my who
    phone number date but"""
)
# Says which part of a name a spelling or a correction is of.
_PART = re.compile(r"\b(?:(first|given)|(last|family|sur) ?)name\b", re.IGNORECASE)


class NameType(BaseSlotType):
    """A person's name, each word capitalised (particles such as "de la" kept small).

    Volunteered only after "my name is", "this is" or "under" ("book it under Priya Shah"),
    who the person is ("it's for my mother, Dolores Whitaker"), "it's ... calling", or a
    capitalised "it's Rossi" ending the utterance. When asked, also after "it's" or "I'm", or as
    the answer itself: at most five name-like words (titles such as "Dr." dropped), ending the
    answer or followed by words such as "born" or "and".
    Interjections, fillers, numbers and function words make no name, so "oh boy", "wait", "I
    don't know" or "four people" are none. Letters spelled out spell the word they follow
    ("Smyth, S M Y T H"); a nickname beside the legal name is left out ("Robert Jones, but
    everyone calls me Bob"); one part said with the other named joins it ("Chen, C H E N,
    first name Wei"). ``amend`` changes one part of a known name ("the last name is spelled K O
    W A L S K I"), or takes a name said again with how it is spelled ("Katherine with a K").
    """

    name = "name"
    format = "the person's name, e.g. Dana Scully"
    invalid = "I didn't catch the name"
    parts = _PART
    changes = REMARK  # "Katherine with a K" respells the name held
    # Asked again, one word of a name is a part of the one held ("it's Nguyen, N G U Y E N").
    amends_when_asked = True

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        said = _restated(said)
        spelled, said = spelled_out(as_letters(drop_asides(said)))
        words = self._words(said, asked)
        if words is None:
            return None
        return self._named(_spell(words, spelled))

    def _words(self, said: str, asked: bool) -> list[str] | None:
        """The name's words as said (before spellings are applied); None for no name."""
        words = self._said_words(said, asked)
        return _with_other_part(said, words) if words and len(words) == 1 else words

    def _said_words(self, said: str, asked: bool) -> list[str] | None:
        if both := _FIRST_LAST.search(said):
            return [both[1], both[2]]
        if both := _LAST_FIRST.search(said):
            return [both[2], both[1]]
        plain = _NICKNAME.sub("", said)
        found = self._cued(plain, asked) or self._cued(said, asked)
        if found or not asked:
            return found
        # The whole answer is the name; or its first part, before a comma ("Ana Silva, March
        # 3rd 1980", "John Smith, 617 555 0123").
        for text in (plain, said):
            if words := _name_words(text, whole=True):
                return words
        head, _, rest = plain.partition(",")
        # Not when the rest may be more of the name ("Dana, um, Scully").
        more = (
            rest
            and not re.search(r"\d", rest)
            and all(
                is_name_word(t) or _HESITATION.fullmatch(t) for t in re.findall(r"[\w'-]+", rest)
            )
        )
        return None if more else _name_words(head, whole=True) or found

    @staticmethod
    def _cued(said: str, asked: bool) -> list[str] | None:
        cues = [
            *_NAME_CUE.finditer(said),
            *_CALLING.finditer(said),
            *_CORRECTED.finditer(said),
            *_RELATION_CUE.finditer(said),
        ]
        if asked:
            # "Jane Roe, born June 4th 1972, I'm allergic to penicillin": after a whole name
            # opens the answer, "I'm" or "it's" says something else.
            opening = _name_words(said[:_REACH].partition(",")[0], whole=True)
            if len(opening) < 2 or "," not in said:
                cues += _ASKED_NAME_CUE.finditer(said)
        for cue in sorted(cues, key=lambda cue: cue.start()):
            if pet_named().search(said, max(0, cue.start() - _PET_REACH), cue.start()):
                continue  # "my parakeet's name is Disney" names the pet, not the caller
            after = _NEXT_WORD.match(said, cue.end())
            if after is not None and after[1].lower() in _NOT_NAME - _FILLERS:
                continue  # "my name is my name is ...": no name after this cue
            if words := _name_words(said[cue.end() : cue.end() + _REACH], whole=False):
                return words
        if cues and not said[max(cue.end() for cue in cues) :].strip(" ,.!?"):
            return []  # "my name is spelled S M Y T H": the spelling is the name
        if not asked:
            for cue in _LATE_ITS.finditer(said):
                words = _name_words(said[cue.end() : cue.end() + _REACH], whole=True)
                # "I'm Hungry" says how the caller is: after "I'm", a first and a last name.
                fewest = 2 if cue[0].lower().startswith(("i'm", "i am")) else 1
                capitalised = all(w[0].isupper() and w.lower() not in _MONTHS for w in words)
                if len(words) >= fewest and capitalised:
                    return words
        return None

    def amend(self, text: str, spec: SlotSpec, today: date, base: object) -> Parsed | None:
        """``base`` with the part ``text`` names changed: a spelling, or a first or last name."""
        if not isinstance(base, str) or not base.split():
            return None
        part = _PART.search(text)
        spelled, said = spelled_out(as_letters(drop_asides(text)))
        words = self._words(said, asked=True) or []
        if len(words) > 1:
            # "Katherine with a K, Katherine Osei": a name said again with how it is spelled.
            respelled = spelled or part or REMARK.search(text)
            return self._named(_spell(words, spelled)) if respelled else None
        new = spelled[-1].word if spelled else words[0] if words else ""
        known = base.split()
        if not new or new.lower() in (word.lower() for word in known):
            return None
        closest = max(range(len(known)), key=lambda i: fuzz.ratio(known[i].lower(), new.lower()))
        if part and len(known) > 1:
            index = 0 if part[1] else len(known) - 1
        elif spelled or spells(text) or fuzz.ratio(known[closest].lower(), new.lower()) >= 60:
            # "Sarah with an H" for "Sara Connor": the word it respells; "it's Nguyen, N G U Y
            # E N" for "Tanya Wynn": a word spelled out is the part of the name it sounds like.
            index = closest
        else:
            return None  # a whole new name is read by extract, not here
        return self._named([*known[:index], new, *known[index + 1 :]])

    @staticmethod
    def _named(words: list[str]) -> Parsed | None:
        if not words:
            return None
        return Parsed(True, " ".join(_capitalise(w, i == 0) for i, w in enumerate(words)))


# The other part of a name, said after one word of it: "Chen, C H E N, first name Wei".
# "... that's the last name, and the first is Jordan": "name" goes without saying.
_OTHER_PART = re.compile(
    r"\b(?:(?P<first>first|given)|last|family|sur)(?: ?name(?:'s| is)?| one(?:'s| is)|'s| is)"
    r"[\s,]+([\w'-]+)",
    re.IGNORECASE,
)


def _with_other_part(said: str, words: list[str]) -> list[str]:
    """One word of a name with its other part, in the order of a name.

    The other part is named after the word ("Chen, C H E N, first name Wei"), or the word is
    named after the other part, which opens the answer ("Okafor, O K A F O R, first name Grace").
    """
    word = words[0]
    # The words just before a part, and the answer's opening, are a few characters each: a
    # long utterance of many parts costs linear time.
    opening = said[:_REACH].partition(",")[0]
    for part in _OTHER_PART.finditer(said):
        other = part[2]
        if other.lower() == word.lower():
            head = _name_words(opening[: part.start()], whole=True)
            if len(head) == 1 and head[0].lower() != word.lower():
                return [word, head[0]] if part["first"] else [head[0], word]
        elif (
            is_name_word(other)
            and word.lower() in said[max(0, part.start() - _REACH) : part.start()].lower()
        ):
            return [other, word] if part["first"] else [word, other]
    return words


def _spell(words: list[str], spelled: list[Spelled]) -> list[str]:
    """``words`` with the spellings applied: each replaces the word it spells, or is the name."""
    words = list(words)
    for spelling in spelled:
        new = spelling.word
        lower = [word.lower() for word in words]
        if new.lower() in lower:
            continue  # "Kim, K I M": the spelling confirms the word
        if not words:
            words = [new]
            continue
        if spelling.part and len(words) > 1:
            index = 0 if spelling.part == "first" else len(words) - 1
        else:
            index = max(range(len(words)), key=lambda i: fuzz.ratio(lower[i], new.lower()))
            if fuzz.ratio(lower[index], new.lower()) < 50:
                words.append(new)  # a part not said before: "John, S M I T H"
                continue
        words[index] = new
    return words
