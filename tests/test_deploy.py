"""The deployment files as far as this machine can run them.

No Docker engine and no systemd run here, so each file is tried for what it promises: the
systemd unit is checked by systemd's own verifier, and the image's final stage is replayed
without Docker (its files copied to a work directory as ``COPY`` does, its ``ENV``, its ``CMD``
run from its ``WORKDIR``, its ``HEALTHCHECK`` command run against it, a call answered, then
its ``STOPSIGNAL``). The instructions are read from the Dockerfile itself, so the test follows
an edit of it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.testing.platform import Dialog, PlatformCall
from engine.testing.server import free_port
from tests.helpers import REPO, bare_environment, finish, wait_healthy

VENV_BIN = Path(sys.executable).parent


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    """The instructions after the last ``FROM``: (instruction, its arguments), lines joined."""
    joined = dockerfile.read_text().replace("\\\n", " ")
    stage: list[tuple[str, str]] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        if instruction.upper() == "FROM":
            stage = []
        else:
            stage.append((instruction.upper(), rest.strip()))
    return stage


def exec_form(rest: str) -> list[str]:
    """A JSON-array command (``CMD [...]``)."""
    command = json.loads(rest)
    assert isinstance(command, list), f"not in exec form: {rest}"
    return [str(part) for part in command]


def start(command: list[str], workdir: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """The image's command, run from its work directory with its environment."""
    return subprocess.Popen(
        [str(VENV_BIN / command[0]), *command[1:]],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_the_systemd_unit_passes_systemds_own_checks(tmp_path: Path) -> None:
    unit = (REPO / "deploy" / "dialplan.service").read_text()
    assert "ExecStart=/opt/dialplan/bin/dialplan serve" in unit
    # The unit names where the README installs dialplan; here it is this environment.
    local = unit.replace("/opt/dialplan/bin/dialplan", str(VENV_BIN / "dialplan"))
    (tmp_path / "dialplan.service").write_text(local)
    checked = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "dialplan.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert "dialplan.service" not in checked.stderr  # no warning about the unit itself


async def test_the_images_command_serves_calls_passes_its_health_check_and_drains(
    tmp_path: Path,
) -> None:
    stage = final_stage(REPO / "Dockerfile")
    env = bare_environment()
    workdir = tmp_path
    command: list[str] = []
    health: list[str] = []
    stop = signal.SIGTERM
    for instruction, rest in stage:
        if instruction == "WORKDIR":
            workdir = tmp_path / rest.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction == "COPY" and "--from=" not in rest:
            *_, source, target = shlex.split(rest)
            shutil.copytree(REPO / source, workdir / target)
        elif instruction == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(rest))
        elif instruction == "HEALTHCHECK":
            health = exec_form(rest.split(" CMD ", 1)[1])
        elif instruction == "STOPSIGNAL":
            stop = signal.Signals[rest]
        elif instruction == "CMD":
            command = exec_form(rest)
    assert command[:2] == ["dialplan", "serve"] and health and (workdir / "flows").is_dir()
    port = free_port()
    env.update(
        # The image's virtual environment is this one; it listens on this host only.
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        DIALPLAN_HOST="127.0.0.1",
        DIALPLAN_PORT=str(port),
        DIALPLAN_DATABASE_URL=f"sqlite:///{tmp_path / 'calls.db'}",
    )
    process = start(command, workdir, env)
    try:
        wait_healthy(port, process)
        checked = await asyncio.to_thread(
            subprocess.run,
            [sys.executable if health[0] == "python" else health[0], *health[1:]],
            env=env,
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert checked.returncode == 0, checked.stderr
        # The flow the image names answers a call whose URL names none, from the copied files.
        async with PlatformCall.connect(f"ws://127.0.0.1:{port}/llm-websocket/call_image") as call:
            greeting = await Dialog(call).start()
        assert greeting.text
        process.send_signal(stop)
        output = finish(process, timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert '"event": "call.connected"' in output or '"event":"call.connected"' in output
