"""The project file, ``dialplan.yaml`` at the project's root: what a project decides in review.

Today it declares rollouts: a flow whose candidate version answers a share of its calls::

    # dialplan.yaml
    rollouts:
      booking:
        candidate: flows/booking.next.yaml   # a second flow file (its `flow:` is booking too)
        share: 10                            # percent of new calls
      clinic_intake:
        candidate: 9f2c1e0a7b31              # or a version the call log keeps
        share: 50

It is read like a flow file (safe YAML, a schema, unknown keys with a did-you-mean) and every
mistake is reported as ``dialplan.yaml:LINE: message (hint)``, by ``dialplan validate`` and
when a server starts. A file that does not exist declares nothing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.errors import AuthoringError, AuthoringErrors, Location
from engine.flow import safe_yaml
from engine.flow.authored import known_keys, read_document, schema_errors
from engine.flow.parse import FLOW_SUFFIXES

PROJECT_FILE = Path("dialplan.yaml")
VERSION_ID = re.compile(r"^[0-9a-f]{12}$")
"""A flow version as the call log names it: the first 12 hex digits of its content hash."""


class RolloutSpec(BaseModel):
    """One entry of ``rollouts:``: the candidate, and the share of calls it answers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    candidate: str = Field(
        min_length=1,
        description="A flow file (relative to the project file) or a version id of the call log.",
    )
    share: float = Field(description="Percent of the flow's new calls (more than 0, at most 100).")

    @field_validator("share")
    @classmethod
    def _percent(cls, value: float) -> float:
        if not 0 < value <= 100:
            raise ValueError("a percent of calls, more than 0 and at most 100")
        return value


class ProjectFileSpec(BaseModel):
    """The whole project file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rollouts: dict[str, RolloutSpec] = Field(default_factory=dict)


_KEYS = known_keys((ProjectFileSpec, RolloutSpec))


@dataclass(frozen=True)
class Rollout:
    """A checked rollout: the flow, its candidate (a file or a stored version), the share."""

    flow: str
    share: float
    candidate_file: Path | None = None
    """The candidate flow file (resolved against the project file's folder)."""
    candidate_version: str | None = None
    """The candidate as a version the call log keeps."""
    written: str = ""
    """The candidate as written in the file."""
    line: int | None = None

    @property
    def candidate(self) -> str:
        """The candidate for people: its file or its version id, as written."""
        return self.written or str(self.candidate_file or self.candidate_version)

    def as_json(self) -> dict[str, Any]:
        """The rollout for tools and the call log."""
        return {"flow": self.flow, "candidate": self.candidate, "share": share_number(self.share)}


@dataclass(frozen=True)
class ProjectFile:
    """A checked project file (or the empty one, where there is no file)."""

    path: Path
    rollouts: Mapping[str, Rollout] = field(default_factory=dict)
    exists: bool = False

    def candidate_files(self) -> list[Path]:
        """Flow files that are candidates of a rollout (no flows of their own)."""
        return [r.candidate_file for r in self.rollouts.values() if r.candidate_file]


def share_number(share: float) -> float | int:
    """A share as written: ``10`` rather than ``10.0``."""
    return int(share) if float(share).is_integer() else share


def load_project_file(path: Path, flows: Iterable[str] | None = None) -> ProjectFile:
    """Read and check ``path``; :class:`AuthoringErrors` with every problem of the file.

    ``flows``: the project's flow names, to check that each rollout names one (``None``: not
    checked). The candidates themselves are flow files checked as flows are.
    """
    if not path.exists():
        return ProjectFile(path)
    _text, data = read_document(path)
    if data is None:
        return ProjectFile(path, exists=True)
    where = str(path)
    if not isinstance(data, dict):
        message = "a project file is a mapping, e.g. `rollouts:`"
        raise AuthoringErrors([AuthoringError(message, Location(where, 1))])
    errors: list[AuthoringError] = []
    entries = data.get("rollouts")
    try:
        ProjectFileSpec.model_validate({**data, "rollouts": {}})
    except ValidationError as exc:
        errors += schema_errors(path, data, exc, _KEYS)
    if entries is not None and not isinstance(entries, dict):
        line = safe_yaml.line_of(data, ["rollouts"])
        errors.append(
            AuthoringError(
                "rollouts: a mapping of flow names to rollouts",
                Location(where, line),
                "e.g. `booking: {candidate: flows/booking.next.yaml, share: 10}`",
            )
        )
        entries = {}
    known = sorted(flows) if flows is not None else None
    rollouts: dict[str, Rollout] = {}
    for name, entry in (entries or {}).items():
        at = ["rollouts", name]
        try:
            spec = RolloutSpec.model_validate(entry)
        except ValidationError as exc:
            errors += schema_errors(path, data, exc, _KEYS, at)
            continue
        line = safe_yaml.line_of(data, at)
        if known is not None and str(name) not in known:
            close = difflib.get_close_matches(str(name), known, n=1)
            errors.append(
                AuthoringError(
                    f"rollouts: unknown flow {name!r}",
                    Location(where, line),
                    f"did you mean {close[0]!r}?"
                    if close
                    else f"flows: {', '.join(known) or 'none'}",
                )
            )
        rollout, problem = _rollout(str(name), spec, path.parent, line)
        if problem is not None:
            where_candidate = Location(where, safe_yaml.line_of(data, [*at, "candidate"]))
            errors.append(AuthoringError(problem[0], where_candidate, problem[1]))
            continue
        rollouts[str(name)] = rollout
    if errors:
        raise AuthoringErrors(sorted(errors, key=lambda error: error.sort_key()))
    return ProjectFile(path, rollouts, exists=True)


def _rollout(
    name: str, spec: RolloutSpec, root: Path, line: int | None
) -> tuple[Rollout, tuple[str, str | None] | None]:
    written = spec.candidate.strip()
    if VERSION_ID.match(written):
        return Rollout(
            name, spec.share, candidate_version=written, written=written, line=line
        ), None
    file = Path(written)
    file = file if file.is_absolute() else root / file
    rollout = Rollout(name, spec.share, candidate_file=file, written=written, line=line)
    if file.suffix not in FLOW_SUFFIXES:
        return rollout, (
            f"candidate {written!r} is neither a flow file nor a version id",
            "a .yaml flow file (e.g. flows/booking.next.yaml) or the 12-digit version id that "
            "`dialplan calls show` prints",
        )
    if not file.is_file():
        return rollout, (
            f"candidate: no flow file {written}",
            "write it next to the flow it replaces",
        )
    return rollout, None
