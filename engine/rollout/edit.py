"""Rollout changes as file edits, the way a reviewed change would make them.

Starting a rollout, changing its share, promoting its candidate and rolling it back are edits
of the project file (``dialplan.yaml``) and the flow files, nothing else: the change can be
read in a diff, reviewed and committed like any other, and a server picks it up as it picks up
an edited flow.

* **start**: a ``rollouts:`` entry for the flow (the file is created if there is none).
* **share**: the entry's share.
* **promote**: the candidate's text becomes the flow file (a stored version's templates are
  written back too), the candidate file goes, the entry goes.
* **rollback**: the candidate file goes (its text stays in the call log, by version id), the
  entry goes.

Only the ``rollouts:`` block of the project file is rewritten; everything else in it, comments
included, stays as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.flow import safe_yaml
from engine.flow.source import FlowSource

from .project_file import share_number

HEADER = "# dialplan.yaml: the project's decisions, reviewed like code (dialplan validate).\n"


@dataclass(frozen=True)
class FileChange:
    """One file a rollout change wrote or removed, for people and the change log."""

    path: Path
    what: str

    def as_json(self) -> dict[str, str]:
        """The change for the change log."""
        return {"path": str(self.path), "what": self.what}


def entries(path: Path) -> dict[str, dict[str, Any]]:
    """The ``rollouts:`` entries of the project file as written (empty without a file)."""
    if not path.exists():
        return {}
    data = safe_yaml.load(path.read_text(encoding="utf-8"))
    found = data.get("rollouts") if isinstance(data, dict) else None
    return {str(k): dict(v) for k, v in found.items()} if isinstance(found, dict) else {}


def write_rollouts(path: Path, rollouts: Mapping[str, Mapping[str, Any]]) -> FileChange:
    """The project file with ``rollouts`` as its ``rollouts:`` block (the rest kept as it is)."""
    block = _block(rollouts)
    if not path.exists():
        path.write_text(HEADER + block, encoding="utf-8")
        return FileChange(path, "created with the rollout")
    text = path.read_text(encoding="utf-8")
    data = safe_yaml.load(text)
    lines = text.splitlines(keepends=True)
    if isinstance(data, safe_yaml.LocatedDict) and "rollouts" in data:
        start = data.lines["rollouts"] - 1
        later = [line for key, line in data.lines.items() if line - 1 > start and key != "rollouts"]
        end = min(later) - 1 if later else len(lines)
        while end > start + 1 and _spare(lines[end - 1]):
            end -= 1  # blank lines and comments before the next key belong to it
        lines[start:end] = [block]
    else:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append(block)
    path.write_text("".join(lines), encoding="utf-8")
    return FileChange(path, "rollouts: edited")


def _block(rollouts: Mapping[str, Mapping[str, Any]]) -> str:
    if not rollouts:
        return "rollouts: {}\n"
    shaped = {
        flow: {"candidate": str(entry["candidate"]), "share": share_number(float(entry["share"]))}
        for flow, entry in rollouts.items()
    }
    return yaml.safe_dump({"rollouts": shaped}, sort_keys=False, default_flow_style=False)


def _spare(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def promote_file(stable: Path, candidate: Path) -> list[FileChange]:
    """The candidate file's text becomes the flow file; the candidate file goes."""
    stable.write_text(candidate.read_text(encoding="utf-8"), encoding="utf-8")
    candidate.unlink()
    return [
        FileChange(stable, f"replaced by {candidate.name}"),
        FileChange(candidate, "removed (promoted)"),
    ]


def promote_source(stable: Path, prompts: Path, source: FlowSource) -> list[FileChange]:
    """A stored version's flow file and templates written back over the working tree's."""
    changes = []
    for item in source.files:
        target = stable if item.role == "flow" else prompts / item.path
        if target.is_file() and target.read_text(encoding="utf-8") == item.text:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(item.text, encoding="utf-8")
        changes.append(FileChange(target, f"written from version {source.version}"))
    return changes


def remove_candidate(candidate: Path, version: str | None) -> FileChange:
    """The candidate file goes; its text stays in the call log under ``version``."""
    candidate.unlink()
    kept = f" (kept in the call log as version {version})" if version else ""
    return FileChange(candidate, f"removed{kept}")
