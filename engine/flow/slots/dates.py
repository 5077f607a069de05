"""Dates: calendar days as callers say them, absolute, relative, or as a change to a known day."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from typing_extensions import override

from engine.flow.spec import SlotSpec
from engine.templates.spoken import spoken_date

from .base import NOT_A_QUANTITY, BaseSlotType, Parsed, numerals
from .digit_dates import birth_cue_before, digit_dates
from .shifts import shift

_MONTHS = {
    name: number
    for number in range(1, 13)
    for name in (calendar.month_name[number].lower(), calendar.month_abbr[number].lower())
} | {"sept": 9}
_MONTH = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DAY = r"(?P<day>3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?(?!\d)"
_YEAR = r"(?P<year>\d{4}|\d{2})"
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = r"(?P<weekday>(?:mon|tues|wednes|thurs|fri|satur|sun)day)"
_FROM_DAY = _WEEKDAY.replace("?P<weekday>", "?P<from_day>")

# Each pattern names the parts it finds; the first that matches wins, in this order.
_ABSOLUTE = (
    re.compile(r"\b(?P<year>\d{4})-(?P<month>\d\d)-(?P<day>\d\d)\b"),
    re.compile(r"\b(?P<month>\d{1,2})/(?P<day>\d{1,2})(?:/(?P<year>\d{4}|\d{2}))?\b"),
    re.compile(rf"\b(?P<year>\d{{4}}|(?<=\bin )\d\d) {_MONTH} (?:the )?{_DAY}\b"),
    # "1980, the third of March": the year first, then the day of the month
    re.compile(rf"\b(?P<year>\d{{4}}),? (?:the )?{_DAY} (?:day )?of {_MONTH}\b"),
    re.compile(rf"\b(?:the )?{_DAY} (?:day )?(?:of )?{_MONTH}\b(?:(?: of| in)? {_YEAR}\b)?"),
    re.compile(rf"\b{_MONTH} (?:the )?{_DAY}\b(?:(?: of| in)? {_YEAR}\b)?"),
    re.compile(rf"\b{_WEEKDAY} (?:the )?(?P<day>\d{{1,2}})(?:st|nd|rd|th)\b"),
    # "the first Monday in December", "the last Friday of the month"
    re.compile(
        rf"\b(?P<nth>1st|2nd|3rd|4th|last) {_WEEKDAY} (?:in|of) (?:{_MONTH}|(?:this|the) month)\b"
    ),
    # "the 14th, the Monday": the day of the month, then its weekday to be sure of it
    re.compile(
        r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)(?:,|(?=,? (?:the|a|that's a|that's the|it's a"
        rf"|which is a|which is the) )),? (?:the |a |that's a |that's the |it's a |which is a "
        rf"|which is the )?{_WEEKDAY}\b"
    ),
    re.compile(r"\b(?P<holiday>new year'?s? eve|new year'?s?(?: day)?|christmas eve|christmas)\b"),
)
_RELATIVE = re.compile(
    r"\b(?:(?P<after>(?:the )?day after tomorrow)"
    r"|(?P<today>today|tonight|this (?:afternoon|evening))"
    r"|(?P<tomorrow>tomorrow)|(?P<yesterday>yesterday)"
    r"|in (?P<count>\d+|a|one) (?P<unit>days?|weeks?)"
    rf"|(?P<weeks>\d+|a|one) weeks? from (?:(?P<from>today|tomorrow|now)|{_FROM_DAY})"
    rf"|(?:(?P<which>this|next|last|on|this coming|coming) )?{_WEEKDAY})\b"
)
# A weekday of next week: "next week, say Thursday", "Thursday next week".
_NEXT_WEEK = (
    re.compile(
        r"\bnext week,? (?:(?:say|maybe|on|like|uh|um|probably|perhaps|preferably|ideally|the"
        rf"|how about|let's say|sometime|any time|anytime) ){{0,3}}{_WEEKDAY}\b"
    ),
    re.compile(rf"(?<!this )(?<!next )(?<!last )\b{_WEEKDAY},? (?:of )?next week\b"),
)
_ANY_MONTH = _MONTH.replace("?P<month>", "?:")
# A limit, not a day: "any day after the 8th", "before December 20th" (not "the day after").
_LIMIT = re.compile(
    r"(?<!the day )(?<!a day )(?<!the week )(?<!a week )"
    r"\b(?:after|before|until|till|til|no (?:later|earlier) than) "
    rf"(?:{_ANY_MONTH} )?(?:the )?\d{{1,2}}(?:st|nd|rd|th)?\b(?: of {_ANY_MONTH}\b)?"
)
# A day of the month alone ("the 4th"): only as an answer, or to change a known date.
_ORDINAL = re.compile(r"\b(?:on )?(?:the )?(?P<day>\d{1,2})(?:st|nd|rd|th)\b")
# Volunteered, a day of the month needs "on the": "a table for 4 on the 5th" (not "the 5th
# floor", "my 3rd visit"), or a word that takes it as a day ("and the 2nd works").
_ON_ORDINAL = re.compile(
    r"\b(?:on the|the(?= \d{1,2}(?:st|nd|rd|th) (?:works|would work|is fine|would be fine"
    r"|is good|would be good|is better|suits)\b)) (?P<day>\d{1,2})(?:st|nd|rd|th)\b"
    r"(?! (?:floor|street|st|avenue|ave|time|of \w+ (?:floor|street)))"
)
_ALONE_MONTH = re.compile(rf"\b{_MONTH}\b")
_ALONE_YEAR = re.compile(r"\b(?:in )?(?P<year>(?:19|20)\d\d)\b")
# "The year is wrong, it's eighty one": a year in two digits, where the year is named.
_NAMED_YEAR = re.compile(r"\byear\b\D{0,30}?\b(?P<year>\d\d)\b")
# Numbers that are no part of a date (see NOT_A_QUANTITY).
_NOT_DATE = re.compile(rf"{NOT_A_QUANTITY}|\b\d+(?= (?:apartment|apt|suite)\b)")
# Days with a name of their own that is not the date or weekday inside it: Good Friday is no
# "Friday" (the next one), Lunar New Year no 1 January, Orthodox Christmas no 25 December.
# Their dates move from year to year; none is read, so the caller is asked for the day.
_NAMED_DAY = re.compile(
    r"\b(?:(?:good|black|holy|maundy|ash|palm|easter|cyber|shrove|whit|plough|super bowl"
    r"|giving|small business) (?:mon|tues|wednes|thurs|fri|satur|sun)day"
    r"|(?:lunar|chinese|vietnamese|korean|persian|iranian|jewish|islamic|hijri|hmong|tamil"
    r"|sinhala|thai|orthodox|ethiopian|coptic) new year'?s?(?: (?:eve|day))?"
    r"|(?:orthodox|coptic|ethiopian|armenian|old) christmas(?: eve| day)?)\b"
)
# A weekday alone, said to change a day held ("Wednesday, not Monday"): not "next Friday",
# "this Friday" or "two weeks from Friday", which say which one themselves.
_BARE_WEEKDAY = re.compile(
    rf"(?<!next )(?<!last )(?<!this )(?<!coming )(?<!from )\b{_WEEKDAY}\b(?! (?:the )?\d)"
)
_FUTURE_REACH = 5 * 366  # days: a date to come further ahead is a number misheard as a year


@dataclass(frozen=True)
class _Parts:
    """What a caller said of a date: any of day, month and year (a year as said)."""

    day: int | None = None
    month: int | None = None
    year: str | None = None


def _normal(text: str) -> str:
    # "First thing", "first name": no first of a month.
    text = re.sub(r"\bfirst (?=thing|name|time|visit|appointment)", "", text, flags=re.I)
    text = re.sub(r"\b(eighteen|nineteen)-(?=[a-z])", r"\1 ", text, flags=re.I)  # "nineteen-eighty"
    said = numerals(text.replace("\u2019", "'"))
    said = re.sub(r"\bnew years\b", "new year's", said)
    said = " ".join(re.sub(r"[^\w/' -]+|(?<!\w)-|-(?!\w)|'(?!s\b)", " ", said).split())
    said = re.sub(r"\b(?:uh+|um+|er+m?|ah+|hmm+)\b ?", "", said)  # "April, uh, the 22nd"
    # text2num reads "nineteen eighty" as "19 80" and "twenty oh five" as "20 oh 5".
    said = re.sub(r"\b(1[89]|20) (\d\d)\b(?! ?(?:am|pm|o'?clock))", r"\1\2", said)
    said = re.sub(r"\b(1[89]|20) oh (\d)\b", r"\g<1>0\2", said)
    # "The fifth of May, oh two": a year said with "oh".
    said = re.sub(rf"(\b{_MONTH}\b|\d(?:st|nd|rd|th)) oh (\d)\b", r"\1 0\3", said)
    said = _NAMED_DAY.sub("#", said)
    said = _LIMIT.sub("#", said)  # "any day after the 8th" names no day
    return _NOT_DATE.sub("#", said)


class DateType(BaseSlotType):
    """A calendar date, stored as ``YYYY-MM-DD``.

    Volunteered only with strong evidence: a month name with a day ("March third nineteen
    eighty", "the 4th of December"), a numeric date (month first: "3/4/1980"), a holiday, or
    a relative day ("tomorrow", "this Friday", "in 3 days"); a bare "6" is never a date. As an
    answer, a day of the month alone counts too ("the 4th": the next 4th). Without a year,
    ``past`` slots take the most recent such day, others the next one (today included); a
    two-digit year is the latest that fits. ``amend`` changes only the parts a caller names
    ("the fourth, not the third" keeps the month and year), moves the day held ("a week later")
    or takes the weekday nearest it ("Wednesday, not Monday").
    """

    name = "date"
    format = "date as YYYY-MM-DD"
    invalid = "I didn't catch a date"
    parts = re.compile(r"\b(?:the )?(?:day|month|year)\b", re.IGNORECASE)
    changes = re.compile(  # "a week later", "the day after"
        r"\b(?:later|earlier|weeks?|(?:next|following) day|day (?:after|before)|(?:one|1) after)\b",
        re.IGNORECASE,
    )

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        text = _normal(said)
        for pattern in _ABSOLUTE:
            if found := pattern.search(text):
                return self._absolute(found, spec, today, asked)
        if digits := self._digits(said, spec, asked):
            return self._resolve(digits, spec, today)
        found = next((m for pattern in _NEXT_WEEK if (m := pattern.search(text))), None)
        if found is not None and not spec.with_year:
            monday = today + timedelta(days=7 - today.weekday())
            return self._check(
                monday + timedelta(days=_WEEKDAYS.index(found["weekday"])), spec, today
            )
        if found := _RELATIVE.search(text):
            if spec.with_year:
                # "Sunday" or "yesterday" is no date of birth: the caller said no year.
                return Parsed(False, error="I need the month and the year too") if asked else None
            when, sure = _relative(found, spec, today)
            if when is None:
                return None
            parsed = self._check(when, spec, today)
            return parsed if sure else replace(parsed, sure=False)
        found = _ORDINAL.search(text) if asked else _ON_ORDINAL.search(text)
        if found:
            if spec.with_year:
                return Parsed(False, error="I need the month and the year too") if asked else None
            return self._resolve(_Parts(day=int(found["day"])), spec, today)
        return None

    @staticmethod
    def _digits(said: str, spec: SlotSpec, asked: bool) -> _Parts | None:
        """A date said in digit groups ("oh three oh four nineteen eighty"), where it counts.

        Asked, always; a date of birth also when said with "born" or "birthday", or as a piece
        of its own ("Grace Okafor, three four eighty, and ..."). A date to come needs a year of
        four digits (else "8 30 20" is a time and a count).
        """
        text = _LIMIT.sub("#", _NOT_DATE.sub("#", numerals(said)))
        for found in reversed(digit_dates(text)):
            if spec.future and len(found.year) != 4:
                continue
            if asked or (spec.past and (found.whole or birth_cue_before(text, found.start))):
                return _Parts(found.day, found.month, found.year)
        return None

    def amend(self, text: str, spec: SlotSpec, today: date, base: object) -> Parsed | None:
        """``base`` with the day, month or year ``text`` names ("the 5th", "June", "1981").

        Or moved as ``text`` says ("a week later"), or the weekday it names nearest ``base``.
        """
        try:
            known = date.fromisoformat(str(base))
        except ValueError:
            return None
        said = _normal(text)
        if (days := shift(said, "days")) is not None:
            return self._check(known + timedelta(days=days), spec, today)  # "a week later"
        # A whole date in digits replaces the known one: "it's oh three oh five nineteen eighty".
        if whole := self._digits(text, spec, asked=True):
            return self._resolve(whole, spec, today)
        for pattern in _ABSOLUTE[:2]:
            if (found := pattern.search(said)) and found.groupdict().get("year"):
                return self._absolute(found, spec, today, asked=True)
        parts = _Parts()
        for pattern in _ABSOLUTE[2:6]:  # a month and a day, maybe a year
            if found := pattern.search(said):
                groups = found.groupdict()
                parts = _Parts(int(found["day"]), _MONTHS[found["month"][:3]], groups.get("year"))
                break
        else:
            day = _ORDINAL.search(said)
            month = _ALONE_MONTH.search(said)
            year = _ALONE_YEAR.search(said) or _NAMED_YEAR.search(said)
            # A correction of a date with its year that is a number alone ("March 3rd 1980, no
            # wait, eighty-one"): a number no day can be is the year.
            if not (day or month or year) and spec.with_year:
                year = re.fullmatch(
                    r"\s*(?:it's |make it |i mean )?(?P<year>3[2-9]|[4-9]\d)\s*", said
                )
            if not (day or month or year) and (weekday := _BARE_WEEKDAY.search(said)):
                return self._check(_nearest(weekday["weekday"], known, spec, today), spec, today)
            parts = _Parts(
                int(day["day"]) if day else None,
                _MONTHS[month["month"][:3]] if month else None,
                year["year"] if year else None,
            )
        if parts == _Parts():
            return None
        year_of = _year(parts.year, spec, today) if parts.year else known.year
        try:
            when = known.replace(
                year=year_of, month=parts.month or known.month, day=parts.day or known.day
            )
        except ValueError:
            return Parsed(False, error="that isn't a real date")
        return self._check(when, spec, today)

    def _absolute(
        self, found: re.Match[str], spec: SlotSpec, today: date, asked: bool
    ) -> Parsed | None:
        groups = found.groupdict()
        if groups.get("holiday"):
            name = found["holiday"]
            if name.startswith("new year"):
                month, day = (12, 31) if name.endswith("eve") else (1, 1)
            else:
                month, day = (12, 24) if name.endswith("eve") else (12, 25)
            parts = _Parts(day, month)
        elif groups.get("nth"):
            return self._nth_weekday(found, spec, today)
        elif groups.get("weekday"):
            return self._weekday_and_day(found, spec, today)
        else:
            month_said = found["month"]
            month = int(month_said) if month_said.isdigit() else _MONTHS[month_said[:3]]
            parts = _Parts(int(found["day"]), month, groups.get("year"))
        if spec.with_year and not parts.year:
            # "The third of March" is no date of birth; ask again rather than guess the year.
            return Parsed(False, error="I need the year too") if asked else None
        return self._resolve(parts, spec, today)

    def _weekday_and_day(self, found: re.Match[str], spec: SlotSpec, today: date) -> Parsed:
        # "Friday the 4th": the nearest 4th that is a Friday, else simply the nearest 4th.
        day, weekday = int(found["day"]), _WEEKDAYS.index(found["weekday"])
        step = -1 if spec.past else 1
        month_start = today.replace(day=1)
        for offset in range(13):
            month = _add_months(month_start, step * offset)
            try:
                when = month.replace(day=day)
            except ValueError:
                continue
            if when.weekday() == weekday and (when <= today if spec.past else when >= today):
                return self._check(when, spec, today)
        return self._resolve(_Parts(day=day), spec, today)

    def _nth_weekday(self, found: re.Match[str], spec: SlotSpec, today: date) -> Parsed:
        """A weekday counted in a month: "the first Monday in December", "the last Friday"."""
        weekday = _WEEKDAYS.index(found["weekday"])
        years: tuple[int, ...]
        if found["month"]:
            month = _MONTHS[found["month"][:3]]
            years = (today.year, today.year + 1) if not spec.past else (today.year, today.year - 1)
        else:
            month, years = today.month, (today.year,)
        for year in years:
            days = [
                day
                for day in range(1, calendar.monthrange(year, month)[1] + 1)
                if date(year, month, day).weekday() == weekday
            ]
            nth = found["nth"]
            day = days[-1] if nth == "last" else days[int(nth[0]) - 1]
            when = date(year, month, day)
            if not found["month"] or (when <= today if spec.past else when >= today):
                return self._check(when, spec, today)
        return Parsed(False, error="that isn't a real date")

    def _resolve(self, parts: _Parts, spec: SlotSpec, today: date) -> Parsed:
        assert parts.day is not None
        if parts.year:
            year = _year(parts.year, spec, today)
            try:
                return self._check(date(year, parts.month or today.month, parts.day), spec, today)
            except ValueError:
                return Parsed(False, error="that isn't a real date")
        if parts.month is None:
            # The day of this month or the next (the last, for a date in the past).
            step = -1 if spec.past else 1
            for offset in range(3):
                month = _add_months(today.replace(day=1), step * offset)
                try:
                    when = month.replace(day=parts.day)
                except ValueError:
                    continue
                if when <= today if spec.past else when >= today:
                    return self._check(when, spec, today)
            return Parsed(False, error="that isn't a real date")
        for year in (today.year - 1, today.year, today.year + 1) if not spec.past else ():
            try:
                when = date(year, parts.month, parts.day)
            except ValueError:
                continue
            if when >= today:
                return self._check(when, spec, today)
        for year in range(today.year, today.year - 5, -1):
            try:
                when = date(year, parts.month, parts.day)
            except ValueError:
                continue
            if when <= today:
                return self._check(when, spec, today)
        return Parsed(False, error="that isn't a real date")

    @staticmethod
    def _check(when: date, spec: SlotSpec, today: date) -> Parsed:
        if spec.past and when > today:
            return Parsed(False, error="that date is in the future")
        if spec.future and when < today:
            return Parsed(False, error="that date is in the past")
        if spec.future and (when - today).days > _FUTURE_REACH:
            return Parsed(False, error="that date is too far ahead")
        age = today.year - when.year - ((today.month, today.day) < (when.month, when.day))
        if spec.past and age > 120:
            return Parsed(False, error="that date is too long ago")
        return Parsed(True, when.isoformat())

    @override
    def say(self, value: object, spec: SlotSpec) -> str:
        return spoken_date(value, weekday=spec.future)


def _year(said: str, spec: SlotSpec, today: date) -> int:
    """A year as said: two digits are the latest year that fits ("72" -> 1972 for a birth)."""
    if len(said) == 4:
        return int(said)
    century = today.year // 100 * 100
    year = century + int(said)
    return year - 100 if spec.past and year > today.year else year


def _nearest(weekday: str, known: date, spec: SlotSpec, today: date) -> date:
    """The ``weekday`` nearest the day held: "Wednesday, not Monday" is that week's Wednesday.

    For a date to come it is never before today, for a date gone never after it.
    """
    offset = (_WEEKDAYS.index(weekday) - known.weekday() + 3) % 7 - 3  # -3 to 3 days away
    when = known + timedelta(days=offset)
    if spec.future and when < today:
        return when + timedelta(weeks=1)
    if spec.past and when > today:
        return when - timedelta(weeks=1)
    return when


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _relative(found: re.Match[str], spec: SlotSpec, today: date) -> tuple[date | None, bool]:
    """The day a relative phrase means, and whether that reading is sure."""
    if found["after"]:
        return today + timedelta(days=2), True
    if found["today"]:
        return today, True
    if found["tomorrow"]:
        return today + timedelta(days=1), True
    if found["yesterday"]:
        return today - timedelta(days=1), True
    if found["unit"]:
        count = 1 if found["count"] in ("a", "one") else int(found["count"])
        return today + timedelta(days=count * (7 if found["unit"].startswith("week") else 1)), True
    if found["weeks"]:
        # "Two weeks from today", "a week from Friday".
        weeks = 1 if found["weeks"] in ("a", "one") else int(found["weeks"])
        if found["from_day"]:
            start = today + timedelta(
                days=(_WEEKDAYS.index(found["from_day"]) - today.weekday()) % 7
            )
        else:
            start = today + timedelta(days=found["from"] == "tomorrow")
        return start + timedelta(weeks=weeks), True
    weekday = _WEEKDAYS.index(found["weekday"])
    which = found["which"] or ""
    if which == "last" or (spec.past and which != "next"):
        return today - timedelta(days=(today.weekday() - weekday) % 7 or 7), True
    ahead = (weekday - today.weekday()) % 7
    if which == "next":
        # "Next Friday": the Friday of next week, not the one of this week. Said while this
        # week's Friday is still to come, it may mean that one: read it back to be sure.
        monday = today + timedelta(days=7 - today.weekday())
        return monday + timedelta(days=weekday), weekday <= today.weekday()
    return today + timedelta(days=ahead), True
