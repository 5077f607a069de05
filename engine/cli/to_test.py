"""What ``dialplan calls to-test`` needs of the project: the day a call ran on, model states."""

from __future__ import annotations

from datetime import date

from engine.errors import DialplanError
from engine.records import CallRecord

from . import _project


def call_day(record: CallRecord) -> date:
    """The day the call's "today" was: the settings' fixed day, else its own in its zone.

    The zone is the call's ``metadata.time_zone``, else its flow's, else the project's.
    """
    project = _project.project()
    if project.settings.today is not None:
        return project.settings.today
    from engine.flow.spec import check_time_zone

    zone_name = record.metadata.get("time_zone") if isinstance(record.metadata, dict) else None
    if not isinstance(zone_name, str) or not zone_name:
        try:
            zone_name = project.open_flow(record.flow or "").spec.time_zone
        except (DialplanError, LookupError):
            zone_name = None
    try:
        zone = check_time_zone(zone_name or project.settings.time_zone)
    except ValueError:
        zone = check_time_zone("UTC")
    return record.started_at.astimezone(zone).date()


def prompt_states(flow: str) -> frozenset[str]:
    """The states of ``flow`` (as it is now) where the model speaks."""
    try:
        return frozenset(_project.project().open_flow(flow).model_states())
    except (DialplanError, LookupError):
        return frozenset()
