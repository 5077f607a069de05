"""Typed slot values: what the model may set, what a caller's words mean, how to say it back.

Stored values are JSON-friendly (ISO dates, 24-hour ``"HH:MM"``, E.164 phone numbers). Extraction
from a caller's words is conservative when the value was volunteered rather than asked for: a
wrong value silently stored is worse than one the model asks about again.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from types import MappingProxyType
from typing import Protocol

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from rapidfuzz import fuzz, process
from text_to_num import alpha2digit  # type: ignore[import-untyped,unused-ignore]

from .voice import digits, spoken_date, spoken_email, spoken_list, spoken_time


@dataclass(frozen=True)
class SlotSpec:
    """A slot as a flow declares it: name, type, and the constraints its type understands."""

    name: str
    type: str
    description: str = ""
    values: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    min: float | None = None
    max: float | None = None
    past: bool = False
    future: bool = False
    region: str = "US"
    with_year: bool = False  # date: the caller must say the year (a date of birth)

    def __post_init__(self) -> None:
        # Copied read-only, so a spec cannot change under a running call.
        values = {str(key): tuple(synonyms) for key, synonyms in self.values.items()}
        object.__setattr__(self, "values", MappingProxyType(values))


@dataclass(frozen=True)
class Parsed:
    """A parsed value: ``ok`` with the stored ``value``, or a short speakable ``error``."""

    ok: bool
    value: object = None
    error: str = ""


class SlotType(Protocol):
    """One kind of slot value, registered under its ``name``."""

    name: str

    def json_schema(self, spec: SlotSpec) -> dict[str, object]:
        """The JSON schema of the ``value`` parameter of the tool that sets this slot."""

    def parse(self, value: object, spec: SlotSpec, today: date) -> Parsed:
        """Validate and normalise a value the model gave, typed or in spoken words."""

    def extract(self, text: str, spec: SlotSpec, today: date, *, asked: bool) -> Parsed | None:
        """A value in a caller's utterance, an error for a clearly invalid one, else None."""

    def say(self, value: object, spec: SlotSpec) -> str:
        """A stored value as the agent reads it back."""


SLOT_TYPES: dict[str, SlotType] = {}


def register_slot_type(slot_type: SlotType) -> SlotType:
    """Make ``slot_type`` available to flows under its name (replacing any of that name)."""
    SLOT_TYPES[slot_type.name] = slot_type
    return slot_type


def slot_type(name: str) -> SlotType:
    """The registered slot type called ``name``."""
    if name not in SLOT_TYPES:
        raise KeyError(f"unknown slot type {name!r}; known: {', '.join(sorted(SLOT_TYPES))}")
    return SLOT_TYPES[name]


_UNINTELLIGIBLE = re.compile(r"\(\s*unintelligible audio\s*\)", re.IGNORECASE)


def _clean(text: str) -> str:
    """The utterance without the transcriber's unintelligible-audio marker, spaces tidied."""
    return " ".join(_UNINTELLIGIBLE.sub(" ", text).replace("\u2019", "'").split())


def _numerals(text: str) -> str:
    """Lower case, spoken numbers as digits; threshold 0 converts even a lone "one"."""
    return str(alpha2digit(text.lower(), "en", threshold=0))


def _plain(text: str) -> str:
    """Lower-case words: punctuation other than apostrophes becomes spaces."""
    return " ".join(re.sub(r"[^\w']+", " ", text.lower()).split())


_NEUTRAL = re.compile(r"\bno (?:problem|worries)\b")
_HEDGE = re.compile(
    r"\b(?:but|except|though|although|actually|wait|hold on|maybe|not sure|don't know|dunno"
    r"|no idea)\b"
)
_NO = re.compile(
    r"\b(?:no|nope|nah|negative|incorrect|wrong|false|uh uh|i don't think so"
    r"|(?:absolutely|definitely|certainly|of course) not"
    r"|not (?:quite|really|exactly|correct|right|true|it)|isn't (?:right|correct))\b"
)
_YES = re.compile(
    r"\b(?:yes|yeah|yea|yep|yup|ya|correct|right|alright|exactly|sure|absolutely|definitely"
    r"|certainly|affirmative|of course|uh huh|mm hmm|mhm|you got it|that's it|sounds good"
    r"|perfect|true)\b"
)


def yes_no(text: str) -> bool | None:
    """A clear yes (True) or no (False) in an utterance, else None.

    The rule: commit only to an unambiguous answer, so the agent never confirms details the
    caller is disputing. There must be assent or dissent but not both ("yes no" -> None), and no
    hedge or correction ("yes but my name is wrong", "not sure" -> None). Negated assent is
    dissent ("that's not right"). Idioms like "no problem" are neither: alone None, after a yes
    harmless. "Okay" is not a yes: callers say it to acknowledge while still listening.
    """
    said = _NEUTRAL.sub(" ", _plain(_clean(text)))
    if _HEDGE.search(said):
        return None
    said_no = bool(_NO.search(said))
    said_yes = bool(_YES.search(_NO.sub(" ", said)))
    return None if said_yes == said_no else said_yes


class _SlotType:
    """Defaults: a string the model writes in ``format``, parsed like a caller's answer."""

    name = ""
    format = ""  # how the model must write the value, shown in the tool schema
    invalid = "I didn't catch that"

    def json_schema(self, spec: SlotSpec) -> dict[str, object]:
        return {"type": "string", "description": self._describe(spec)}

    def _describe(self, spec: SlotSpec) -> str:
        return "; ".join(part for part in (spec.description, self.format) if part)

    def parse(self, value: object, spec: SlotSpec, today: date) -> Parsed:
        found = self.extract(value, spec, today, asked=True) if isinstance(value, str) else None
        return found if found is not None else Parsed(False, error=self.invalid)

    def extract(self, text: str, spec: SlotSpec, today: date, *, asked: bool) -> Parsed | None:
        said = _clean(text)  # so "(unintelligible audio)" is never a value of any type
        return self._find(said, spec, today, asked) if said else None

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        """A value in ``said``, the caller's words already cleaned and not empty."""
        return None

    def say(self, value: object, spec: SlotSpec) -> str:
        return str(value)


class _Text(_SlotType):
    """Free text: the whole answer when asked, nothing volunteered."""

    name = "text"
    format = "the caller's answer"

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        return Parsed(True, said) if asked else None


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


class _Name(_SlotType):
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


_COUNT = re.compile(
    r"\b(?:party of|table for|group of) (\d+)\b|\b(\d+) (?:people|persons|guests|adults|of us)\b"
)
_CLOCK_NUMBER = re.compile(r"\bat \d{1,2}(?:[: ]\d\d)?\b|\b\d{1,2}(?:[: ]\d\d)? ?(?:[ap]m|o'clock)")
_NUMBER = re.compile(r"(?<![\w:/])-?\d+(?:\.\d+)?(?![\w:/])")


def _number_text(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


class _Number(_SlotType):
    """A number, int when whole. Volunteered only as a head count ("party of 6", "6 people")."""

    name = "number"
    invalid = "I didn't catch a number"

    def json_schema(self, spec: SlotSpec) -> dict[str, object]:
        bounds = {"minimum": spec.min, "maximum": spec.max}
        schema: dict[str, object] = {"type": "number", "description": self._describe(spec)}
        return schema | {key: bound for key, bound in bounds.items() if bound is not None}

    def parse(self, value: object, spec: SlotSpec, today: date) -> Parsed:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self._check(float(value), spec)
        return super().parse(value, spec, today)

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        said = re.sub(r"\ba couple\b", "2", _numerals(said))
        if count := _COUNT.search(said):
            return self._check(float(count[1] or count[2]), spec)
        # "6 at 7 pm": the time is not the number; two numbers left are for the model.
        numbers = {float(n) for n in _NUMBER.findall(_CLOCK_NUMBER.sub(" ", said))}
        return self._check(numbers.pop(), spec) if asked and len(numbers) == 1 else None

    def _check(self, number: float, spec: SlotSpec) -> Parsed:
        if not math.isfinite(number):
            return Parsed(False, error=self.invalid)
        if spec.min is not None and number < spec.min:
            return Parsed(False, error=f"that's less than {_number_text(spec.min)}")
        if spec.max is not None and number > spec.max:
            return Parsed(False, error=f"that's more than {_number_text(spec.max)}")
        return Parsed(True, int(number) if number == int(number) else number)

    def say(self, value: object, spec: SlotSpec) -> str:
        return _number_text(value) if isinstance(value, int | float) else str(value)


class _YesNo(_SlotType):
    """A yes or no, understood only when asked (a stray "yes" answers some other question)."""

    name = "yes_no"
    invalid = "I need a yes or a no"

    def json_schema(self, spec: SlotSpec) -> dict[str, object]:
        return {"type": "boolean", "description": self._describe(spec)}

    def parse(self, value: object, spec: SlotSpec, today: date) -> Parsed:
        if isinstance(value, bool):
            return Parsed(True, value)
        return super().parse(value, spec, today)

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        answer = yes_no(said) if asked else None
        return None if answer is None else Parsed(True, answer)

    def say(self, value: object, spec: SlotSpec) -> str:
        return "yes" if value is True else "no" if value is False else str(value)


_NEGATED = re.compile(r"\b(?:not|don't want|rather not|never)(?: the| a| an)? ?$")


def _options(spec: SlotSpec) -> dict[str, str]:
    """Every phrase naming an option, in plain lower case -> its canonical value."""
    return {
        _plain(phrase): canonical
        for canonical, synonyms in spec.values.items()
        for phrase in (canonical.replace("_", " "), *synonyms)
    }


class _Enum(_SlotType):
    """One of ``spec.values``, by its canonical name or a synonym, as whole words.

    Two different options in one answer are ambiguous (None); an option right after "not" does
    not count. When asked, an answer close to an option ("patios") is that option.
    """

    name = "enum"

    def json_schema(self, spec: SlotSpec) -> dict[str, object]:
        return {"type": "string", "enum": list(spec.values), "description": self._describe(spec)}

    def parse(self, value: object, spec: SlotSpec, today: date) -> Parsed:
        found = super().parse(value, spec, today)
        if found.ok:
            return found
        choices = spoken_list([self.say(option, spec) for option in spec.values])
        return Parsed(False, error=f"the options are {choices}")

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        said, options = _plain(said.replace("_", " ")), _options(spec)
        hits = [
            (match.start(), match.end(), canonical)
            for phrase, canonical in options.items()
            for match in re.finditer(rf"(?<![\w']){re.escape(phrase)}(?![\w'])", said)
            if not _NEGATED.search(said[: match.start()])
        ]
        # "window seat" wins over the "window" inside it.
        found = {
            canonical
            for start, end, canonical in hits
            if not any(s <= start and end <= e and e - s > end - start for s, e, _ in hits)
        }
        if len(found) == 1:
            return Parsed(True, found.pop())
        if hits or not (asked and said):
            return None
        close = process.extractOne(said, list(options), scorer=fuzz.ratio, score_cutoff=85)
        return Parsed(True, options[close[0]]) if close else None

    def say(self, value: object, spec: SlotSpec) -> str:
        return str(value).replace("_", " ")


_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_ABSOLUTE_DATE = re.compile(
    rf"\b(?:(?:the )?{_DAY} (?:of )?{_MONTH}|{_MONTH} (?:the )?{_DAY})(?: (?:of |in )?\d{{4}})?\b"
    r"|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b|\b\d{4}-\d\d-\d\d\b"
)
_RELATIVE_DATE = re.compile(
    r"\b(?:(?:the )?day after tomorrow|today|tonight|tomorrow|yesterday|in \d+ (?:days?|weeks?)"
    r"|(?:(?:this|next|last|on) )?(?:mon|tues|wednes|thurs|fri|satur|sun)day)\b"
)


class _Date(_SlotType):
    """A calendar date, stored as ``YYYY-MM-DD``.

    Only strong evidence counts, asked or not: a month name with a day ("March third nineteen
    eighty"), a numeric date (month first: "3/4/1980"), or a relative day ("tomorrow", "next
    Friday", "in 3 days"); a bare "6" is never a date. Without a year, ``past`` slots take the
    most recent such day, others the next one (today included).
    """

    name = "date"
    format = "date as YYYY-MM-DD"
    invalid = "I didn't catch a date"

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        said = " ".join(re.sub(r"[^\w/ -]+", " ", _numerals(said)).split())
        # text2num reads "nineteen eighty" as "19 80" and "twenty oh five" as "20 oh 5".
        said = re.sub(r"\b(1[89]|20) (\d\d)\b", r"\1\2", said)
        said = re.sub(r"\b(1[89]|20) oh (\d)\b", r"\g<1>0\2", said)
        found = _ABSOLUTE_DATE.search(said) or _RELATIVE_DATE.search(said)
        if found is None:
            return None
        absolute = found.re is _ABSOLUTE_DATE
        if spec.with_year and not re.search(r"\b\d{4}\b|/\d{2}\b", found.group()):
            # "The third of March" is no date of birth; ask again rather than guess the year.
            return Parsed(False, error="I need the year too") if asked else None
        when = _dateparser(found.group(), spec, today, absolute=absolute)
        if when is None:
            return Parsed(False, error="that isn't a real date") if absolute else None
        return self._check(when, spec, today)

    @staticmethod
    def _check(when: date, spec: SlotSpec, today: date) -> Parsed:
        if spec.past and when > today:
            return Parsed(False, error="that date is in the future")
        if spec.future and when < today:
            return Parsed(False, error="that date is in the past")
        age = today.year - when.year - ((today.month, today.day) < (when.month, when.day))
        if spec.past and age > 120:
            return Parsed(False, error="that date is too long ago")
        return Parsed(True, when.isoformat())

    def say(self, value: object, spec: SlotSpec) -> str:
        return spoken_date(value)


def _dateparser(phrase: str, spec: SlotSpec, today: date, *, absolute: bool) -> date | None:
    # Imported when first needed: dateparser is slow to import and to load its data.
    import dateparser  # type: ignore[import-untyped,unused-ignore]

    # Preferring the future skips the base day itself, so "June 15th" said on June 15th would be
    # next year; a base of yesterday keeps today. Relative days ("tomorrow") need the real base.
    base = today - timedelta(days=1) if absolute and not spec.past else today
    settings: dict[str, object] = {
        "RELATIVE_BASE": datetime.combine(base, clock_time()),
        "PREFER_DATES_FROM": "past" if spec.past else "future",
        "DATE_ORDER": "MDY",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    if absolute:
        settings["REQUIRE_PARTS"] = ["day", "month"]  # "March 1980" names no day
    when: datetime | None = dateparser.parse(phrase, languages=["en"], settings=settings)
    return when.date() if when else None


_MIDDAY = re.compile(r"\b(noon|midday|midnight)\b")
_PAST_TO = re.compile(
    r"\b(half|quarter|\d{1,2}) (?:minutes )?(past|after|to|till|before) (\d{1,2})(?: ([ap]m))?\b"
)
_CLOCK = re.compile(r"\b(\d{1,2})(?:[: ](\d\d))? ([ap]m|oclock)\b|\b(\d{1,2}):(\d\d)\b")
# Not among more digits: "at 4 1 5 5 5 5 ..." is a phone number.
_AT = re.compile(r"\bat (\d{1,2})(?: (\d\d))?\b(?! ?\d)")
_BARE = re.compile(r"(?<!\d )\b(\d{1,2})(?: (\d\d))?\b(?! ?\d)")


class _Time(_SlotType):
    """A time of day, stored as 24-hour ``HH:MM``.

    The am/pm rule: "am"/"pm" or a part of the day ("in the morning", "tonight") decides; else
    hours 1 to 9 are afternoon or evening (a table "at seven" is 19:00, as bookings mostly
    mean), 10 to 12 stay as said, and 0 or 13 to 23 are 24-hour. Volunteered only as "7 pm",
    "noon", "7:30", "half past six", "7 o'clock" or "at 7"; when asked, a bare "seven thirty"
    too. The model's "HH:MM" is taken as 24-hour.
    """

    name = "time"
    format = "time as HH:MM, 24-hour"
    invalid = "I didn't catch a time"

    def parse(self, value: object, spec: SlotSpec, today: date) -> Parsed:
        if isinstance(value, str) and (hhmm := re.fullmatch(r"(\d{1,2}):(\d\d)", value.strip())):
            return self._resolve(int(hhmm[1]), int(hhmm[2]), "24h")
        return super().parse(value, spec, today)

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        said = re.sub(r"(?<=\d)\s*([ap])\.?\s?m\b\.?", r" \1m", _numerals(said))
        said = re.sub(r"(?<=\d)\s*o\s?'?\s?clock\b", " oclock", said)
        said = " ".join(re.sub(r"[^\w: ]+", " ", said).split())
        part = re.search(r"\b(?:(morning)|afternoon|evening|tonight|night)\b", said)
        part_of_day = None if part is None else "am" if part[1] else "pm"
        if found := _MIDDAY.search(said):
            return self._resolve(0 if found[1] == "midnight" else 12, 0, "24h")
        if found := _PAST_TO.search(said):
            minutes = {"half": 30, "quarter": 15}.get(found[1]) or int(found[1])
            hour = int(found[3])
            if found[2] in ("to", "till", "before"):
                hour, minutes = (hour - 1) or 12, 60 - minutes
            return self._resolve(hour, minutes, found[4] or part_of_day)
        if found := _CLOCK.search(said):
            if found[4]:  # "07:30", with its leading zero, is already 24-hour
                meridiem = "24h" if found[4].startswith("0") else part_of_day
                return self._resolve(int(found[4]), int(found[5]), meridiem)
            meridiem = part_of_day if found[3] == "oclock" else found[3]
            return self._resolve(int(found[1]), int(found[2] or 0), meridiem)
        if found := _AT.search(said) or (_BARE.search(said) if asked else None):
            return self._resolve(int(found[1]), int(found[2] or 0), part_of_day)
        return None

    @staticmethod
    def _resolve(hour: int, minute: int, meridiem: str | None) -> Parsed:
        if meridiem in ("am", "pm"):
            # "13 pm" is no time; 12 am is midnight.
            hour = hour % 12 + (12 if meridiem == "pm" else 0) if 1 <= hour <= 12 else 99
        elif meridiem is None and 1 <= hour <= 9:
            hour += 12
        if hour > 23 or minute > 59:
            return Parsed(False, error="that isn't a valid time")
        return Parsed(True, f"{hour:02d}:{minute:02d}")

    def say(self, value: object, spec: SlotSpec) -> str:
        return spoken_time(value)


class _Phone(_SlotType):
    """A phone number in E.164; ``spec.region`` applies to numbers without a country code.

    Digits may come one by one, "oh" for zero, "double five". Volunteered only with ten digits or
    more; when asked, three digits are enough to judge (and reject) a number.
    """

    name = "phone"
    format = "phone number in E.164 form, e.g. +14155550123"
    invalid = "that doesn't sound like a valid phone number"

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        said = " ".join(re.sub(r"[,;]", " ", _numerals(said)).split())
        said = re.sub(r"(?<=\d) oh?(?= \d)", " 0", said)
        said = re.sub(
            r"\b(double|triple) (\d)\b", lambda m: m[2] * (3 if m[1] == "triple" else 2), said
        )
        said = re.sub(r"\bplus ?(?=\d)", "+", said)
        runs = re.findall(r"\+?\(?\d[\d\s().-]*\d", said)
        run = max(runs, key=lambda run: sum(c.isdigit() for c in run), default="")
        number = "+" * run.startswith("+") + re.sub(r"\D", "", run)
        if len(number.lstrip("+")) < (3 if asked else 10):
            return None
        try:
            parsed = phonenumbers.parse(number, spec.region)
        except phonenumbers.NumberParseException:
            return Parsed(False, error=self.invalid)
        if not phonenumbers.is_valid_number(parsed):
            return Parsed(False, error=self.invalid)
        return Parsed(True, phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))

    def say(self, value: object, spec: SlotSpec) -> str:
        return digits(value)


_EMAIL_WORDS = {"at": "@", "dot": ".", "period": ".", "underscore": "_", "dash": "-", "hyphen": "-"}
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


class _Email(_SlotType):
    """An email address, lower-cased (transcribers capitalise at random) and validated.

    Spoken forms work ("dana dot scully at example dot com", letters spelled "d a n a"). Only a
    whole address counts, asked or not; when asked, a broken one ("dana at gmail") is an error.
    """

    name = "email"
    format = "email address, e.g. dana@example.com"
    invalid = "that doesn't sound like a valid email address"

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        words = "|".join(_EMAIL_WORDS)
        said = re.sub(rf"\b(?:{words})\b", lambda m: _EMAIL_WORDS[m.group()], said.lower())
        said = re.sub(r"\s*([@._-])\s*", r"\1", said)  # spoken separators join their neighbours
        said = re.sub(r"\b(\w)\s+(?=\w\b)", r"\1", said)  # "d a n a" -> "dana"
        found = _EMAIL.search(said)
        if found is None:
            return Parsed(False, error=self.invalid) if asked and "@" in said else None
        try:
            address = validate_email(found.group(), check_deliverability=False)
        except EmailNotValidError:
            return Parsed(False, error=self.invalid)
        return Parsed(True, address.normalized)

    def say(self, value: object, spec: SlotSpec) -> str:
        return spoken_email(value)


for _builtin in (_Text, _Name, _Number, _YesNo, _Enum, _Date, _Time, _Phone, _Email):
    register_slot_type(_builtin())


def warm_up() -> None:
    """Load every parser's data now (dateparser loads its languages on first use).

    A server calls this before it starts taking calls, so the first caller does not wait for
    the loading and the data joins the long-lived objects the cycle collector skips.
    """
    today = date.today()
    for kind in SLOT_TYPES.values():
        spec = SlotSpec(name="warm_up", type=kind.name, values={"yes": ()})
        for text in ("March 3rd 1980", "seven thirty pm", "four one five five five five zero one"):
            kind.extract(text, spec, today, asked=True)
