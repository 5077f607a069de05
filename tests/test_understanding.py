"""The corpus floor: what callers say is understood (tests/understanding/, bench/understanding.py).

Every slot type, several slots at once, the example flows' intents and the built-in repairs:
at least 97 % overall and no kind under 95 %, for the whole corpus and for each batch written
blind on its own (a blind batch pooled with the cases the parsers were tuned on would hide its
misses). A miss prints the whole report, with every miss listed. Below the floor, the rules
of engine/flow/understanding.py the corpus leans on, one by one.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.flow.slots import SlotTypes
from engine.flow.spec import OpeningHours, SlotSpec
from engine.flow.understanding import Listener, Understanding, understand
from engine.project import Project
from engine.settings import Settings
from engine.testing.understanding import FLOOR_FILE, Report, load_corpus, run_corpus

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "understanding"
OVERALL, PER_KIND = 0.97, 0.95
BLIND = sorted(path.name for path in CORPUS.iterdir() if path.is_dir())


@pytest.fixture(scope="module")
def report() -> Report:
    project = Project.from_settings(
        Settings(flows_dir=ROOT / "flows", prompts_dir=ROOT / "prompts")
    )
    return run_corpus(load_corpus(CORPUS), project)


def test_the_corpus_is_broad(report: Report) -> None:
    kinds = report.by_kind()
    assert len(report.outcomes) >= 400
    builtin = {
        "text", "name", "number", "yes_no", "enum", "date", "time", "phone", "email", "identifier",
    }  # fmt: skip
    assert builtin | {"intent", "several slots"} <= set(kinds)
    assert {"blind-2", "blind-3", "blind-4", "blind-5"} <= set(report.batches())


def holds_the_floor(report: Report, what: str) -> None:
    text = "\n".join(report.lines())
    assert report.accuracy >= OVERALL, f"{what} under {OVERALL:.0%}\n{text}"
    for kind, (right, cases) in report.by_kind().items():
        assert right / cases >= PER_KIND, f"{what}: {kind} under {PER_KIND:.0%}\n{text}"


def working_floor(batch: str) -> dict[str, Any] | None:
    """A blind batch's own floor while its first-run misses are worked through, if it has one.

    A new blind batch measures wording the parsers were never tuned on; until its misses are
    worked through it is held at what it reaches (its ``floor.yaml``: ``overall``,
    ``per_kind`` and the ``first_run`` it started from), so it can only get better, and it is
    kept out of the whole corpus's floor until it meets the common one.
    """
    path = CORPUS / batch / FLOOR_FILE
    return yaml.safe_load(path.read_text()) if path.exists() else None


def test_callers_are_understood(report: Report) -> None:
    working = {batch for batch in BLIND if working_floor(batch) is not None}
    held = Report([o for o in report.outcomes if o.case.batch not in working])
    holds_the_floor(held, "the whole corpus")


@pytest.mark.parametrize("batch", BLIND)
def test_each_blind_batch_holds_the_floor_on_its_own(report: Report, batch: str) -> None:
    floor = working_floor(batch)
    if floor is None:
        holds_the_floor(report.batch(batch), f"the blind batch {batch}")
        return
    found = report.batch(batch)
    text = "\n".join(found.lines())
    assert found.accuracy >= floor["overall"], f"{batch} fell under its floor\n{text}"
    for kind, (right, cases) in found.by_kind().items():
        assert right / cases >= floor["per_kind"], f"{batch}: {kind} fell under its floor\n{text}"


# --- the rules the corpus leans on ------------------------------------------------------------

TODAY = date(2026, 11, 25)  # a Wednesday
TYPES = SlotTypes.builtin()


def listener(hours: OpeningHours | None = None, **specs: SlotSpec) -> Listener:
    return Listener(specs, {name: TYPES[spec.type] for name, spec in specs.items()}, hours)


CLINIC = listener(
    full_name=SlotSpec(type="name"),
    date_of_birth=SlotSpec(type="date", past=True, with_year=True),
    reason=SlotSpec(type="text", cues=("calling about",)),
    member_id=SlotSpec(type="identifier", pattern="[A-Z]{3}[0-9]{6}"),
)
GARAGE = listener(
    OpeningHours(open="08:00", close="17:00", closed=("sunday",)),
    date=SlotSpec(type="date", future=True),
    time=SlotSpec(type="time"),
    vehicle=SlotSpec(type="text", cues=("car is", "it's a")),
    mileage=SlotSpec(type="number", min=0, max=500000),
    pickup_address=SlotSpec(type="text", cues=("address is", "pick it up from", "street")),
)


def heard(listen: Listener, said: str, asked: tuple[str, ...] = (), **known: Any) -> Understanding:
    return understand(listen, asked, known, said, TODAY)


def test_a_guess_is_not_stored_but_kept_to_read_back() -> None:
    found = heard(GARAGE, "first thing Friday morning", ("date",))
    assert found.values == {"date": "2026-11-27"}
    assert found.unsure == {"time": "08:00"}
    # A value said plainly after the guess replaces it.
    found = heard(GARAGE, "first thing, actually make it 10", ("time",))
    assert found.values == {"time": "10:00"} and found.unsure == {}


def test_the_reading_inside_the_opening_hours_wins() -> None:
    assert heard(GARAGE, "drop it off at 8", ("time",)).values == {"time": "08:00"}
    assert heard(GARAGE, "at 3", ("time",)).values == {"time": "15:00"}
    assert heard(GARAGE, "at 7:30", ("time",)).values == {"time": "07:30"}  # the nearest


def test_a_disputed_value_takes_the_words_after_the_dispute() -> None:
    known = {"pickup_address": "42 Elm Street", "date": "2026-11-27", "time": "09:00"}
    found = heard(GARAGE, "the street is wrong, it's 48 Elm Street", **known)
    assert found.values == {"pickup_address": "48 Elm Street"}
    found = heard(GARAGE, "the address is wrong, it's 2210 Elm Street", **known)
    assert found.values == {"pickup_address": "2210 Elm Street"}  # no date in the year 2210
    assert heard(GARAGE, "is wrong", ("vehicle",)).values == {}


def test_a_correction_of_the_day_keeps_the_month_and_year() -> None:
    found = heard(GARAGE, "the 14th, not the 12th", ("date",), date="2027-01-12")
    assert found.values == {"date": "2027-01-14"}
    found = heard(CLINIC, "not the 12th, the 21st", date_of_birth="1971-10-12")
    assert found.values == {"date_of_birth": "1971-10-21"}


def test_numbers_in_free_text_are_no_date_nor_count() -> None:
    assert heard(CLINIC, "I've had back pain since 2019", ("reason",)).values == {
        "reason": "I've had back pain since 2019"
    }
    found = heard(GARAGE, "it's a 2015 Honda Civic with about 90,000 miles", ("vehicle",))
    assert found.values == {"vehicle": "2015 Honda Civic", "mileage": 90000}
    assert heard(GARAGE, "the car is a 2018 Camry", ("mileage",)).values == {
        "vehicle": "a 2018 Camry"
    }


@pytest.mark.parametrize(
    ("said", "point"),
    [
        ("um, I've got, like, a rash, um, on my arm", "I've got a rash on my arm"),
        (
            "it's, uh, my back, you know, it's been really stiff",
            "it's my back, it's been really stiff",
        ),
        ("I'm calling about my, uh, my annual physical", "my annual physical"),
        (
            "renewing my prescription for the, um, the inhaler",
            "renewing my prescription for the inhaler",
        ),
        ("oh boy, let me think", None),
        ("correct", None),
        ("the reason is", None),
    ],
)
def test_free_text_is_trimmed_of_fillers_inside_it(said: str, point: str | None) -> None:
    found = heard(CLINIC, said, ("reason",))
    assert found.values == ({"reason": point} if point else {})


def test_a_known_code_is_changed_by_naming_its_part() -> None:
    found = heard(CLINIC, "sorry, the member ID ends in 42", ("reason",), member_id="XJH004512")
    assert found.values == {"member_id": "XJH004542"}
    assert heard(CLINIC, "the last digit is 7", member_id="XJH004512").values == {
        "member_id": "XJH004517"
    }


SCHOOL = listener(
    reason=SlotSpec(
        type="enum",
        values={"illness": ("sick", "flu"), "religious": ("religious holiday",), "travel": ()},
    ),
    absence=SlotSpec(type="enum", values={"full_day": ("all day",), "late_arrival": ("late",)}),
)


def test_an_option_inferred_never_changes_one_held_unasked() -> None:
    # Asked how long, "going to Disney" beside the answer is no new reason for a flu held...
    found = heard(SCHOOL, "she'll be in by lunch, we're going to Disney after", ("absence",),
                  reason="illness")  # fmt: skip
    assert found.values == {"absence": "late_arrival"}
    assert found.corrected == ()
    # ...but asked again why, it is the answer.
    found = heard(SCHOOL, "oh, actually it's Diwali", ("reason",), reason="illness")
    assert found.values == {"reason": "religious"}
    assert found.corrected == ("reason",)


def test_an_option_named_wins_over_one_inferred_in_the_same_breath() -> None:
    for said in ("she's sick, and we're flying to Orlando", "we're flying to Orlando, she's sick"):
        assert heard(SCHOOL, said, ("reason",)).values == {"reason": "illness"}
    # Each piece read for its own slot: the trip said last still does not replace the flu.
    found = heard(SCHOOL, "she's sick, she's out all day, and we're flying to Orlando", ("reason",))
    assert found.values == {"reason": "illness", "absence": "full_day"}


def test_the_corpus_checks_the_values_to_confirm(tmp_path: Path) -> None:
    (tmp_path / "times.yaml").write_text(
        "type: time\nslots:\n  time: {type: time}\ncases:\n"
        '  - {said: "first thing", asked: time, expect: {}, confirm: {time: "08:00"}}\n'
        '  - {said: "first thing", asked: time, expect: {}, confirm: {}}\n'
        '  - {said: "first thing", asked: time, expect: {}}\n'
    )
    report = run_corpus(load_corpus(tmp_path))
    assert [outcome.ok for outcome in report.outcomes] == [True, False, True]
    lines = "\n".join(report.lines())
    assert "expected {}, got {(confirm): {'time': '08:00'}}" in lines


def test_a_negation_in_the_callers_own_words_is_part_of_the_point() -> None:
    assert heard(CLINIC, "I'm not feeling well", ("reason",)).values == {
        "reason": "I'm not feeling well"
    }
    assert heard(CLINIC, "I can't sleep, and my back hurts", ("reason",)).values == {
        "reason": "I can't sleep, and my back hurts"
    }
    assert heard(CLINIC, "a rash on my arm, not my leg", ("reason",)).values == {
        "reason": "a rash on my arm"
    }


def test_a_files_opening_hours_apply_to_its_date_and_time_slots(tmp_path: Path) -> None:
    (tmp_path / "times.yaml").write_text(
        "type: time\nhours: {open: '17:00', close: '21:30', closed: [monday]}\nslots:\n"
        "  time: {type: time}\n  day: {type: date, future: true}\n"
        "  born: {type: date, past: true, with_year: true}\n"
        "  free: {type: time, hours: false}\ncases:\n"
        '  - {said: "10 pm", asked: time, expect: {}}\n'
        '  - {said: "Monday", asked: day, expect: {}}\n'
        '  - {said: "June 1st 1970", asked: born, expect: {born: 1970-06-01}}\n'
        '  - {said: "10 pm", asked: free, expect: {free: "22:00"}}\n'
    )
    report = run_corpus(load_corpus(tmp_path))
    assert [outcome.ok for outcome in report.outcomes] == [True, True, True, True]
