"""What starting costs: `import engine`, the pytest plugin and light commands load nothing heavy.

Each check runs in a fresh interpreter and lists the heavy packages it finds in ``sys.modules``.
How long things take is measured by ``bench/startup.py``, not here.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

import engine
from engine.cli.main import COMMANDS, main
from tests.helpers import REPO, bare_environment

HEAVY = ("quart", "hypercorn", "sqlalchemy", "alembic", "redis", "openai", "aiohttp")
LAZY_PACKAGES = [
    "engine",
    "engine.console",
    "engine.flow",
    "engine.llm",
    "engine.phone",
    "engine.prompt",
    "engine.protocol",
    "engine.records",
    "engine.server",
    "engine.templates",
    "engine.testing",
]


def heavy_modules_after(code: str) -> list[str]:
    """The heavy packages a fresh interpreter holds after running ``code``."""
    report = (
        "\nimport json, sys\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code + report],
        cwd=REPO,
        env=bare_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_importing_engine_loads_nothing_heavy():
    assert heavy_modules_after("import engine") == []


def test_the_pytest_plugin_loads_nothing_heavy_until_a_conversation_file_is_collected():
    assert heavy_modules_after("import engine.testing.pytest_plugin") == []


def test_dialplan_help_loads_no_command():
    code = (
        "from engine.cli.main import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'], standalone_mode=False)\n"
        "assert not [m for m in sys.modules if m.startswith('engine.cli.') and "
        "m not in ('engine.cli.main', 'engine.cli._group')], 'a command was imported'\n"
    )
    assert heavy_modules_after("import sys\n" + code) == []


def test_validating_a_flow_loads_no_server_database_or_model_client():
    code = (
        "from engine.cli.main import main\n"
        "try:\n"
        "    main(['validate', 'flows/clinic_intake.yaml'], standalone_mode=False)\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
    )
    assert heavy_modules_after(code) == []


def test_the_public_api_is_there_when_asked_for():
    from engine import Database, Flow, Settings, create_app

    assert create_app.__module__ == "engine.server.app"
    assert (Flow.__name__, Database.__name__, Settings.__name__) == ("Flow", "Database", "Settings")
    assert set(engine.__all__) <= set(dir(engine))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = engine.Nope  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", LAZY_PACKAGES)
def test_a_lazy_package_exports_what_it_declares(name):
    """``__all__``, the type checkers' imports and the lazy table name the same objects."""
    package = importlib.import_module(name)
    declared = _type_checking_imports(Path(package.__file__ or ""))
    assert sorted(declared) == sorted(package.__all__)
    for attribute, module in declared.items():
        source = importlib.import_module(module)
        assert getattr(package, attribute) is getattr(source, attribute), attribute
    assert set(package.__all__) <= set(dir(package))
    folder = Path(package.__file__ or "").parent
    modules = {path.stem for path in folder.glob("*.py")} | {p.name for p in folder.iterdir()}
    assert not set(package.__all__) & modules  # importing the module would hide the name


def _type_checking_imports(init: Path) -> dict[str, str]:
    """Names imported under ``if TYPE_CHECKING:`` in ``init``, each with its module."""
    found: dict[str, str] = {}
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    found.update(dict.fromkeys((a.name for a in statement.names), statement.module))
    return found


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_shows_each_command_with_its_own_first_line(name):
    command = COMMANDS[name].load()
    assert command.get_short_help_str(limit=1_000) == COMMANDS[name].short_help
    assert main.get_command(click.Context(main), name) is command
