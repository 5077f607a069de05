"""A batch file: a CSV with a ``phone`` column; every other column is a variable of its row.

Every row is checked before anything is placed: the number (with ``phonenumbers``), a number
listed twice, a row with more cells than the header has columns. Problems read
``file:line: message``, with the line as a spreadsheet shows it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from .numbers import BadNumber, e164

PHONE_COLUMN = "phone"


class BatchFileError(ValueError):
    """The file cannot be a batch at all (unreadable, no header, no ``phone`` column)."""


@dataclass(frozen=True)
class Row:
    """One person to call: the number (E.164) and the row's variables."""

    line: int
    phone: str
    """As written in the file."""
    to_number: str | None
    """E.164, or ``None`` when the row has a problem."""
    variables: dict[str, str] = field(default_factory=dict)
    problem: str | None = None


@dataclass(frozen=True)
class BatchFile:
    """A batch file's rows, in order, each checked."""

    path: Path
    rows: list[Row]

    @property
    def problems(self) -> list[str]:
        """``file:line: message`` for every row that cannot be placed."""
        return [f"{self.path}:{row.line}: {row.problem}" for row in self.rows if row.problem]

    @property
    def good(self) -> list[Row]:
        """The rows that can be placed."""
        return [row for row in self.rows if row.problem is None]


def read_batch(path: Path, region: str | None = None) -> BatchFile:
    """Read and check ``path``; :class:`BatchFileError` if it is not a batch file at all."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's byte order mark is dropped
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise BatchFileError(f"{path}: cannot read: {reason}") from None
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:4096], delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(text.splitlines(keepends=True), dialect)
    header = next(reader, None)
    if not header or not any(cell.strip() for cell in header):
        raise BatchFileError(f"{path}:1: no header row (the first row names the columns)")
    names = [cell.strip() for cell in header]
    lowered = [name.lower() for name in names]
    if PHONE_COLUMN not in lowered:
        raise BatchFileError(
            f"{path}:1: no `{PHONE_COLUMN}` column (columns: {', '.join(n for n in names if n)})"
        )
    for index, name in enumerate(names):
        if not name:
            raise BatchFileError(f"{path}:1: column {index + 1} has no name")
        if lowered.index(name.lower()) != index:
            raise BatchFileError(f"{path}:1: two columns are named {name!r}")
    phone_at = lowered.index(PHONE_COLUMN)
    rows: list[Row] = []
    seen: dict[str, int] = {}
    line = reader.line_num + 1
    for cells in reader:
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        phone = cells[phone_at].strip() if phone_at < len(cells) else ""
        variables = {
            name: (cells[i].strip() if i < len(cells) else "")
            for i, name in enumerate(names)
            if i != phone_at
        }
        problem = None
        number = None
        if len(cells) > len(names):
            problem = f"{len(cells)} cells, but the header has {len(names)} columns"
        else:
            try:
                number = e164(phone, region)
            except BadNumber as exc:
                problem = str(exc)
            else:
                if number in seen:
                    problem = (
                        f"{number} is also on line {seen[number]} (a batch calls a number once)"
                    )
                    number = None
                else:
                    seen[number] = start
        rows.append(Row(start, phone, number if problem is None else None, variables, problem))
    if not rows:
        raise BatchFileError(f"{path}: no rows below the header")
    return BatchFile(path, rows)
