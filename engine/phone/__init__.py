"""Phone calls: the platform's REST API, call batches, its webhooks and inbound routing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine._lazy import exports

if TYPE_CHECKING:
    from engine.phone.client import CreatePhoneCall, PhoneCall, PlatformClient, PlatformError
    from engine.phone.events import CALL_EVENTS, EventQueue, EventStore, PlatformEvent
    from engine.phone.ledger import Ledger, Placement
    from engine.phone.numbers import BadNumber, e164
    from engine.phone.routes import InboundCall, Route, Router, RoutingTable, load_routes
    from engine.phone.service import PlatformHooks
    from engine.phone.signature import SIGNATURE_HEADER, sign, verify

__all__ = [
    "CALL_EVENTS",
    "SIGNATURE_HEADER",
    "BadNumber",
    "CreatePhoneCall",
    "EventQueue",
    "EventStore",
    "InboundCall",
    "Ledger",
    "PhoneCall",
    "Placement",
    "PlatformClient",
    "PlatformError",
    "PlatformEvent",
    "PlatformHooks",
    "Route",
    "Router",
    "RoutingTable",
    "e164",
    "load_routes",
    "sign",
    "verify",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "engine.phone.client": ("CreatePhoneCall", "PhoneCall", "PlatformClient", "PlatformError"),
        "engine.phone.events": ("CALL_EVENTS", "EventQueue", "EventStore", "PlatformEvent"),
        "engine.phone.ledger": ("Ledger", "Placement"),
        "engine.phone.numbers": ("BadNumber", "e164"),
        "engine.phone.routes": ("InboundCall", "Route", "Router", "RoutingTable", "load_routes"),
        "engine.phone.service": ("PlatformHooks",),
        "engine.phone.signature": ("SIGNATURE_HEADER", "sign", "verify"),
    },
)
