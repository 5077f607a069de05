"""Identifiers: member, policy, order and prescription numbers said character by character.

Callers read these codes off a card or a label: one character at a time ("X J H zero zero
four"), in groups ("forty-four, seventeen"), letters by their names ("ex jay aitch"), in the
phonetic alphabet ("X-ray Juliet Hotel") or with a word that starts with them ("B as in boy"),
"oh" for zero and "double five" for 55. The value is kept as the characters themselves, upper
case, without spaces or dashes: a leading zero is part of the code, never lost to an integer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache

from typing_extensions import override

from engine.flow.spec import SlotSpec
from engine.templates.spoken import characters

from .base import BaseSlotType, Parsed, numerals, repeated
from .spelling import Token, read_tokens

# Said before a code given in passing ("my member ID is ..."); "number" alone is too often a
# phone number to count.
_CUE = re.compile(
    r"\b(?:(?:member(?:ship)?|policy|prescription|rx|order|account|card|reference|confirmation"
    r"|claim|customer|patient|insurance|tracking|case|ticket|invoice|serial|licen[cs]e)"
    r"(?: (?:id|number|no|code))?|id|i d|number on the (?:bottle|label|card|box))\b",
    re.IGNORECASE,
)
_CUE_REACH = 40  # characters between a cue and the code it introduces ("ID is, um, ...")
_FEWEST = 2  # characters in the shortest code (a lone "7" is no code)
_WRITTEN = re.compile(r"(?=.*\d)[A-Za-z0-9]+(?:[ .-][A-Za-z0-9]+)*")  # "XJH-004 512", with a digit


@dataclass(frozen=True)
class _Run:
    """One stretch of code characters in an utterance, and where it starts."""

    start: int
    tokens: tuple[Token, ...]


def _runs(text: str) -> list[_Run]:
    """The stretches of code characters in ``text`` (numbers as digits), with nothing between."""
    runs: list[_Run] = []
    current: list[Token] = []
    start = 0
    for token in read_tokens(text):
        if token.breaks:
            if current:
                runs.append(_Run(start, tuple(current)))
            current = []
            continue
        if not current:
            start = token.start
        current.append(token)
    if current:
        runs.append(_Run(start, tuple(current)))
    return [run for run in runs if any(token.strong for token in run.tokens)]


# "the last four", "the first 3" (numbers come as digits, "first" as "1st"): an end of a code.
_COUNTED_END = r"(?:last|first|1st) (?:\d|two|three|four|five|six)"


class IdentifierType(BaseSlotType):
    """A code said character by character, stored as upper-case letters and digits.

    ``length`` (a number of characters, or ``[fewest, most]``) and ``pattern`` (a regular
    expression the whole value matches, e.g. ``"[A-Z]{3}[0-9]{6}"``) say what a valid code
    looks like; a code that breaks them is refused with what is wrong ("that has 6 digits; it
    should have 7"). Where "oh" could be the letter or zero, the reading that fits wins. Given
    in passing only after words that name a code ("my member ID is ..."). ``amend`` changes
    one part of a known code ("the last digit is 7", "it ends in 42").
    """

    name = "identifier"
    format = "the code as upper-case letters and digits without spaces, e.g. XJH004512"
    invalid = "I didn't catch the number"
    parts = re.compile(
        r"\b(?:digit|letter|character)s?\b|\b(?:ends?|starts?|begins?) (?:in|with)\b"
        rf"|\b{_COUNTED_END} (?:are|should be|were|is)\b",
        re.I,
    )

    @override
    def json_schema(self, spec: SlotSpec) -> dict[str, object]:
        schema: dict[str, object] = {"type": "string", "description": self._describe(spec)}
        if spec.lengths:
            schema |= {"minLength": spec.lengths[0], "maxLength": spec.lengths[1]}
        if spec.pattern:
            schema["pattern"] = f"^(?:{spec.pattern})$"
        return schema

    @override
    def parse(self, value: object, spec: SlotSpec, today: date) -> Parsed:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and _WRITTEN.fullmatch(value.strip()):
            # The model writes the code itself ("XJH 004-512"): its characters, as they are.
            code = re.sub(r"[^A-Za-z0-9]", "", value).upper()
            problem = _problem(code, spec)
            return Parsed(False, error=problem) if problem else Parsed(True, code)
        return super().parse(value, spec, today)

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        text = repeated(numerals(said, lower=False))
        runs = _runs(text)
        if not asked:
            cues = [cue.end() for cue in _CUE.finditer(text)]
            runs = [run for run in runs if any(0 <= run.start - end <= _CUE_REACH for end in cues)]
        # The last stretch that reads as a valid code, in the reading most likely for it.
        for run in reversed(runs):
            for reading in _readings(run.tokens):
                if not _problem(reading, spec) and len(reading) >= _FEWEST:
                    return Parsed(True, reading)
        if not asked or not runs:
            return None
        said_as = _readings(max(runs, key=lambda run: len(run.tokens)).tokens)[0]
        if len(said_as) < _FEWEST:
            return None  # "it's 7" for a code is no attempt at one
        return Parsed(False, error=_problem(said_as, spec) or self.invalid)

    def amend(self, text: str, spec: SlotSpec, today: date, base: object) -> Parsed | None:
        """``base`` with the characters ``text`` names changed ("the third digit is a five")."""
        if not isinstance(base, str) or not base:
            return None
        changed = amend_code(repeated(numerals(text, lower=False)), base)
        if changed is None or changed == base:
            return None
        problem = _problem(changed, spec)
        return Parsed(False, error=problem) if problem else Parsed(True, changed)

    @override
    def say(self, value: object, spec: SlotSpec) -> str:
        return characters(value)


def _readings(tokens: tuple[Token, ...]) -> list[str]:
    """The codes a run may spell, most likely first.

    "oh" as its neighbours say (a zero among digits), then every "oh" a zero, then every one an
    O; a lone lower-case "a" in front is first read as the article ("it's a B C 1 2 3").
    """
    options = [tokens]
    if len(tokens) > 1 and tokens[0].article:
        options.insert(0, tokens[1:])
    found = []
    for option in options:
        found.append("".join(token.text for token in option))
        if any(token.either for token in option):
            found.append("".join("0" if token.either else token.text for token in option))
            found.append("".join("O" if token.either else token.text for token in option))
    return list(dict.fromkeys(found))


def _problem(code: str, spec: SlotSpec) -> str:
    """What is wrong with ``code`` for ``spec`` ("" when nothing is)."""
    digits = code.isdigit()
    unit = "digit" if digits else "character"
    if spec.lengths and not spec.lengths[0] <= len(code) <= spec.lengths[1]:
        fewest, most = spec.lengths
        wanted = str(fewest) if fewest == most else f"{fewest} to {most}"
        return f"that has {len(code)} {unit}{'s' * (len(code) != 1)}; it should have {wanted}"
    if spec.pattern and not _compiled(spec.pattern).fullmatch(code):
        letters = sum(char.isalpha() for char in code)
        has = f"that has {_count(letters, 'letter')} and {_count(len(code) - letters, 'digit')}"
        shape = describe_pattern(spec.pattern)
        return f"{has}; it should be {shape}" if shape else f"{has}, which doesn't look right"
    return ""


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# -- a pattern said in words --------------------------------------------------------------------

_CLASSES = {
    "[A-Z]": ("letter", "letters"), "[A-Za-z]": ("letter", "letters"),
    "[a-zA-Z]": ("letter", "letters"), "[0-9]": ("digit", "digits"), r"\d": ("digit", "digits"),
    "[A-Z0-9]": ("letter or digit", "letters or digits"),
    "[0-9A-Z]": ("letter or digit", "letters or digits"),
}  # fmt: skip
_PIECE = re.compile(
    r"(?P<cls>\[A-Z\]|\[A-Za-z\]|\[a-zA-Z\]|\[0-9\]|\\d|\[A-Z0-9\]|\[0-9A-Z\]|[A-Z0-9])"
    r"(?:\{(?P<fewest>\d+)(?:,(?P<most>\d+))?\})?"
)


def describe_pattern(pattern: str) -> str:
    """A simple pattern in words: ``"[A-Z]{3}[0-9]{6}"`` -> ``"3 letters then 6 digits"``.

    Only runs of letters, digits and fixed characters are described; "" for anything else.
    """
    parts: list[str] = []
    position, body = 0, pattern.removeprefix("^").removesuffix("$")
    while position < len(body):
        found = _PIECE.match(body, position)
        if found is None:
            return ""
        position = found.end()
        fewest, most = found["fewest"] or "1", found["most"] or found["fewest"] or "1"
        count = fewest if fewest == most else f"{fewest} to {most}"
        one, many = _CLASSES.get(found["cls"], (f'"{found["cls"]}"', f'"{found["cls"]}"'))
        parts.append(f"{count} {one if count == '1' else many}")
    return " then ".join(parts)


# -- a change to part of a code -----------------------------------------------------------------

_POSITION = re.compile(
    r"\b(?P<pos>(?:second|2nd) (?:to|from) last|\d{1,2}(?:st|nd|rd|th)|last|final|next to last"
    r"|penultimate) (?P<kind>digit|number|letter|character|one)s?\b"
    r"(?:'s| (?:is|was|should be|has to be|needs to be|'s|is actually))?(?: (?:a|an))?"
    r"(?P<new> .{1,40})"
)
_ENDS = re.compile(r"\b(?P<which>ends?|finish(?:es)?|starts?|begins?) (?:in|with)(?P<new> .{1,60})")
_ALL_OF = re.compile(
    r"\b(?:the )?(?:(?P<end>last|first|1st) (?P<count>\d|two|three|four|five|six) )?"
    r"(?P<kind>letters|digits|numbers|characters) (?:are|should be|were|is)(?P<new> .{1,60})"
)
_UNNAMED_COUNT = re.compile(rf"\b({_COUNTED_END}) (are|should be|were|is)\b")
_COUNTS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


def _characters(text: str) -> str:
    """The first run of code characters at the start of ``text`` ("a V, not an X" -> "V")."""
    found: list[str] = []
    for token in read_tokens(text):
        if token.breaks:
            if found:
                break
            continue
        if token.article and not found:
            continue  # "is a five": the article
        found.append(token.text)
    return "".join(found)


def amend_code(said: str, base: str) -> str | None:
    """``base`` changed as ``said`` says, or None when it names no part of the code."""
    # "the last four are 0 1 4 1": characters, unnamed
    said = _UNNAMED_COUNT.sub(r"\1 characters \2", said)
    if found := _POSITION.search(said):
        new = _characters(found["new"])[:1]
        kind = found["kind"]
        places = [
            index
            for index, char in enumerate(base)
            if kind in ("character", "one")
            or (char.isdigit() if kind in ("digit", "number") else char.isalpha())
        ]
        where = _place(found["pos"], len(places))
        if not new or where is None:
            return None
        index = places[where]
        return base[:index] + new + base[index + 1 :]
    if found := _ENDS.search(said):
        new = _characters(found["new"])
        if not new or len(new) > len(base):
            return None
        if found["which"].startswith(("end", "finish")):
            return base[: len(base) - len(new)] + new
        return new + base[len(new) :]
    if found := _ALL_OF.search(said):
        new = _characters(found["new"])
        kind = found["kind"]
        places = [
            i
            for i, char in enumerate(base)
            if kind == "characters" or char.isalpha() == (kind == "letters")
        ]
        if found["end"]:
            # "the last three digits are 3 4 5"
            count = _COUNTS.get(found["count"]) or int(found["count"])
            places = places[-count:] if found["end"] == "last" else places[:count]
        if len(new) != len(places):
            return None
        chars = list(base)
        for index, char in zip(places, new, strict=True):
            chars[index] = char
        return "".join(chars)
    return None


def _place(position: str, count: int) -> int | None:
    """Index of a position said ("3rd", "last", "second to last") among ``count`` places."""
    if position in ("last", "final"):
        index = count - 1
    elif "last" in position or position == "penultimate":
        index = count - 2  # "second to last", "next to last", "penultimate"
    else:
        index = int(re.sub(r"\D", "", position)) - 1
    return index if 0 <= index < count else None
