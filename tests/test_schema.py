"""The committed JSON Schema of flow files matches the models the loader uses."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from engine.flow import safe_yaml as _yaml
from engine.flow.spec import SCHEMA_PATH, flow_json_schema

ROOT = Path(__file__).resolve().parent.parent


def test_committed_schema_is_current():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == flow_json_schema(), (
        "engine/schema/flow.schema.json is stale: run `dialplan schema -o "
        "engine/schema/flow.schema.json`"
    )


def test_example_flows_satisfy_the_schema_and_point_editors_at_it():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    for path in sorted((ROOT / "flows").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# yaml-language-server: $schema=../engine/schema/flow.schema.json")
        jsonschema.validate(_yaml.load(text), schema)  # YAML 1.2 booleans, as editors read
