"""Which arm of a rollout a call is in: a stable hash of its call id, never a coin toss.

A call's arm depends only on the flow, the call id and the share, so every worker and host
puts a call in the same arm, and a call that reconnects (or is resumed on another host) is in
the arm it started in. Raising the share only moves calls from the stable arm to the
candidate: a call in the candidate at 10 % is in it at 50 % too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from .project_file import share_number

Arm = Literal["stable", "candidate"]


def arm_of(flow: str, call_id: str, share: float) -> Arm:
    """The arm of call ``call_id`` in a rollout of ``flow`` giving ``share`` percent."""
    digest = hashlib.sha256(f"{flow}\0{call_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * 100  # uniform in [0, 100)
    return "candidate" if point < share else "stable"


@dataclass(frozen=True)
class Assignment:
    """How a rollout served one call: its arm, the share, and the version it got."""

    arm: Arm
    share: float
    candidate: str
    """The candidate as the project file names it."""
    version: str
    note: str | None = None
    """Why a call drawn for the candidate got the stable version (the candidate does not load)."""

    def as_json(self) -> dict[str, Any]:
        """What the call's record keeps (``rollout``)."""
        found: dict[str, Any] = {
            "arm": self.arm,
            "share": share_number(self.share),
            "candidate": self.candidate,
        }
        if self.note:
            found["note"] = self.note
        return found
