"""A flow version's files as text: read from a compiled flow, written back to compile it again.

A flow's version is the content hash of its file and every template it uses
(:func:`engine.flow.parse.digest`). Keeping those texts (the call log keeps every version a
server served) lets an old version run again after the files changed: ``dialplan replay``
plays recorded calls against it, a rollout can name it as its candidate, and ``dialplan calls
show`` shows the flow text a call ran.

Paths are kept relative: the flow file by its name (flows live one level deep in their folder),
templates relative to the prompts folder, so :func:`write_source` can lay them out again in
any folder and the copy compiles to the same version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jinja2

from .compile import CompiledFlow

FileRole = Literal["flow", "template"]


@dataclass(frozen=True)
class SourceFile:
    """One file of a flow version: the flow file or a template, its relative path and text."""

    role: FileRole
    path: str
    """The flow file's name; a template's path under the prompts folder."""
    text: str


@dataclass(frozen=True)
class FlowSource:
    """Every file of one flow version, in the order its version hash reads them."""

    flow: str
    version: str
    files: tuple[SourceFile, ...]

    @property
    def flow_file(self) -> SourceFile:
        """The flow file itself (always the first file)."""
        return self.files[0]

    def as_json(self) -> list[dict[str, str]]:
        """The files as JSON-ready data (what the call log stores)."""
        return [{"role": f.role, "path": f.path, "text": f.text} for f in self.files]

    @classmethod
    def from_json(cls, flow: str, version: str, files: Sequence[dict[str, str]]) -> FlowSource:
        """The source the call log stored (see :meth:`as_json`)."""
        return cls(
            flow,
            version,
            tuple(
                SourceFile("flow" if f.get("role") == "flow" else "template", f["path"], f["text"])
                for f in files
            ),
        )


def read_source(flow: CompiledFlow) -> FlowSource | None:
    """The files of ``flow`` as they are on disk now, if they still are that version.

    ``None`` when a file changed (or went) since the flow was compiled: the texts would be of
    another version. The next compile of the changed files is a version of its own.
    """
    files = flow.loaded.files
    try:
        texts = [file.read_bytes() for file in files]
    except OSError:
        return None
    if _digest(texts) != flow.version:
        return None
    roots = _template_roots(flow)
    read = [SourceFile("flow", files[0].name, texts[0].decode("utf-8"))]
    for file, text in zip(files[1:], texts[1:], strict=True):
        read.append(SourceFile("template", _relative(file, roots), text.decode("utf-8")))
    return FlowSource(flow.name, flow.version, tuple(read))


def write_source(source: FlowSource, root: Path) -> tuple[Path, Path]:
    """Lay ``source`` out under ``root`` (``flows/`` and ``prompts/``); its flow file and prompts.

    Files already there with the same text are left alone, so several readers of one cached
    copy never see a half-written file.
    """
    flows, prompts = root / "flows", root / "prompts"
    flow_file = flows / Path(source.flow_file.path).name
    for item in source.files:
        target = flow_file if item.role == "flow" else prompts / _safe(item.path)
        if target.is_file() and target.read_text(encoding="utf-8") == item.text:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        partial.write_text(item.text, encoding="utf-8")
        partial.replace(target)
    prompts.mkdir(parents=True, exist_ok=True)
    return flow_file, prompts


def _digest(texts: Sequence[bytes]) -> str:
    # parse.digest's hash, over texts already read: a file read twice may differ in between.
    hashed = hashlib.sha256()
    for text in texts:
        hashed.update(text)
    return hashed.hexdigest()[:12]


def _template_roots(flow: CompiledFlow) -> list[Path]:
    loader = flow.env.loader
    if isinstance(loader, jinja2.FileSystemLoader):
        return [Path(root).resolve() for root in loader.searchpath]
    return []


def _relative(file: Path, roots: Sequence[Path]) -> str:
    resolved = file.resolve()
    for root in roots:
        if resolved.is_relative_to(root):
            return resolved.relative_to(root).as_posix()
    return file.name  # a template outside the prompts folder: kept by its name


def _safe(path: str) -> Path:
    """A stored relative path that cannot climb out of the folder it is written to."""
    parts = [part for part in Path(path).parts if part not in ("", ".", "..", "/")]
    return Path(*parts) if parts else Path("template")
