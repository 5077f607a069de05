"""Every shell command in the README and docs/ runs as written, on the example project.

The documents' ``sh`` and ``console`` blocks are run line by line (a ``console`` block's
commands are its ``$ `` lines) in a copy of the project, with this checkout's ``.venv``:

* a command that serves (``make run``, ``dialplan serve``, a line ending in ``&``) is started,
  must answer ``/healthz`` (or, for ``redis-server``, take connections), and is stopped at the
  end of its block with SIGTERM;
* ``export`` lines set the environment of the block's later lines;
* any other command must exit 0 within a minute. (``make test`` is this very run: not run.)

Only what cannot be the same on a test machine is changed: ports become free ports of
127.0.0.1 (``--host 0.0.0.0`` listens on 127.0.0.1), the placeholders below become real values,
and the platform's URL becomes the test kit's stand-in of its API.

A directive in an HTML comment right before a block says more:
``<!-- check: skip REASON -->`` leaves it out (the reason is required), ``<!-- check: file NAME
-->`` writes the block into the project as NAME, and ``<!-- check: chat ARGS -->`` before a
``text`` block of ``agent:``/``caller:`` lines plays the caller's lines to ``dialplan chat ARGS``
and compares every agent line.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from engine.records import Database
from engine.settings import Settings
from engine.testing.platform import Dialog, PlatformCall
from engine.testing.platform_api import PlatformAPI
from engine.testing.server import ServerThread, free_port
from tests.helpers import REPO

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
RUN = {"sh", "console"}
SECRET = "docs-path-secret-41"
DIRECTIVE = re.compile(r"^<!--\s*check:\s*(\w+)\s*(.*?)\s*-->$")
FENCE = re.compile(r"^```(\S*)\s*$")
PORT = re.compile(r"(?<![\d.])(?:8080|8081|8082|6379)(?!\d)")
SERVES = re.compile(r"(^|\s)(make run|\S*dialplan serve)(\s|$)")
WAIT = 20.0  # seconds a server may take to answer


@dataclass(frozen=True)
class Block:
    """A fenced block of a document and the directive before it, if any."""

    path: Path
    line: int
    section: str
    lang: str
    text: str
    directive: tuple[str, str] | None

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of ``path``, in order."""
    lines = path.read_text().splitlines()
    found: list[Block] = []
    index, section = 0, ""
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if fence is None:
            if lines[index].startswith("## "):
                section = lines[index]
            index += 1
            continue
        end = index + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        before = [line.strip() for line in lines[max(0, index - 2) : index] if line.strip()]
        directive = DIRECTIVE.match(before[-1]) if before else None
        found.append(
            Block(
                path,
                index + 1,
                section,
                fence.group(1),
                "\n".join(lines[index + 1 : end]),
                (directive.group(1), directive.group(2)) if directive else None,
            )
        )
        index = end + 1
    return found


def commands(block: Block) -> list[str]:
    """The block's command lines, continuations joined."""
    raw = block.text.replace("\\\n", " ")
    if block.lang == "console":
        return [line[2:].strip() for line in raw.splitlines() if line.startswith("$ ")]
    return [line.strip() for line in raw.splitlines() if line.strip() and line[0] != "#"]


ALL = [block for path in DOCUMENTS for block in blocks(path)]
RUNNABLE = [b for b in ALL if b.lang in RUN and (b.directive is None or b.directive[0] != "file")]
CHATS = [b for b in ALL if b.directive is not None and b.directive[0] == "chat"]


# -- the project the commands run in --------------------------------------------------------------


@dataclass
class Project:
    """A copy of the example project, its call log holding one call, and the placeholders."""

    root: Path
    env: dict[str, str]
    values: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, postgres: str) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("docs-project")
    for name in ("flows", "prompts", "tests", "engine", "docs"):
        shutil.copytree(REPO / name, root / name, symlinks=True, ignore=_caches)
    for name in ("Makefile", "pyproject.toml", "README.md", "mkdocs.yml"):
        shutil.copy2(REPO / name, root / name)
    shutil.copytree(REPO / "requirements", root / "requirements")
    # This checkout's .venv serves the copy; make must not see it as older than what it
    # installed from (`make install` is CI's first step, not this test's).
    (root / ".venv").symlink_to(REPO / ".venv")
    for made in (root / "pyproject.toml", *(root / "requirements").iterdir()):
        os.utime(made, (0, 0))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "DIALPLAN_", "PROMETHEUS_", "TMUX"))
    }
    env.update(
        PATH=f"{REPO / '.venv' / 'bin'}{os.pathsep}{env['PATH']}", DIALPLAN_TODAY="2026-11-25"
    )
    database = f"sqlite:///{root / 'dialplan.db'}"
    call_id = asyncio.run(_one_call(root, database))
    with PlatformAPI() as platform:
        values = {
            "<secret>": SECRET,
            "<call_id>": call_id,
            "<flow>": "clinic_intake",
            "<deployment>": "gpt-4o-mini",
            "postgresql+psycopg://dialplan:<pw>@db/dialplan": postgres,
            "https://api.retellai.com": platform.url,
            "key_...": platform.key,
            "--host 0.0.0.0": "--host 127.0.0.1",
            "DIALPLAN_HOST=0.0.0.0": "DIALPLAN_HOST=127.0.0.1",
        }
        yield Project(root, env, values)


def _caches(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name in {"__pycache__", ".pytest_cache"}]


async def _one_call(root: Path, database: str) -> str:
    """A finished call in the project's call log (for ``calls show <call_id>``)."""
    settings = Settings(
        agent="flow",
        flows_dir=root / "flows",
        prompts_dir=root / "prompts",
        flow="clinic_intake",
        database_url=database,
        log_level="WARNING",
        llm_provider="none",
        call_grace=0.1,  # the caller hangs up: the call is over, and recorded, at once
    )
    with ServerThread(settings) as server:
        async with PlatformCall.connect(server.url("call_docs_1")) as call:
            dialog = Dialog(call)
            await dialog.start()
            await dialog.say("My name is Dana Scully")
        log = Database(database)
        try:
            for _ in range(200):  # bounded: 200 x 25 ms
                if log.call("call_docs_1") is not None:
                    return "call_docs_1"
                await asyncio.sleep(0.025)
        finally:
            log.close()
    raise AssertionError("the call was not recorded")


# -- running a block ------------------------------------------------------------------------------


@dataclass
class Run:
    """One block's run: its environment, the ports it was given, what it started."""

    project: Project
    env: dict[str, str]
    ports: dict[str, str] = field(default_factory=dict)
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def prepare(self, command: str) -> str:
        for placeholder, value in self.project.values.items():
            command = command.replace(placeholder, value)
        return PORT.sub(self._port, command)

    def _port(self, match: re.Match[str]) -> str:
        return self.ports.setdefault(match.group(0), str(free_port()))

    def shell(self, command: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = self.project.root / f"run-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            return subprocess.Popen(
                ["bash", "-c", command],
                cwd=self.project.root,
                env=env or self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # stopped as a group: make and the server it runs
            )

    def output(self) -> str:
        return self.logs[-1].read_text(errors="replace") if self.logs else ""

    def run(self, command: str) -> None:
        command = self.prepare(command)
        if command.startswith("export "):
            done = subprocess.run(
                ["bash", "-ec", f"{command}\nenv -0"],  # a line's own comment ends there
                env=self.env, capture_output=True, timeout=10, check=True,
            )  # fmt: skip
            self.env = dict(
                pair.split("=", 1) for pair in done.stdout.decode().split("\0") if "=" in pair
            )
            return
        # "redis-server ... &   # or your managed Redis": the comment is no part of the command
        bare = re.sub(r"\s+#[^'\"]*$", "", command).strip()
        if bare.endswith("&") or SERVES.search(bare):
            self.start(bare.rstrip("&").strip())
            return
        process = self.shell(command)
        try:
            code = process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise AssertionError(f"{command!r} did not finish:\n{self.output()}") from None
        assert code == 0, f"{command!r} exited with {code}:\n{self.output()}"

    def start(self, command: str) -> None:
        env_port = self.env.get("DIALPLAN_PORT")
        if SERVES.search(command) and "--port" not in command:
            env_port = env_port or self.ports.setdefault("8080", str(free_port()))
        process = self.shell(command, env={**self.env, "DIALPLAN_PORT": env_port or "8080"})
        self.started.append(process)
        found = re.search(r"--port (\d+)", command)
        port = int(found.group(1)) if found else int(env_port or 8080)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:  # bounded in time
            if process.poll() is not None:
                raise AssertionError(
                    f"{command!r} exited with {process.returncode}:\n{self.output()}"
                )
            if self._answers(port, redis=command.startswith("redis-server")):
                return
            time.sleep(0.1)
        raise AssertionError(f"{command!r} did not answer on port {port}:\n{self.output()}")

    @staticmethod
    def _answers(port: int, redis: bool) -> bool:
        if redis:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True
            except OSError:
                return False
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        for process in reversed(self.started):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def earlier_exports(block: Block) -> list[str]:
    """The ``export`` lines of the blocks before ``block`` in its section: a reader's shell."""
    return [
        line
        for other in RUNNABLE
        if other.path == block.path and other.section == block.section
        and other.line < block.line and other.directive is None
        for line in commands(other)
        if line.startswith("export ")
    ]  # fmt: skip


def write_files(project: Project, upto: Block) -> None:
    """Every ``check: file`` block of the document up to ``upto``, written into the project."""
    for block in blocks(upto.path):
        if block.line > upto.line:
            break
        if block.directive is not None and block.directive[0] == "file":
            (project.root / block.directive[1]).write_text(block.text + "\n")


@pytest.mark.needs("redis-server")
@pytest.mark.parametrize("block", RUNNABLE, ids=str)
def test_the_documents_shell_commands_run_as_written(block: Block, project: Project) -> None:
    if block.directive is not None:
        kind, reason = block.directive
        assert kind == "skip" and reason, f"{block}: unknown directive {kind!r}"
        pytest.skip(f"not run: {reason}")
    lines = [line for line in commands(block) if not line.startswith("make test")]
    assert lines, f"{block}: no command to run"
    write_files(project, block)
    run = Run(project, dict(project.env))
    try:
        for line in earlier_exports(block) + lines:
            run.run(line)
    finally:
        run.stop()


# -- transcripts ----------------------------------------------------------------------------------


def turns(text: str) -> tuple[list[str], list[str]]:
    """The caller's and the agent's lines of a transcript block (``(hangs up)`` and such cut)."""
    callers, agents = [], []
    for line in text.splitlines():
        speaker, _, said = line.partition(":")
        said = re.sub(r"\s{2,}\(.*\)$", "", said.strip())
        if speaker == "caller":
            callers.append(said)
        elif speaker == "agent":
            agents.append(said)
    return callers, agents


@pytest.mark.parametrize("block", CHATS, ids=str)
def test_the_documents_transcripts_are_what_the_flow_says(block: Block, project: Project) -> None:
    assert block.directive is not None
    callers, expected = turns(block.text)
    script = project.root / f"script-{block.line}.txt"
    script.write_text("\n".join(callers) + "\n")
    args = shlex.split(block.directive[1])
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "chat", *args, "--script", str(script)],
        cwd=project.root, env=project.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    said = [
        line[len("agent: ") :] for line in done.stdout.splitlines() if line.startswith("agent: ")
    ]
    assert said == expected, f"{block}: the flow said\n" + "\n".join(said)


def test_every_runnable_block_is_run_or_says_why_not() -> None:
    assert RUNNABLE, "no shell blocks found"
    for block in ALL:
        if block.directive is not None:
            kind, rest = block.directive
            assert kind in {"skip", "file", "chat"}, f"{block}: unknown directive {kind!r}"
            assert rest, f"{block}: `check: {kind}` needs its argument"
