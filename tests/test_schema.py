"""The committed JSON Schema of flow files matches the models the loader uses."""

from __future__ import annotations

from engine.flow.spec import SCHEMA_PATH, flow_json_schema


def test_committed_schema_is_current():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == flow_json_schema(), (
        "engine/schema/flow.schema.json is stale: run `dialplan schema -o "
        "engine/schema/flow.schema.json`"
    )
