"""Whatever flows the project ships in `flows/`: each validates, is drawn, diagrams current.

This is the one test that reads `flows/`; engine tests use their own fixture projects
(`tests/fixtures/`), so adding, removing or editing a flow here moves no other test. Each flow's
behaviour is covered by its conversation tests (`tests/conversations/<flow>.yaml`).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from engine.diagram import dot, mermaid, source_digest
from engine.flow import safe_yaml
from engine.flow.spec import SCHEMA_PATH
from engine.project import Project
from engine.settings import Settings
from tests.helpers import REPO

FLOW_FILES = sorted((REPO / "flows").glob("*.yaml"))


@pytest.mark.parametrize("path", FLOW_FILES, ids=[path.stem for path in FLOW_FILES])
def test_project_flow_validates_and_draws_and_its_diagrams_are_current(path):
    settings = Settings(flows_dir=REPO / "flows", prompts_dir=REPO / "prompts")
    the_project = Project.from_settings(settings)
    (check,) = the_project.check_files([path])
    assert check.errors == [], "\n".join(str(error) for error in check.errors)

    text = path.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../engine/schema/flow.schema.json")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.validate(safe_yaml.load(text), schema)  # YAML 1.2 booleans, as editors read

    flow = the_project.open_flow(path)
    drawn, source = mermaid(flow), dot(flow)
    assert drawn.startswith(f"---\ntitle: {flow.name}\n---\nstateDiagram-v2\n")

    # flows/<name>.mmd is compared exactly; flows/<name>.svg by the DOT digest inside it:
    # Graphviz lays out slightly differently from version to version, but `dot` copies the
    # graph's comment (a digest of the DOT source) into the SVG.
    stale = f"flows/{path.stem} diagrams are stale: run `make diagrams`"
    committed = path.with_suffix(".mmd")
    if committed.is_file():
        assert committed.read_text(encoding="utf-8") == drawn, stale
    svg_file = path.with_suffix(".svg")
    if svg_file.is_file():
        svg = svg_file.read_text(encoding="utf-8")
        assert source_digest(svg) == source_digest(source) is not None, stale
        root = ET.fromstring(svg.encode())
        titles = {el.text for el in root.iter("{http://www.w3.org/2000/svg}title")}
        assert set(flow.spec.states) <= titles
