"""Where replayed calls come from besides the call log: a ``calls export --format jsonl`` file.

An export is one whole record per line. It is read line by line; a line that is no record is
reported as ``file:line: ...``. The same filters as for the call log apply (flow, versions,
days, outcomes, ids, a limit), newest first. An export made without ``--reveal`` has its
sensitive values masked: its calls that hold one cannot be played again (they are skipped,
saying so).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson
from pydantic import ValidationError

from engine.errors import DialplanError
from engine.records import CallRecord


class ExportError(DialplanError, ValueError):
    """A calls export that cannot be read (the message names the file and line)."""


def read_export(path: Path) -> list[CallRecord]:
    """Every record of a ``jsonl`` export, in the file's order."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ExportError(f"{path}: cannot read: {reason}") from None
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(CallRecord.model_validate(orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            raise ExportError(f"{path}:{number}: not JSON ({exc})") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "(record)"
            raise ExportError(
                f"{path}:{number}: not a call record ({where}: {first['msg']}); write one with "
                "`dialplan calls export --format jsonl --reveal`"
            ) from None
    return records


def select(
    records: Sequence[CallRecord],
    *,
    flow: str | None = None,
    versions: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    outcomes: Sequence[str] = (),
    call_ids: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[CallRecord]:
    """The records that pass the filters, newest first (as the call log gives them)."""
    wanted = set(call_ids) if call_ids is not None else None
    found = [
        record
        for record in records
        if (flow is None or record.flow == flow)
        and (not versions or record.flow_version in versions)
        and (since is None or _utc(record.started_at) >= _utc(since))
        and (until is None or _utc(record.started_at) < _utc(until))
        and (not outcomes or record.outcome in outcomes)
        and (wanted is None or record.call_id in wanted)
    ]
    found.sort(key=lambda record: (-_utc(record.started_at).timestamp(), record.call_id))
    return found[:limit] if limit is not None else found


def _utc(moment: datetime) -> datetime:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC)
