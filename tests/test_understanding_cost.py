"""Understanding costs time linear in the length of what the caller said.

A transcript can be long (a caller who talks on, a platform that sends a runaway turn) and
shaped to hurt a parser: many name cues in a row ("my name is my name is ..."), letters and
digits without end, commas, hesitations. Each slot type reads 128 KiB of such text in a few
seconds (a step quadratic in the length takes minutes there: the name parser once took 32 s
for 86 KiB), and a whole 1 MiB utterance is understood or refused within a couple of seconds.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest

from engine.flow.decide import recognise
from engine.flow.slots import SlotTypes
from engine.flow.spec import OpeningHours, SlotSpec
from engine.flow.understanding import Listener, Understanding, understand
from engine.project import Project
from engine.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 25)
TYPES = SlotTypes.builtin()
SPECS = {
    "full_name": SlotSpec(type="name"),
    "date_of_birth": SlotSpec(type="date", past=True, with_year=True),
    "day": SlotSpec(type="date", future=True, hours=True),
    "time": SlotSpec(type="time", hours=True),
    "party_size": SlotSpec(type="number", min=1, max=10),
    "reason": SlotSpec(type="text", cues=("calling about",)),
    "member_id": SlotSpec(type="identifier", pattern="[A-Z]{3}[0-9]{6}"),
    "rx_number": SlotSpec(type="identifier", length=7),
    "phone": SlotSpec(type="phone"),
    "email": SlotSpec(type="email"),
    "seat": SlotSpec(type="enum", values={"window": ("by the window",), "a": ()}),
    "confirmed": SlotSpec(type="yes_no"),
}
LISTENER = Listener(
    SPECS,
    {name: TYPES[spec.type] for name, spec in SPECS.items()},
    OpeningHours(open="08:00", close="17:00", closed=("sunday",)),
)
SHAPES = {
    "introductions": "my name is ",
    "letters and digits": "X J H 0 0 4 5 1 2 ",
    "number words": "oh three oh four nineteen eighty ",
    "interjections": "oh boy, um, ",
    "corrections": "not the 12th, the 14th, ",
    "single letters": "a ",
    "a name said again": "Dana, ",
    "spellings": "spelled S M I T H, ",
    "full stops": "....",
    "an address": "it's a 42 Elm Street, ",
    "groups said again": "nine eight seven, sorry, nine eight six, ",
    "people listed": "me and my wife and our three kids and ",
    "relative changes": "one more of us, push it back half an hour, ",
    "parts of a name": "Chen, C H E N, first name Wei, last name ",
}


def _said(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _seconds(work: object) -> float:
    started = time.perf_counter()
    assert callable(work)
    work()
    return time.perf_counter() - started


@pytest.mark.parametrize("kind", sorted({spec.type for spec in SPECS.values()}))
@pytest.mark.parametrize("shape", SHAPES)
def test_every_slot_type_reads_a_long_utterance_in_linear_time(kind: str, shape: str) -> None:
    said = _said(SHAPES[shape], 128 * 1024)
    spec = next(spec for spec in SPECS.values() if spec.type == kind)
    for asked in (True, False):
        spent = _seconds(lambda: TYPES[kind].extract(said, spec, TODAY, asked=asked))  # noqa: B023
        assert spent < 4, f"{kind} took {spent:.1f} s over 128 KiB of {shape!r}"


@pytest.mark.parametrize(
    "shape", ["introductions", "letters and digits", "corrections", "groups said again"]
)
def test_a_megabyte_utterance_is_understood_or_refused_within_two_seconds(shape: str) -> None:
    said = _said(SHAPES[shape], 1024 * 1024)
    for asked in (("full_name",), ("member_id", "rx_number"), ("reason",), ("time",)):
        found: list[Understanding] = []
        spent = _seconds(lambda: found.append(understand(LISTENER, asked, {}, said, TODAY)))  # noqa: B023
        assert spent < 2, f"{spent:.1f} s for 1 MiB of {shape!r}, asked {asked}"
        assert isinstance(found[0], Understanding)


def test_the_name_parser_reads_repeated_introductions_in_linear_time() -> None:
    said = "my name is " * (86 * 1024 // 11) + "Dana Scully"
    found = []
    spent = _seconds(
        lambda: found.append(TYPES["name"].extract(said, SPECS["full_name"], TODAY, asked=True))
    )
    assert spent < 2
    assert found[0] is not None and found[0].value == "Dana Scully"


def test_intents_are_recognised_in_a_megabyte_within_a_few_seconds() -> None:
    project = Project.from_settings(
        Settings(flows_dir=ROOT / "flows", prompts_dir=ROOT / "prompts")
    )
    flow = project.open_flow("clinic_intake")
    said = _said(SHAPES["introductions"], 1024 * 1024)
    assert _seconds(lambda: recognise(flow, "ask_name", said)) < 4
