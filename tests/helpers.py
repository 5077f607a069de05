"""Small helpers shared by tests: fixture projects, a webhook target, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from aiohttp import web

from engine.flow import CompiledFlow
from engine.project import Project
from engine.settings import Settings
from engine.testing.server import free_port
from tests import tools

REPO = Path(__file__).resolve().parent.parent
"""The project's own folder: its ``flows/`` are examples for users, covered by their own tests."""

EXAMPLE = Path(__file__).resolve().parent / "fixtures" / "example"
"""A frozen copy of the example project (flows, prompts, conversation tests) that tests of the
engine use, so that adding, removing or editing a flow in ``flows/`` never moves them."""


MEMBER_FLOW = """\
flow: member
begin: Hi, this is Acme Health. What is your name?
slots:
  name: {type: name}
  member_id: {type: text, sensitive: true, description: the member number}
states:
  ask_name:
    say: What is your name?
    collect: [name]
    next: [{to: ask_member}]
  ask_member:
    say: Thanks {{ slots.name }}. What is your member number?
    collect: [member_id]
    next: [{to: done}]
  done:
    say: I have member number {{ slots.member_id }}. Goodbye!
    end_call: true
"""
"""A flow with a sensitive slot (its value masked in records and pages); ends with its states,
so a test can append states and top-level keys."""


# -- `dialplan serve` as a process of its own --------------------------------------------------


def bare_environment() -> dict[str, str]:
    """The test's environment without model, ``DIALPLAN_*`` or metrics variables."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "DIALPLAN_", "PROMETHEUS_"))
    }


def serve(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[str]:
    """``dialplan serve ARGS`` in a process of its own, in the example project (or ``cwd``).

    The environment is the test's without model or ``DIALPLAN_*`` variables, except the test's
    own call log (see ``conftest.py``): a server never writes into the repository.
    """
    environment = bare_environment()
    for name in ("DIALPLAN_DATABASE_URL", "DIALPLAN_TODAY"):  # set for every test: conftest.py
        environment[name] = os.environ[name]
    environment.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "serve", *args],
        cwd=cwd or EXAMPLE,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 20) -> str:
    """The output of a process expected to exit by itself; killed (and failed) if it does not."""
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"the process did not exit:\n{output}") from None
    return output


def wait_healthy(port: int, process: subprocess.Popen[str]) -> None:
    """Wait until the server on ``port`` answers ``/healthz`` (fails if the process exits)."""
    for _ in range(300):  # bounded: 300 x 50 ms
        if process.poll() is not None:
            raise AssertionError(process.stdout.read() if process.stdout else "exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("server did not become healthy")


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


class OrderService:
    """A webhook target on 127.0.0.1 that answers slowly and counts its calls."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls: list[dict[str, object]] = []
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _order(self, request: web.Request) -> web.Response:
        self.calls.append({"path": request.path, "body": await request.json()})
        await asyncio.sleep(self.delay)
        if request.match_info["order"] == "404":
            return web.json_response({"error": "no such order"}, status=404)
        return web.json_response({"status": "shipped", "eta": "Friday"})

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/orders/{order}", self._order)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def __enter__(self) -> OrderService:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


# -- a throwaway PostgreSQL server (its own cluster, on a free port of 127.0.0.1) ------------


def programs() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``, if PostgreSQL is installed."""
    found = tools.find("initdb")
    return found.resolve().parent if found else None


class PostgresServer:
    """A PostgreSQL cluster of a test's own, on a free port of 127.0.0.1: stopped and started
    again (its data kept) by the test, to try what a restart does to its clients."""

    def __init__(self, root: Path) -> None:
        bin_dir = programs()
        assert bin_dir is not None, "PostgreSQL is not installed"
        self.bin_dir, self.root = bin_dir, root
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            self.prefix = ["runuser", "-u", "postgres", "--"]
            user = pwd.getpwnam("postgres")
            os.chown(root, user.pw_uid, user.pw_gid)
        self.data, self.port = root / "data", free_port()
        self._run("initdb", "-D", str(self.data), "-U", "dialplan", "--auth=trust", "-E", "UTF8")

    @property
    def url(self) -> str:
        """Its SQLAlchemy URL (the ``postgres`` database)."""
        return f"postgresql+psycopg://dialplan@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        command = [*self.prefix, str(self.bin_dir / program), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> PostgresServer:
        """Start it; returns once it takes connections."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-w", "-l", log, "start")
        return self

    def stop(self) -> None:
        """Stop it at once (every connection to it is cut)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Run a server with its data in a new temporary folder; yields it (``.url``)."""
    # Its own folder right under the system's temporary folder: pytest's folders are private
    # to root, and the postgres user must reach its data.
    root = Path(tempfile.mkdtemp(prefix="dialplan-postgres-"))
    try:
        server = PostgresServer(root).start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


# -- a throwaway Redis server (on a free port of 127.0.0.1, its data in a temporary folder) -----


class RedisServer:
    """``redis-server`` run by a test: started, stopped (by its process id) and started again.

    It keeps no data on disk unless ``persist`` is set, so a restart is a Redis that lost
    everything, the harder case for the call store.
    """

    def __init__(self, root: Path, persist: bool = False) -> None:
        self.root = root
        self.port = free_port()
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start the server; returns once it answers."""
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root)]
        args += ["--save", "", "--appendonly", "yes" if self.persist else "no"]
        self.process = subprocess.Popen(
            ["redis-server", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(200):  # bounded: 200 x 25 ms
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            time.sleep(0.025)
        raise RuntimeError("redis-server did not answer within 5 s")

    def stop(self) -> None:
        """Stop the server (SIGTERM by its process id, then SIGKILL if it lingers)."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextmanager
def redis_server(persist: bool = False) -> Iterator[RedisServer]:
    """A Redis of its own for a test; stopped and its folder removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="dialplan-redis-"))
    server = RedisServer(root, persist)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


# -- a support line whose states the model speaks (`prompt` states with the flow's tools) ------

SUPPORT_FLOW = """\
flow: support
persona: support/persona.j2
begin: Hi, this is Acme support. What can I help you with?
slots:
  product: {type: enum, values: {router: [modem, wifi box], phone: [mobile]}}
  email: {type: email}
states:
  triage:
    prompt: support/triage.j2
    collect: [product]
    next: [{to: ask_email}]
  ask_email:
    prompt: support/ask_email.j2
    collect: [email]
    context: state
    next: [{to: done}]
  done:
    say: Thanks, we'll email {{ slots.email | spoken_email }} about your {{ slots.product }}.
    end_call: true
"""


def support_project(root: Path, persona: str, ask_email: str, *, context: bool = True) -> Path:
    """Write the support line's flow and prompts under ``root`` (``flows/``, ``prompts/``).

    ``context``: whether ``ask_email`` keeps its state's own context only (``context: state``).
    Returns the flows folder.
    """
    flows, prompts = root / "flows", root / "prompts" / "support"
    flows.mkdir()
    prompts.mkdir(parents=True)
    flow = SUPPORT_FLOW if context else SUPPORT_FLOW.replace("    context: state\n", "")
    (flows / "support.yaml").write_text(flow)
    (prompts / "persona.j2").write_text(persona)
    (prompts / "triage.j2").write_text("Find out which product the caller needs help with.")
    (prompts / "ask_email.j2").write_text(ask_email)
    return flows
