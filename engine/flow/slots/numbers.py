"""Numbers: counts and amounts, in digits or words."""

from __future__ import annotations

import functools
import math
import re
from datetime import date

from typing_extensions import override

from engine.flow.spec import SlotSpec

from .base import NOT_A_QUANTITY, BaseSlotType, Parsed, numerals
from .fillers import drop_waits
from .heads import heads
from .shifts import PEOPLE_WORDS, shift

_COUNT = re.compile(
    r"\b(?:party of|table for|group of|we're|we are|we'll be|we will be|there'll be|there will be"
    r"|there's|there are) (\d+)\b(?! ?(?:[ap]m|o'?clock|:))"
    r"|\b(\d+) (?:people|persons|guests|adults|of us|in total|in all)\b"
)
_ALONE = re.compile(
    r"\b(?:just|only) (?:me|myself|1)\b|\b(?:by myself|on my own|me alone|table for 1)\b"
)
# "For two" ends a head count said in passing ("half six on Friday for two"); not "for 5 years".
_FOR = re.compile(
    r"\bfor (\d+)\b(?! ?(?:[ap]m|o'?clock|:|\d|minutes?|hours?|days?|weeks?|months?|years?"
    r"|nights?|dollars?|bucks|mg|milligrams?))"
)
# A distance, volunteered: "about 90,000 miles", "150000 km".
_DISTANCE = re.compile(r"\b(\d+) (?:miles?|mi|kilometers?|kilometres?|km|clicks)\b")
_CLOCK_NUMBER = re.compile(
    r"\bat \d{1,2}(?:[: ]\d\d)?\b|\b\d{1,2}(?:[: ]\d\d)? ?(?:[ap]m|o'clock)"
    r"|\b(?:around|about|roughly|by) \d{1,2}(?:[: ]\d\d)? ?(?:tonight|in the \w+|on \w+day)"
)
# Numbers that count nothing: a house number ("42 Elm Street"), a model year ("a 2015 Honda"),
# a year something began ("since 2019"), an age or a while ("12 years old", "for 3 weeks").
_NOT_COUNT = re.compile(
    rf"{NOT_A_QUANTITY}|\b\d+(?= (?:years?|months?|weeks?|days?|hours?|minutes?)\b)"
    r"|\b1(?= (?:more )?(?:thing|question|sec|second|moment)\b)"  # "one more thing, ..."
)
_NUMBER = re.compile(r"(?<![\w:/])-?\d+(?:\.\d+)?(?![\w:/])")
# Someone's age said in passing ("it's my mom's place, she's 82"): no count of anything else.
_AGE = re.compile(
    r"(?:(?<=\bshe's )|(?<=\bhe's )|(?<=\bshe is )|(?<=\bhe is )|(?<=\bi'm )|(?<=\bi am ))"
    r"(?:only |just |almost |nearly )?\d+\b(?= *(?:[,.;!?]|$|and\b|but\b|so\b))"
)
# A count joined to what it counts: "a three-bedroom", "a one-bed flat".
_JOINED = re.compile(
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\d+)-(?=[a-z]{3,})"
    r"(?!(?:one|two|three|four|five|six|seven|eight|nine|ish)\b)",
    re.IGNORECASE,
)
# A number with nothing after it that says what it counts: "like 30, 35 boxes", "4 of them".
_LOOSE = re.compile(
    r"(?<![\w:/])(?<!half )(?<!quarter )\d+(?![\w:/])"
    r"(?= *(?:[,.;!?]|$|or\b|to\b|of (?:them|those)\b))"
)
# "None, it's all furniture": nothing of what was asked about (not "none of those").
_NONE = re.compile(r"\b(?:none|not a single one|not one)\b(?! of\b)")
_FEW = r"(?P<count>\d+|a|an|one|another)"
_CLAUSE_END = r"\s*(?:[,.;!?]|$|if\b|please\b)"


# A pause inside a number said in words: "forty two thousand, three hundred".
_GOES_ON = re.compile(
    r"\b(thousand|hundred)\s*,\s*(?=(?:and )?(?:one|two|three|four|five|six|seven|eight|nine"
    r"|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty"
    r"|thirty|forty|fifty|sixty|seventy|eighty|ninety|a hundred)\b)",
    re.IGNORECASE,
)


def _spoken(said: str) -> str:
    """Numbers as digits, said every way: "80,000", "45k", "200 thousand", "4 5 2 1 0"."""
    said = re.sub(r"\b(\w+)-?ish\b", r"\1", said, flags=re.IGNORECASE)  # "six-ish"
    said = _JOINED.sub(r"\1 ", said)  # "a three-bedroom"
    said = _GOES_ON.sub(r"\1 ", drop_waits(said))  # "forty two thousand, three hundred"
    said = numerals(said)
    said = re.sub(r"\b(\d{1,3})((?:,\d{3})+)\b", lambda m: m[1] + m[2].replace(",", ""), said)
    # "45 thousand" reads as "45 1000"; a number that merely ends in 1000 (31000) is no product.
    said = re.sub(r"\b(\d+(?:\.\d+)?)(?: ?(?:k|thousand|grand)| 1000)\b", _thousands, said)
    # Digits one by one ("4 5 2 1 0", "1 2 3 4 5 6"): one number.
    said = re.sub(r"\b\d(?: \d){2,}\b", lambda m: m[0].replace(" ", ""), said)
    return _NOT_COUNT.sub("#", said)


def _thousands(found: re.Match[str]) -> str:
    return _number_text(float(found[1]) * 1000)


def _number_text(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


class NumberType(BaseSlotType):
    """A number, int when whole. Volunteered only as a head count ("party of 6", "6 people").

    A party may be said as the people in it ("me and my wife and our three kids", see
    :mod:`.heads`); ``amend`` changes a count held by the people added or taken away ("one
    more of us", see :mod:`.shifts`).
    """

    name = "number"
    invalid = "I didn't catch a number"
    changes = PEOPLE_WORDS  # "one more of us" changes the count held

    @override
    def json_schema(self, spec: SlotSpec) -> dict[str, object]:
        bounds = {"minimum": spec.min, "maximum": spec.max}
        schema: dict[str, object] = {"type": "number", "description": self._describe(spec)}
        return schema | {key: bound for key, bound in bounds.items() if bound is not None}

    @override
    def parse(self, value: object, spec: SlotSpec, today: date) -> Parsed:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self._check(float(value), spec)
        return super().parse(value, spec, today)

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        said = re.sub(r"\ba couple\b", "2", _spoken(said))
        said = re.sub(r"\b(?:a|one) dozen\b", "12", re.sub(r"\bhalf a dozen\b", "6", said))
        if not _of_age(spec):
            said = _AGE.sub("#", said)  # "she's 82" counts no rooms
        if (party := heads(said, asked=asked)) is not None:
            return self._check(float(party), spec)
        counted = _counted(spec.cues)
        if asked and counted is not None and (found := list(counted.finditer(said))):
            # "Two bedrooms plus an office, so call it three rooms": the count of the slot's
            # own things, the last one said; unless another number may count them too ("thirty,
            # thirty-five boxes", "six rooms, but only four of them").
            rest = _LOOSE.search(_CLOCK_NUMBER.sub(" ", counted.sub(" ", said)))
            return None if rest else self._check(float(found[-1][1]), spec)
        if asked and _NONE.search(said):
            return self._check(0.0, spec)  # "none, it's all furniture"
        if count := _COUNT.search(said) or _DISTANCE.search(said) or _FOR.search(said):
            return self._check(float(next(group for group in count.groups() if group)), spec)
        if asked and _ALONE.search(said):
            return self._check(1.0, spec)
        # "6 at 7 pm": the time is not the number; two numbers left are for the model.
        numbers = {float(n) for n in _NUMBER.findall(_CLOCK_NUMBER.sub(" ", said))}
        return self._check(numbers.pop(), spec) if asked and len(numbers) == 1 else None

    def amend(self, text: str, spec: SlotSpec, today: date, base: object) -> Parsed | None:
        """``base`` changed by the people ``text`` adds or takes away ("one more of us")."""
        if not isinstance(base, int | float) or isinstance(base, bool):
            return None
        said = numerals(text)
        change = shift(said, "people")
        if change is None:
            change = _by_count(said, spec.cues)
        return None if change is None else self._check(float(base + change), spec)

    def _check(self, number: float, spec: SlotSpec) -> Parsed:
        if not math.isfinite(number):
            return Parsed(False, error=self.invalid)
        if spec.min is not None and number < spec.min:
            return Parsed(False, error=f"that's less than {_number_text(spec.min)}")
        if spec.max is not None and number > spec.max:
            return Parsed(False, error=f"that's more than {_number_text(spec.max)}")
        return Parsed(True, int(number) if number == int(number) else number)

    @override
    def say(self, value: object, spec: SlotSpec) -> str:
        return _number_text(value) if isinstance(value, int | float) else str(value)


def _of_age(spec: SlotSpec) -> bool:
    """Whether a number slot is someone's age (then "she's 82" is its value)."""
    words = " ".join((spec.label or "", spec.description or "", *spec.cues)).lower()
    return re.search(r"\b(?:age|ages|old|years)\b", words) is not None


@functools.lru_cache(maxsize=256)
def _counted(cues: tuple[str, ...]) -> re.Pattern[str] | None:
    """A number said with what the slot counts ("3 bedrooms", "100 moving boxes")."""
    if not cues:
        return None
    nouns = "|".join(re.escape(cue.lower()) for cue in sorted(cues, key=len, reverse=True))
    return re.compile(rf"\b(\d+) (?:(?!and\b|or\b|of\b)[a-z]+ )?(?:{nouns})\b")


@functools.lru_cache(maxsize=256)
def _relative(cues: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Patterns of a count held changed by so many: "one more night", "it's one less"."""
    nouns = "|".join(re.escape(cue.lower()) for cue in cues)
    after = rf"(?= (?:{nouns})\b|{_CLAUSE_END})" if nouns else rf"(?={_CLAUSE_END})"
    return (
        re.compile(rf"\b{_FEW} (?:more|extra|additional){after}"),
        re.compile(rf"\b{_FEW} (?:less|fewer){after}"),
    )


def _by_count(said: str, cues: tuple[str, ...]) -> int | None:
    """How much ``said`` changes a count of the slot's own things (signed), or None.

    "One more night", "an extra night", "it's one less": what follows the change is the
    slot's own word or nothing; "one more thing" changes no count.
    """
    more, fewer = _relative(cues)
    for sign, pattern in ((1, more), (-1, fewer)):
        if found := pattern.search(said):
            count = found["count"]
            return sign * (int(count) if count.isdigit() else 1)
    return None
