"""Calls as files for a spreadsheet or a program: CSV (a row per call) and JSON Lines.

``dialplan calls export`` writes these, and the console's export button serves the very same
files for the calls its search finds. Records are written as given: the caller masks them
first unless asked to reveal.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any, Literal, TypeAlias

import orjson

from .model import CallRecord

Format: TypeAlias = Literal["csv", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl; charset=utf-8"}

FIXED_COLUMNS = (
    "call_id",
    "flow",
    "flow_version",
    "started_at",
    "ended_at",
    "duration_s",
    "outcome",
    "from_number",
    "to_number",
    "direction",
    "transfer_number",
)
PHONE_COLUMNS = ("batch", "batch_row", "disconnection_reason", "recording_url")
"""From how dialplan placed the call and what the platform's events said."""


def export(records: Iterable[CallRecord], fmt: Format) -> str:
    """``records`` (oldest first, as given) as one file of format ``fmt``."""
    return to_csv(records) if fmt == "csv" else "".join(jsonl(records))


def jsonl(records: Iterable[CallRecord]) -> Iterator[str]:
    """One whole record per line."""
    for record in records:
        yield orjson.dumps(record.to_json()).decode() + "\n"


def to_csv(records: Iterable[CallRecord]) -> str:
    """One row per call: the call's fields, then one column per slot (first seen, first)."""
    records = list(records)
    slots: dict[str, str] = {}
    for record in records:
        for name in record.slots:
            taken = name in FIXED_COLUMNS or name in PHONE_COLUMNS
            column = name if not taken else f"slot_{name}"
            slots.setdefault(name, column)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*FIXED_COLUMNS, *PHONE_COLUMNS, *slots.values()])
    for record in records:
        data = record.to_json()
        row = [_cell(data.get(column)) for column in FIXED_COLUMNS]
        placed, report = record.placed, record.platform
        row += [
            _cell(placed.batch if placed else None),
            _cell(placed.row if placed else None),
            _cell(report.disconnection_reason if report else None),
            _cell(report.recording_url if report else None),
        ]
        row += [_cell(record.slots.get(name)) for name in slots]
        writer.writerow(row)
    return buffer.getvalue()


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return _json(value)
