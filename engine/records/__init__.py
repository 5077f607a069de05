"""Call records: the call log, its schema migrations, the signed end-of-call webhook."""

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
