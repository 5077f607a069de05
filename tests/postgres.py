"""A throwaway PostgreSQL server for the tests: its own cluster in a temporary folder.

Started from the machine's PostgreSQL programs (``initdb``, ``pg_ctl``) on a free port of
127.0.0.1, as the ``postgres`` user when the tests run as root (PostgreSQL refuses root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.testing.server import free_port


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
