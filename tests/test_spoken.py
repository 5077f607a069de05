from datetime import date, datetime, time

import pytest

from engine.templates.spoken import (
    SPOKEN_FILTERS,
    characters,
    digits,
    ordinal,
    spell,
    spoken_date,
    spoken_email,
    spoken_list,
    spoken_time,
)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (23, "23rd"),
        (31, "31st"),
    ],
)
def test_ordinal(day: int, expected: str) -> None:
    assert ordinal(day) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1980-03-03", "March 3rd, 1980"),
        (" 1990-06-21 ", "June 21st, 1990"),
        (date(2025, 12, 1), "December 1st, 2025"),
        (datetime(2025, 1, 22, 19, 30), "January 22nd, 2025"),
        ("2025-01-11T10:00:00", "January 11th, 2025"),
    ],
)
def test_spoken_date(value: object, expected: str) -> None:
    assert spoken_date(value) == expected


def test_spoken_date_without_year() -> None:
    assert spoken_date("1980-03-03", year=False) == "March 3rd"


def test_spoken_date_with_the_weekday_to_confirm_by() -> None:
    assert spoken_date("2026-12-04", year=False, weekday=True) == "Friday, December 4th"
    assert spoken_date("2026-12-04", weekday=True) == "Friday, December 4th, 2026"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("19:30", "7:30 PM"),
        ("19:00", "7 PM"),
        ("07:05", "7:05 AM"),
        ("12:00", "noon"),
        ("00:00", "midnight"),
        ("00:30", "12:30 AM"),
        ("12:15", "12:15 PM"),
        (time(9, 0), "9 AM"),
        (datetime(2025, 1, 1, 21, 45), "9:45 PM"),
    ],
)
def test_spoken_time(value: object, expected: str) -> None:
    assert spoken_time(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("4155550123", "4 1 5, 5 5 5, 0 1 2 3"),
        ("+14155550123", "4 1 5, 5 5 5, 0 1 2 3"),
        ("(415) 555-0123", "4 1 5, 5 5 5, 0 1 2 3"),
        (4155550123, "4 1 5, 5 5 5, 0 1 2 3"),
        ("12345678", "1 2 3, 4 5 6, 7 8"),
        ("+442071838750", "plus 4 4 2, 0 7 1, 8 3 8, 7 5 0"),
        ("42", "4 2"),
    ],
)
def test_digits(value: object, expected: str) -> None:
    assert digits(value) == expected


def test_digits_group_size() -> None:
    assert digits("123456", group=2) == "1 2, 3 4, 5 6"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Dana", "D, A, N, A"), ("dana scully", "D, A, N, A. S, C, U, L, L, Y"), ("", "")],
)
def test_spell(value: str, expected: str) -> None:
    assert spell(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("dana.scully@example.com", "dana dot scully at example dot com"),
        ("fox_mulder-1@fbi.gov", "fox underscore mulder dash 1 at fbi dot gov"),
        ("dana77+x@example.com", "dana 7 7 plus x at example dot com"),
    ],
)
def test_spoken_email(value: str, expected: str) -> None:
    assert spoken_email(value) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["7 PM", "8 PM", "9 PM"], "7 PM, 8 PM or 9 PM"),
        (["7 PM", "8 PM"], "7 PM or 8 PM"),
        (["7 PM"], "7 PM"),
        ([], ""),
        ((n for n in (1, 2, 3)), "1, 2 or 3"),
    ],
)
def test_spoken_list(values: object, expected: str) -> None:
    assert spoken_list(values) == expected


def test_spoken_list_conjunction() -> None:
    assert spoken_list(["tea", "coffee"], conj="and") == "tea and coffee"


@pytest.mark.parametrize(
    ("fn", "value"),
    [
        (spoken_date, "not a date"),
        (spoken_date, "2023-02-30"),
        (spoken_date, None),
        (spoken_date, 42),
        (spoken_time, "25:00"),
        (spoken_time, "seven"),
        (spoken_time, None),
        (digits, "call me"),
        (digits, None),
        (spoken_email, "no address"),
        (spoken_list, "a string"),
        (spoken_list, 7),
    ],
)
def test_bad_input_comes_back_as_text(fn: object, value: object) -> None:
    assert callable(fn)
    assert fn(value) == str(value)


def test_bad_group_is_tolerated() -> None:
    assert digits("123", group=0) == "123"


def test_filters_are_registered_by_name() -> None:
    assert set(SPOKEN_FILTERS) == {
        "spoken_date",
        "spoken_time",
        "digits",
        "characters",
        "spell",
        "spoken_email",
        "spoken_list",
    }
    assert all(fn.__name__ == name for name, fn in SPOKEN_FILTERS.items())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("XJH004512", "X J H, 0 0 4, 5 1 2"),
        ("4417203", "4 4 1, 7 2 0 3"),
        ("0621449", "0 6 2, 1 4 4 9"),
        ("AB12", "A B, 1 2"),
        ("1234", "1 2 3 4"),
        ("", ""),
    ],
)
def test_characters_are_read_one_by_one_in_groups(value: str, expected: str) -> None:
    assert characters(value) == expected
