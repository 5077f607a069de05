"""`dialplan validate --format json`: the same checks, as one JSON document for editors and CI."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import EXAMPLE
from tests.test_validate import VALID

ROOT = EXAMPLE  # not flows/: editing an example flow must not move these tests


def validate(*args: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", "--format", "json", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, json.loads(result.stdout), result.stderr


def test_flows_that_load_are_ok():
    code, report, stderr = validate("flows")
    assert code == 0, report
    assert report == {
        "files": [
            {"path": "flows/booking.yaml", "ok": True, "errors": [], "warnings": []},
            {"path": "flows/clinic_intake.yaml", "ok": True, "errors": [], "warnings": []},
        ],
        "ok": 2,
        "failed": 0,
    }
    assert stderr == ""  # stdout is the whole answer


def test_errors_have_line_message_and_hint(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(VALID.replace("flow: tiny", "flow: good"))
    bad = tmp_path / "tiny.yaml"
    bad.write_text(
        VALID.replace("- to: bye", "- to: byee").replace("    say: What", "    sya: What")
    )
    code, report, _ = validate(str(good), str(bad), "--prompts-dir", str(tmp_path))
    assert code == 1
    assert report["ok"] == 1
    assert report["failed"] == 1
    assert report["files"][0] == {"path": str(good), "ok": True, "errors": [], "warnings": []}
    broken = report["files"][1]
    assert broken["path"] == str(bad)
    assert broken["ok"] is False
    assert broken["errors"] == [  # every error of the file at once, by line
        {
            "file": str(bad),
            "line": 6,
            "severity": "error",
            "message": "states.ask.sya: unknown key",
            "hint": "did you mean 'say'?",
        },
        {
            "file": str(bad),
            "line": 9,
            "severity": "error",
            "message": "unknown state 'byee'",
            "hint": "did you mean 'bye'?",
        },
    ]


def test_graph_errors_come_with_their_hint(tmp_path):
    bad = tmp_path / "tiny.yaml"
    bad.write_text(VALID.replace("- to: bye", "- to: byee"))
    code, report, _ = validate(str(bad), "--prompts-dir", str(tmp_path))
    assert code == 1
    assert report["files"][0]["errors"] == [
        {
            "file": str(bad),
            "line": 9,
            "severity": "error",
            "message": "unknown state 'byee'",
            "hint": "did you mean 'bye'?",
        }
    ]


def test_unreadable_file_has_no_line(tmp_path):
    missing = tmp_path / "missing.yaml"
    code, report, _ = validate(str(missing))
    assert code == 1
    (entry,) = report["files"]
    assert entry["ok"] is False
    assert entry["errors"][0]["line"] is None
    assert entry["errors"][0]["file"] == str(missing)
    assert report == {"files": [entry], "ok": 0, "failed": 1}


def test_no_files_is_a_failure_with_an_empty_report(tmp_path):
    code, report, _ = validate(str(tmp_path))
    assert code == 1
    assert report == {"files": [], "ok": 0, "failed": 0}
