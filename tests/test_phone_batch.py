"""Batch files: every row checked before anything is placed, problems at file:line."""

from __future__ import annotations

import pytest

from engine.phone.batch import BatchFileError, read_batch


def write(tmp_path, text: str, name: str = "people.csv"):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_phone_column_is_the_number_and_every_other_column_a_variable(tmp_path):
    path = write(tmp_path, "Name,Phone,appointment\nDana,+14155550100,3 PM\nFox,+1 415 555 0101,\n")
    batch = read_batch(path)
    assert batch.problems == []
    assert [(r.line, r.to_number, r.variables) for r in batch.rows] == [
        (2, "+14155550100", {"Name": "Dana", "appointment": "3 PM"}),
        (3, "+14155550101", {"Name": "Fox", "appointment": ""}),
    ]


def test_bad_numbers_and_numbers_listed_twice_are_reported_at_their_lines(tmp_path):
    text = (
        "phone,name\n"
        "+14155550100,Dana\n"
        "\n"
        "4155550101,Fox\n"
        '+1555,"Walter\nSkinner"\n'
        "+1 (415) 555-0100,Dana again\n"
        "+14155550102,Monica,extra\n"
        "+14155550103,John\n"
    )
    batch = read_batch(write(tmp_path, text))
    assert batch.problems == [
        f"{tmp_path}/people.csv:4: '4155550101' has no country code we know (start it with + "
        "and the country code)",
        f"{tmp_path}/people.csv:5: '+1555' is not a valid phone number",
        f"{tmp_path}/people.csv:7: +14155550100 is also on line 2 (a batch calls a number once)",
        f"{tmp_path}/people.csv:8: 3 cells, but the header has 2 columns",
    ]
    assert [r.line for r in batch.good] == [2, 9]


def test_a_region_reads_national_numbers(tmp_path):
    batch = read_batch(write(tmp_path, "phone\n(415) 555-0100\n020 7946 0958\n"), "us")
    assert batch.rows[0].to_number == "+14155550100"
    assert batch.rows[1].problem is not None
    assert read_batch(write(tmp_path, "phone\n020 7946 0958\n"), "GB").rows[0].to_number == (
        "+442079460958"
    )


def test_a_spreadsheets_semicolons_and_byte_order_mark_are_understood(tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes("\ufeffphone;name\n+14155550100;Dana\n".encode())
    assert read_batch(path).rows[0].variables == {"name": "Dana"}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name,number\nDana,+14155550100\n", ":1: no `phone` column (columns: name, number)"),
        ("phone,name,Name\n+14155550100,a,b\n", ":1: two columns are named 'Name'"),
        ("phone,,x\n+14155550100,a,b\n", ":1: column 2 has no name"),
        ("phone,name\n", ": no rows below the header"),
        ("", ":1: no header row"),
    ],
)
def test_a_file_that_is_no_batch_says_why(tmp_path, text, says):
    with pytest.raises(BatchFileError) as caught:
        read_batch(write(tmp_path, text))
    assert str(caught.value).startswith(f"{tmp_path}/people.csv{says}")


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(BatchFileError, match=r"nope\.csv: cannot read"):
        read_batch(tmp_path / "nope.csv")
