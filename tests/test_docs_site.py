"""The documentation site builds strictly, and its reference pages cover the whole code.

The reference pages are generated while the site is built (``docs/gen_reference.py``, a MkDocs
hook); these tests build the site as ``make docs`` does and read what the hook generates.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import click
import pytest

from engine.cli.main import main as dialplan
from engine.flow.spec import flow_json_schema
from engine.settings import Settings, variable
from tests.helpers import REPO


@pytest.fixture(scope="module")
def reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_reference", REPO / "docs" / "gen_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_site_builds_with_no_warning(tmp_path: Path) -> None:
    # --strict: a broken link or anchor, or a page missing from the navigation, fails the build.
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    settings = (tmp_path / "reference" / "settings" / "index.html").read_text()
    assert "DIALPLAN_IDLE_TIMEOUT" in settings and "reference:" not in settings
    assert "dialplan calls to-test" in (tmp_path / "reference" / "cli" / "index.html").read_text()


def test_every_setting_is_in_the_reference(reference: ModuleType) -> None:
    page = reference.generate("settings")
    for field in Settings.model_fields:
        assert f"| `{variable(field)}` |" in page
    assert "`dialplan serve --prefix`" in page  # the flag's own name, not the setting's


def test_every_command_is_in_the_reference(reference: ModuleType) -> None:
    page = reference.generate("cli")

    def paths(command: click.Command, ctx: click.Context, path: str) -> list[str]:
        found = [path]
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                child = command.get_command(ctx, name)
                assert child is not None
                found += paths(child, click.Context(child, parent=ctx), f"{path} {name}")
        return found

    for path in paths(dialplan, click.Context(dialplan), "dialplan"):
        assert f"`{path}` {{ #{path.replace(' ', '-')} }}" in page
        assert f"Usage: {path} " in page


def test_every_key_of_the_flow_schema_is_in_the_reference(reference: ModuleType) -> None:
    page = reference.generate("flow-file")
    schema = json.loads(flow_json_schema())
    for name, node in [("Flow", schema), *schema["$defs"].items()]:
        assert f"{{ #{name.lower()} }}" in page
        for key in node["properties"]:
            assert f"| `{key}` |" in page


def test_an_example_is_a_line_of_an_example_flow(reference: ModuleType) -> None:
    page = reference.generate("flow-file")
    row = next(line for line in page.splitlines() if line.startswith("| `collect` |"))
    file, line = row.rsplit("(", 1)[1].rstrip(") |").split(":")
    text = (REPO / file).read_text().splitlines()[int(line) - 1]
    assert "collect:" in text


def test_an_unknown_reference_fails_the_build(reference: ModuleType) -> None:
    with pytest.raises(ValueError, match="unknown reference 'nope'"):
        reference.on_page_markdown("<!-- reference: nope -->\n")
