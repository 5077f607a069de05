"""Dates: calendar days as callers say them, absolute or relative."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from datetime import time as clock_time

from typing_extensions import override

from engine.flow.spec import SlotSpec
from engine.templates.spoken import spoken_date

from .base import BaseSlotType, Parsed, numerals

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


class DateType(BaseSlotType):
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
        said = " ".join(re.sub(r"[^\w/ -]+", " ", numerals(said)).split())
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

    @override
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
