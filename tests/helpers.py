"""Small helpers shared by tests: fixture projects in a temporary folder, a PostgreSQL server."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.flow import CompiledFlow
from engine.project import Project
from engine.settings import Settings
from engine.testing.server import free_port


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


# -- a throwaway PostgreSQL server (its own cluster, on a free port of 127.0.0.1) ------------


def programs() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``, if PostgreSQL is installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """Run a server with its data in a new temporary folder; yields its SQLAlchemy URL."""
    bin_dir = programs()
    assert bin_dir is not None, "PostgreSQL is not installed"
    # Its own folder right under the system's temporary folder: pytest's folders are private
    # to root, and the postgres user must reach its data.
    root = Path(tempfile.mkdtemp(prefix="dialplan-postgres-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        prefix = ["runuser", "-u", "postgres", "--"]
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    data, port = root / "data", free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=60)

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "dialplan", "--auth=trust", "-E", "UTF8")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    log = str(root / "log")
    try:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-l", log, "start")
        try:
            yield f"postgresql+psycopg://dialplan@127.0.0.1:{port}/postgres"
        finally:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
