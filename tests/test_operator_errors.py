"""An operator's mistake is one line per problem, exit status 2, and no traceback.

Real `dialplan` processes, as an operator starts them: a port another process holds, a
misspelt variable (in the environment or in `.env`), settings that contradict each other.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE, bare_environment

DIALPLAN = Path(sys.executable).with_name("dialplan")


def dialplan(
    *args: str, env: dict[str, str] | None = None, cwd: Path = EXAMPLE
) -> subprocess.CompletedProcess[str]:
    """``dialplan ARGS`` to its end, in the example project, with only the given settings."""
    environment = bare_environment() | (env or {})
    return subprocess.run(
        [str(DIALPLAN), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def refused(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines of a refusal, once it is known to be one: status 2, no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    return result.stderr.splitlines()


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port on 127.0.0.1 that another process (this test) listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_serve_on_a_port_in_use_says_so_in_one_line(held_port, tmp_path):
    database = {"DIALPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'calls.db'}"}
    result = dialplan("serve", "--port", str(held_port), "--flow", "clinic_intake", env=database)
    assert refused(result) == [
        f"dialplan: cannot listen on 127.0.0.1:{held_port}: the address is in use (is another "
        "server running? pick another with --port)"
    ]  # and nothing said it was listening


def test_the_supervisor_of_several_workers_says_so_too(held_port, tmp_path):
    database = {"DIALPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'calls.db'}"}
    result = dialplan(
        "serve", "--port", str(held_port), "--flow", "clinic_intake", "--workers", "2", env=database
    )
    lines = refused(result)
    assert lines[0].startswith("warning: 2 workers with the memory store: a call that reconnects")
    assert lines[1:] == [
        f"dialplan: cannot listen on 127.0.0.1:{held_port}: the address is in use (is another "
        "server running? pick another with --port)"
    ]


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--flow", "clinic_intake"],
        ["validate"],
        ["graph", "clinic_intake"],
        ["calls", "list"],
        ["schema"],
    ],
)
def test_every_command_refuses_a_misspelt_variable(command):
    result = dialplan(*command, env={"DIALPLAN_IDLE_TIMOUT": "30"})
    assert refused(result) == [
        "dialplan: DIALPLAN_IDLE_TIMOUT is not a dialplan setting "
        "(did you mean DIALPLAN_IDLE_TIMEOUT?)"
    ]


def test_a_misspelt_key_in_dotenv_is_refused_as_well(tmp_path):
    (tmp_path / ".env").write_text("# the call log\nDIALPLAN_DRAIN_TIMOT=20\nOTHER_TOOL_KEY=1\n")
    result = dialplan("validate", str(EXAMPLE / "flows"), cwd=tmp_path)
    assert refused(result) == [
        "dialplan: .env: DIALPLAN_DRAIN_TIMOT is not a dialplan setting "
        "(did you mean DIALPLAN_DRAIN_TIMEOUT?)"
    ]


def test_variables_that_are_not_settings_but_ours_are_let_through():
    result = dialplan("validate", env={"DIALPLAN_CHROMIUM": "/usr/bin/chromium"})
    assert result.returncode == 0, result.stderr


def test_every_problem_with_the_settings_at_once():
    result = dialplan(
        "serve",
        env={
            "DIALPLAN_WORKRES": "2",
            "DIALPLAN_STORE": "memcached://u:hunter2@cache:11211",
            "DIALPLAN_SECRET": "",
            "DIALPLAN_CONSOLE_TOKEN": "letmein",
        },
    )
    assert refused(result) == [
        "dialplan: DIALPLAN_WORKRES is not a dialplan setting (did you mean DIALPLAN_WORKERS?)",
        "dialplan: DIALPLAN_SECRET is set but empty: unset it to serve without a secret path, or "
        "set a long random string",
        "dialplan: DIALPLAN_STORE: 'memcached' is neither `memory` nor a Redis URL "
        "(redis://host:port/db)",
        "dialplan: DIALPLAN_CONSOLE_TOKEN is too short: use at least 12 characters (a long "
        "random string)",
    ]
    assert "hunter2" not in result.stderr


def test_settings_that_contradict_each_other():
    result = dialplan("serve", env={"DIALPLAN_WEBHOOK_URL": "https://example.org/hooks"})
    assert refused(result) == [
        "dialplan: DIALPLAN_WEBHOOK_URL needs DIALPLAN_WEBHOOK_SECRET (the signing key)"
    ]


def test_a_call_log_in_a_folder_that_does_not_exist_stops_the_start(tmp_path: Path):
    # The server took calls and lost every record: SQLite cannot create its file there.
    missing = tmp_path / "no-such-folder" / "calls.db"
    url = f"sqlite:///{missing}"
    result = dialplan("serve", "--flow", "clinic_intake", env={"DIALPLAN_DATABASE_URL": url})
    assert refused(result) == [
        f"dialplan: the call log's folder {missing.parent} does not exist "
        "(DIALPLAN_DATABASE_URL): create it, or name another file"
    ]
