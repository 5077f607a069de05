"""Real recorded calls for the tests of replay, rollouts, comparisons and funnels.

A project is a copy of the frozen example project (``tests/fixtures/example``) in a test's own
folder, so a test can edit its flows. Calls are driven over the WebSocket of a real server by
the scripted platform (:class:`~engine.testing.platform.Dialog`), turn by turn, and each
leaves its record in the test's call log when it ends.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.records import CallRecord, Database
from engine.testing.platform import Dialog, PlatformCall
from engine.testing.server import ServerThread
from tests.helpers import EXAMPLE

Line = str | None
"""What the caller says on a turn; ``None`` is a silence (the platform asks for a reminder)."""

CLINIC_CALLS: dict[str, list[Line]] = {
    "plain": ["My name is Dana Scully", "March 3rd 1980", "a sore throat", "yes"],
    "early": ["Hi, this is Ana Silva, born March 3rd 1980", "a sore knee", "yes, that's right"],
    "fix_dob": [
        "Fox Mulder",
        "October 13th 1961",
        "a headache",
        "no, that's wrong",
        "my date of birth",
        "October 13th 1962",
        "yes",
    ],
    "person": ["Can I talk to a real person please"],
    "mumble": ["(unintelligible audio)", "hmm, well", "(unintelligible audio)"],
    "quiet": ["Walter Skinner", None, "June 1st 1950"],
}
"""Clinic calls of every kind: a plain one, one that says it all at once, a corrected date of
birth, a transfer on request, a give-up, and one the caller leaves half-way."""


def copy_example(root: Path) -> Path:
    """A copy of the example project (flows, prompts) at ``root``; returns ``root``."""
    shutil.copytree(EXAMPLE / "flows", root / "flows")
    shutil.copytree(EXAMPLE / "prompts", root / "prompts")
    return root


def server_settings(root: Path, **settings: Any) -> dict[str, Any]:
    """Settings of a server of the project at ``root`` (its flows, prompts and project file)."""
    settings.setdefault("agent", "flow")
    settings.setdefault("flow", "clinic_intake")
    settings.setdefault("call_details_wait", 0.05)
    settings.setdefault("call_grace", 0.2)  # a caller who hangs up is recorded at once
    return {
        "flows_dir": root / "flows",
        "prompts_dir": root / "prompts",
        "project_file": root / "dialplan.yaml",
        **settings,
    }


@dataclass
class Caller:
    """Places scripted calls on a server and waits for their records."""

    server: ServerThread
    database_url: str

    async def call(
        self,
        call_id: str,
        lines: Sequence[Line],
        flow: str | None = None,
        *,
        hang_up: bool = True,
        metadata: dict[str, Any] | None = None,
    ) -> CallRecord:
        """One call: the greeting, then each line; the caller hangs up after the last."""
        segments = (flow,) if flow else ()
        async with PlatformCall.connect(self.server.url(call_id, *segments)) as call:
            if metadata is not None:
                await call.call_details(call_id=call_id, metadata=metadata)
            dialog = Dialog(call)
            await dialog.start()
            for line in lines:
                answer = await (dialog.ask(reminder=True) if line is None else dialog.say(line))
                if answer.flag("end_call") or answer.flag("transfer_number"):
                    break
            if hang_up:
                await call.close()
        return await self.record(call_id)

    async def calls(self, prefix: str, scripts: dict[str, list[Line]]) -> dict[str, CallRecord]:
        """A call per script, one after the other, by name (its id: ``prefix`` + name)."""
        return {name: await self.call(prefix + name, lines) for name, lines in scripts.items()}

    async def record(self, call_id: str) -> CallRecord:
        """The call's record, once its call ended and it was written."""
        database = Database(self.database_url)
        try:
            for _ in range(400):  # bounded: 400 x 25 ms
                found = database.call(call_id)
                if found is not None and found.ended_at is not None:
                    return found
                await asyncio.sleep(0.025)
        finally:
            database.close()
        raise AssertionError(f"no record of {call_id}")
