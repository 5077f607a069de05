"""Call records: the call log, its schema migrations, the signed end-of-call webhook."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine._lazy import exports

if TYPE_CHECKING:
    from engine.records.database import Database, RecordsError
    from engine.records.log import CALL_ENDED, CALL_TRANSFERRED, CallLog
    from engine.records.model import (
        OUTCOMES,
        CallFacts,
        CallRecord,
        Outcome,
        Placement,
        PlatformReport,
        TurnRecord,
        build_record,
        mask_text,
        masked,
        outcome,
        secrets_of,
    )
    from engine.records.outbox import Outbox
    from engine.records.webhook import SIGNATURE_HEADER, sign, verify

__all__ = [
    "CALL_ENDED",
    "CALL_TRANSFERRED",
    "OUTCOMES",
    "SIGNATURE_HEADER",
    "CallFacts",
    "CallLog",
    "CallRecord",
    "Database",
    "Outbox",
    "Outcome",
    "Placement",
    "PlatformReport",
    "RecordsError",
    "TurnRecord",
    "build_record",
    "mask_text",
    "masked",
    "outcome",
    "secrets_of",
    "sign",
    "verify",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "engine.records.database": ("Database", "RecordsError"),
        "engine.records.log": ("CALL_ENDED", "CALL_TRANSFERRED", "CallLog"),
        "engine.records.model": (
            "OUTCOMES",
            "CallFacts",
            "CallRecord",
            "Outcome",
            "Placement",
            "PlatformReport",
            "TurnRecord",
            "build_record",
            "mask_text",
            "masked",
            "outcome",
            "secrets_of",
        ),
        "engine.records.outbox": ("Outbox",),
        "engine.records.webhook": ("SIGNATURE_HEADER", "sign", "verify"),
    },
)
