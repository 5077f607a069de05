"""Call records: the call log, migrations, webhook, flow versions served, rollout changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine._lazy import exports

if TYPE_CHECKING:
    from engine.records.changes import RolloutChange, RolloutChanges
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
    from engine.records.versions import FlowVersions, StoredVersion
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
    "FlowVersions",
    "Outbox",
    "Outcome",
    "Placement",
    "PlatformReport",
    "RecordsError",
    "RolloutChange",
    "RolloutChanges",
    "StoredVersion",
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
        "engine.records.changes": ("RolloutChange", "RolloutChanges"),
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
        "engine.records.versions": ("FlowVersions", "StoredVersion"),
        "engine.records.webhook": ("SIGNATURE_HEADER", "sign", "verify"),
    },
)
