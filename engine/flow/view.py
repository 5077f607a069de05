"""What templates and guards see: ``slots``, ``call``, ``flow`` and ``state``.

Caller speech reaches a template only as values inside ``slots`` and ``call``, never as
template source.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.agent import CallInfo

from .compile import CompiledFlow


def template_view(
    flow: CompiledFlow, state: str, slots: Mapping[str, Any], call: CallInfo
) -> dict[str, Any]:
    """The names every template and guard of ``flow`` may use."""
    return {
        "slots": {name: slots.get(name) for name in flow.slots},
        "call": call.template_view(),
        "flow": flow.name,
        "state": state,
    }
