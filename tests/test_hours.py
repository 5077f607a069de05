"""Opening hours: the reason a day or time is refused, and hours as authors write them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.flow.hours import check_hours, within_hours
from engine.flow.slots import Parsed
from engine.flow.spec import OpeningHours

HOURS = OpeningHours(open="17:00", close="21:30", closed=("monday",))


@pytest.mark.parametrize(
    ("kind", "value", "reason"),
    [
        ("time", "10:00", "we open at 5 PM"),
        ("time", "22:00", "the last time we can do is 9:30 PM"),
        ("time", "17:00", ""),
        ("time", "21:30", ""),
        ("date", "2026-11-30", "we're closed on Mondays"),
        ("date", "2026-12-01", ""),
        ("name", "Monday", ""),
    ],
)
def test_check_hours(kind: str, value: str, reason: str) -> None:
    assert check_hours(kind, value, HOURS) == reason


def test_unquoted_yaml_times_and_day_names_are_read_as_written() -> None:
    # YAML 1.1 reads an unquoted 17:00 as the base-60 integer 1020.
    hours = OpeningHours.model_validate({"open": 540, "close": "21:30", "closed": ["Sunday"]})
    assert (hours.open, hours.close, hours.closed) == ("09:00", "21:30", ("sunday",))


@pytest.mark.parametrize(
    "data",
    [
        {"open": "25:00", "close": "21:00"},
        {"open": "21:00", "close": "17:00"},
        {"open": "17:00", "close": "21:00", "closed": ["someday"]},
    ],
)
def test_bad_hours_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        OpeningHours.model_validate(data)


def test_the_reading_inside_the_hours_is_chosen() -> None:
    garage = OpeningHours(open="08:00", close="17:00")
    eight = Parsed(True, "20:00", others=("08:00",))
    assert within_hours("time", eight, garage, required=False) == Parsed(True, "08:00")
    seven_thirty = Parsed(True, "19:30", others=("07:30",))
    assert within_hours("time", seven_thirty, garage, required=False) == Parsed(True, "07:30")
    refused = within_hours("time", seven_thirty, garage, required=True)
    assert refused == Parsed(False, error="we open at 8 AM")
    assert within_hours("time", Parsed(True, "10:00"), garage, required=True) == Parsed(
        True, "10:00"
    )
