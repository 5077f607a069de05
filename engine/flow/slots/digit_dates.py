"""Dates said as groups of digits: "oh three oh four nineteen eighty", "three four eighty".

Callers read a date of birth off a card as month, day and year, in numbers alone: "oh" for
zero, a two-digit year or one in two halves ("nineteen eighty"), groups apart by pauses
(commas) or not at all. The month comes first, as in the United States; a first group over 12
with a second of 12 or less is read day first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words a run of digits may hold without ending: hesitations.
_INSIDE = frozenset(["uh", "um", "umm", "uhh", "er", "erm", "ah", "and"])
_PAUSE = frozenset([",", ";", ".", "slash", "dash", "hyphen"])  # between groups: "ten slash 21"
_TOKEN = re.compile(r"\d+|[a-z']+|[,;.]")
# Said just before a date of birth given in passing ("born 6 15 72", "my birthday is ...").
_BIRTH = re.compile(r"\b(?:born|birthday|birth date|birthdate|date of birth|dob|d o b)\b")
_BIRTH_REACH = 30  # characters from the cue to the digits


@dataclass(frozen=True)
class DigitDate:
    """A month, day and year (as said: two or four digits) read from groups of digits."""

    month: int
    day: int
    year: str
    start: int  # where the digits start in the text read
    whole: bool  # the digits are all of their piece of the utterance ("..., three four eighty,")


def digit_dates(text: str) -> list[DigitDate]:
    """Every run of digit groups in ``text`` (numbers already digits) that reads as a date."""
    found = []
    for run, start, whole in _runs(text):
        groups = _groups(run)
        if groups is None:
            continue
        month, day, year = groups
        if month > 12 and day <= 12:
            month, day = day, month  # "14 2 1990": the day first
        if 1 <= month <= 12 and 1 <= day <= 31 and len(year) in (2, 4):
            found.append(DigitDate(month, day, year, start, whole))
    return found


def birth_cue_before(text: str, start: int) -> bool:
    """Whether words of a birth date come just before ``start`` ("I was born 4 22 84")."""
    return any(0 <= start - cue.end() <= _BIRTH_REACH for cue in _BIRTH.finditer(text, 0, start))


def _runs(text: str) -> list[tuple[list[str], int, bool]]:
    """Runs of digit tokens ("," marks a pause), where each starts, and whether it is alone.

    Alone: between pauses or the ends of the text ("Grace Okafor, three four eighty, and ...").
    """
    words = [(token[0], token.start()) for token in _TOKEN.finditer(text)]

    def digit(index: int) -> bool:
        word = words[index][0]
        if word in ("oh", "o"):  # a zero beside a digit: "oh three oh four"
            near = (words[i][0] for i in (index - 1, index + 1) if 0 <= i < len(words))
            return any(w.isdigit() for w in near)
        return word.isdigit()

    runs: list[tuple[list[str], int, bool]] = []
    run: list[str] = []
    start, alone = 0, True
    before = ","  # what came before the run: a pause, or the start
    for index, (word, position) in enumerate(words):
        if digit(index):
            if not run:
                start, alone = position, before in _PAUSE
            run.append("0" if word in ("oh", "o") else word)
        elif run and word in _PAUSE:
            run.append(",")
        elif run and word in _INSIDE:
            continue
        else:
            if run:
                paused = run[-1] == ","  # the run ends at a pause
                runs.append((_trim(run), start, alone and paused))
                run = []
            before = word
    if run:
        runs.append((_trim(run), start, alone))
    return runs


def _trim(run: list[str]) -> list[str]:
    while run and run[-1] == ",":
        run.pop()
    return run


def _groups(run: list[str]) -> tuple[int, int, str] | None:
    """Month, day and year from a run's tokens, or None when they are not three groups."""
    paused = [list(group) for group in _split(run) if group]
    if len(paused) == 3:
        month, day, year = ("".join(group) for group in paused)
        return (int(month), int(day), year) if month and day else None
    said = [t for t in run if t != ","]
    if len(said) in (6, 8) and all(len(token) == 1 for token in said):
        digits = "".join(said)  # "1 0 2 1 7 1": month, day and year one digit at a time
        return int(digits[:2]), int(digits[2:4]), digits[4:]
    tokens: list[str] = []
    for token in said:
        if tokens and tokens[-1] == "0" and len(token) == 1:
            tokens[-1] += token  # "oh three" is "03"
        else:
            tokens.append(token)
    if len(tokens) == 4 and tokens[2] in ("19", "20") and len(tokens[3]) == 2:
        tokens[2:] = [tokens[2] + tokens[3]]  # "nineteen eighty" said in halves
    if len(tokens) == 4 and len(tokens[0]) == len(tokens[1]) == 1:
        tokens[:2] = [tokens[0] + tokens[1]]  # "one oh, twenty one, seventy one"
    if len(tokens) == 2 and len(tokens[0]) == 4:
        tokens = [tokens[0][:2], tokens[0][2:], tokens[1]]  # "0304 1980"
    if len(tokens) != 3:
        # "zero three zero four one nine eight zero": the digits alone, MMDDYYYY or MMDDYY.
        digits = "".join(said)
        if (len(digits) == 8 and digits[4:6] in ("19", "20")) or len(digits) == 6:
            return int(digits[:2]), int(digits[2:4]), digits[4:]
        return None
    return int(tokens[0]), int(tokens[1]), tokens[2]


def _split(run: list[str]) -> list[list[str]]:
    groups: list[list[str]] = [[]]
    for token in run:
        if token == ",":
            groups.append([])
        else:
            groups[-1].append(token)
    return groups
