"""A flow version's files as text: read, written back elsewhere, compiled to the same version."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.flow.source import FlowSource, SourceFile, read_source, write_source
from tests.helpers import EXAMPLE, project


def copy(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(EXAMPLE / "flows", root / "flows")
    shutil.copytree(EXAMPLE / "prompts", root / "prompts")
    return root


def test_a_version_written_back_elsewhere_compiles_to_the_same_version(tmp_path):
    root = copy(tmp_path)
    opened = project(root)
    flow = opened.open_flow("booking")
    source = read_source(flow)
    assert source is not None and source.version == flow.version
    assert [f.role for f in source.files][:2] == ["flow", "template"]
    assert [f.path for f in source.files][:2] == ["booking.yaml", "booking/persona.j2"]
    assert {f.role for f in source.files[1:]} == {"template"}  # its partials too
    again = opened.open_source(FlowSource.from_json(source.flow, source.version, source.as_json()))
    assert again.version == flow.version and again.name == "booking"
    assert again.loaded.path != flow.loaded.path  # a copy of its own, not the working tree


def test_a_file_changed_since_the_compile_is_no_longer_that_version(tmp_path):
    root = copy(tmp_path)
    flow = project(root).open_flow("clinic_intake")
    persona = root / "prompts" / "clinic" / "persona.j2"
    persona.write_text(persona.read_text() + "\nBe brief.\n")
    assert read_source(flow) is None


def test_stored_paths_cannot_climb_out_of_their_folder(tmp_path):
    source = FlowSource(
        "x",
        "0" * 12,
        (
            SourceFile("flow", "../../x.yaml", "flow: x\n"),
            SourceFile("template", "../../evil.j2", "hi"),
        ),
    )
    flow_file, prompts = write_source(source, tmp_path / "copy")
    assert flow_file == tmp_path / "copy" / "flows" / "x.yaml"
    assert (prompts / "evil.j2").read_text() == "hi"
    assert not (tmp_path / "evil.j2").exists()


def test_candidate_files_are_no_flows_of_their_own_and_listeners_hear_every_compile(tmp_path):
    root = copy(tmp_path)
    stable = root / "flows" / "booking.yaml"
    (root / "flows" / "booking.next.yaml").write_text(stable.read_text())
    (root / "dialplan.yaml").write_text(
        "rollouts:\n  booking: {candidate: flows/booking.next.yaml, share: 10}\n"
    )
    opened = project(root, project_file=root / "dialplan.yaml")
    heard: list[str] = []
    opened.registry.compiled.append(lambda flow: heard.append(flow.loaded.path.name))
    assert opened.load() == []  # no "flow 'booking' is also defined in ..."
    assert sorted(heard) == ["booking.yaml", "clinic_intake.yaml"]
    assert opened.check_project_file().errors == []
