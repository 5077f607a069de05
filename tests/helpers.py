"""Small helpers shared by tests: fixture projects written into a temporary folder."""

from __future__ import annotations

from pathlib import Path

from engine.flow import CompiledFlow
from engine.project import Project
from engine.settings import Settings


def write_project(root: Path, flows: dict[str, str], prompts: dict[str, str] | None = None) -> Path:
    """``root/flows/<name>.yaml`` and ``root/prompts/<path>``; returns ``root``."""
    (root / "flows").mkdir(parents=True, exist_ok=True)
    (root / "prompts").mkdir(parents=True, exist_ok=True)
    for name, text in flows.items():
        (root / "flows" / f"{name}.yaml").write_text(text)
    for path, text in (prompts or {}).items():
        target = root / "prompts" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


def project(root: Path, **settings: object) -> Project:
    """The project at ``root`` (its ``flows/`` and ``prompts/``)."""
    base = Settings(flows_dir=root / "flows", prompts_dir=root / "prompts", **settings)  # type: ignore[arg-type]
    return Project.from_settings(base)


def compile_text(root: Path, text: str, prompts: dict[str, str] | None = None) -> CompiledFlow:
    """One flow from its YAML text, loaded and checked like the server does."""
    write_project(root, {"flow": text}, prompts)
    return project(root).open_flow(root / "flows" / "flow.yaml")
