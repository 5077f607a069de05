"""What a caller's words mean for a flow's slots: each value to the one slot it belongs to.

The slot types read values out of words; this module decides which words each type reads and
where the values go (see :func:`understand`):

* A group of characters said again at once, changed ("nine eight seven, sorry, nine eight six"),
  replaces the group before it (:mod:`engine.flow.restarts`).
* The utterance is cut at corrections, negations and alternatives
  (:mod:`engine.flow.utterance`). Within one answer the last value wins ("five thirty, sorry,
  I mean nine"), "not X" takes X back ("not this Saturday but the one after" moves what it
  took back), "X or Y" settles nothing (but "..., or email's fine too, ..." gives another slot,
  named, beside the first), and a question to the agent ("what time do you close today?") is
  no answer.
* A value that could fit several slots of its type goes to the slot the caller's words name
  (the slot's ``cues``, or the words of its name: "my birthday is ..." -> ``date_of_birth``),
  else to the slot being asked, else to the only slot of its type; otherwise to none. Beside
  another value, one that only one slot takes as valid goes there ("Harold Finch, March 9
  1948": no pick-up day is in the past). A piece with no value is read with the one after it,
  and only those words name the slot ("she's due her shots, so next week, say Monday" is the
  visit's day).
* A slot with ``early: false`` takes values only as the answer to its own question. A slot
  the words name reads them as its answer ("the mileage is about 62,000").
* A partial correction changes only what it names: "March fourth, not third" keeps the year,
  "the last digit is 7" the rest of a code. A slot the caller says is wrong ("the street is
  wrong, it's ...") reads the words after that as its answer (:mod:`engine.flow.cues`).
* Free text is the caller's point: the words no other slot took, without hesitations,
  politeness, taken-back words or trailing punctuation (:mod:`engine.flow.point`). Free text
  held and taken back ("not lisinopril, I meant losartan") is replaced by what follows.
* Of two readings of the same words, the one inside the opening hours wins ("at 8" at a garage).
* A value the caller tells the agent to drop ("scratch the pickup", "forget the phone number")
  is emptied (:func:`engine.flow.cues.retract_pattern`).
* An invalid value is never stored anywhere; when it answered the question, its reason is
  kept to be said. A weak guess (:attr:`Parsed.sure` false) is never stored either: it goes
  to :attr:`Understanding.unsure`, to be read back; so is a value said with a hedge ("I
  haven't counted", "something like that"), a number guessed in passing ("and maybe a hundred
  boxes") and a day gone recalled with "I think".
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from .cues import cue_pattern, cues, dispute_pattern, retract_pattern
from .hours import within_hours
from .point import answer_point, bare_point, cued_point, disputed_point, retold_point
from .restarts import restarted
from .slots import Amends, Parsed, SlotType, yes_no
from .slots.base import clean, plain
from .slots.first_time import first_time_answer, introduced
from .spec import OpeningHours, SlotSpec
from .utterance import (
    Mode,
    Segment,
    corrective,
    disputes,
    pieces,
    segments_and_statements,
    strip_fillers,
)


@dataclass(frozen=True)
class Understanding:
    """What the parsers took from the caller's words."""

    values: dict[str, Any] = field(default_factory=dict)
    """Slot values to store (validated by their types)."""
    errors: tuple[str, ...] = ()
    """Speakable reasons why an answer to this state's question was refused."""
    corrected: tuple[str, ...] = ()
    """Slots that held another value before."""
    removed: tuple[str, ...] = ()
    """Slots whose value the caller took back ("not Friday"): to be emptied."""
    unsure: dict[str, Any] = field(default_factory=dict)
    """Values heard only as a weak guess ("first thing in the morning" as 08:00): never stored,
    to be read back to the caller for a yes or a no."""

    def learned(self, known: Mapping[str, Any]) -> bool:
        """Whether a slot that was empty gets a value."""
        return any(known.get(name) is None for name in self.values)


@dataclass(frozen=True)
class Listener:
    """What understanding needs of a flow: its slots, their types and its opening hours."""

    slots: Mapping[str, SlotSpec]
    types: Mapping[str, SlotType]
    hours: OpeningHours | None = None


def free_text(kind: SlotType) -> bool:
    """Whether values of ``kind`` are the caller's own words (the ``text`` type)."""
    return getattr(kind, "free_text", False) is True


@dataclass
class _Slot:
    """One slot's running result while an utterance is read."""

    name: str
    spec: SlotSpec
    kind: SlotType
    asked: bool
    known: Any
    cue: re.Pattern[str] | None
    disputed: bool = False  # the caller says its value is wrong ("the street is wrong")
    retold: bool = False  # its free text is taken back ("not lisinopril"): what follows replaces it
    value: Any = None
    changed: bool = False
    removed: bool = False
    ambiguous: bool = False
    error: str = ""
    unsure: Any = None  # a weak guess heard in this utterance, never stored (see Parsed.sure)
    denied: Any = None  # a value taken back in this utterance ("not this Saturday")
    named: bool = False  # a value named in this utterance, which no inferred one replaces

    @property
    def current(self) -> Any:
        """The value so far: this utterance's, else the one the call holds."""
        return self.value if self.changed else self.known

    @property
    def said(self) -> Any:
        """The value heard in this utterance, stored or only guessed (None: nothing heard)."""
        return self.value if self.changed else self.unsure


def understand(
    listener: Listener,
    asked: Collection[str],
    known: Mapping[str, Any],
    said: str,
    today: date,
) -> Understanding:
    """The slot values in ``said``, for a state that asks for the slots ``asked``."""
    # "Nine eight seven, sorry, nine eight six": a group said again replaces the one before.
    text = restarted(_latest(clean(said)))
    if not text:
        return Understanding()
    # Stated: "I'm not feeling well" is a point, not a take-back.
    found, stated = segments_and_statements(text)
    disputed = disputes(text)
    correcting = corrective(found, disputed)
    slots = {
        name: _slot(name, spec, listener.types[name], asked, known, text)
        for name, spec in listener.slots.items()
        if spec.source == "caller"
    }
    for slot in slots.values():
        slot.retold = free_text(slot.kind) and _taken_back(slot.known, found)
        # "Eighteen thousand, not eighty": the value held, taken back, says which slot the
        # words before it are for.
        slot.disputed = slot.disputed or _contradicted(slot, found, today)
    reader = _Reader(listener, slots, today, correcting, disputed)
    for segment in found:
        if segment.question:
            # "What time do you close today?" answers nothing; what follows the question in
            # the same breath may ("where is it, okay, 3 3 9 8 1 0 2").
            after = segment.after_question()
            if after is None:
                continue
            segment = after
        reader.read(segment)
    reader.settle()
    _introduction(slots.values(), text, today)
    declined = _DECLINES.search(text) is not None
    for slot in slots.values():
        if free_text(slot.kind):
            if not declined:  # "I'd rather not say" is no reason for a visit
                reader.free_text(slot, stated)
        elif slot.kind.name == "yes_no":
            answer = _yes_or_no(slot, text)
            if answer is not None:
                slot.value, slot.changed = answer, True
    reader.infer()
    hedged = _HEDGED.search(text) is not None
    recalled = _RECALLED.search(text) is not None
    for slot in slots.values():
        # "Maybe Monday, I'm not sure yet", "0147 or maybe 0148, one of those": the caller is
        # not sure, so what they said is a guess to check, never a value to store. A day gone
        # recalled with "I think" ("June 10th, I think") is a memory to check, where "Sunday,
        # I think" of a day to come is a choice.
        doubted = hedged or (recalled and slot.spec.past)
        if doubted and slot.changed and not slot.removed and not free_text(slot.kind):
            slot.unsure, slot.value, slot.changed = slot.value, None, False
    for slot in slots.values():
        # "Scratch the pickup, I'll drop it off myself": the value held is taken back.
        if slot.known is not None and not slot.changed and _dropped(slot, found):
            slot.value, slot.changed, slot.removed = None, True, True
    return _result(slots.values())


_DECLINES = re.compile(
    r"\b(?:(?:i'd|i would) (?:rather|prefer) not(?: to)?(?: say| answer| tell| share| go into"
    r"| get into)?|(?:i'd|i would) prefer not to|no comment|(?:i )?(?:don't|do not) want to"
    r" (?:say|answer|tell|share|go into|get into)|that's (?:private|personal))\b",
    re.IGNORECASE,
)
_HEDGED = re.compile(
    r"\b(?:(?:i'm|i am) not (?:sure|certain)|not (?:sure|certain) (?:yet|which|if|whether)"
    r"|(?:one|either) of (?:those|them|the two)|or maybe|or even|or possibly|or perhaps"
    r"|i (?:can't|cannot|don't) remember (?:which|if|whether|exactly)"
    r"|(?:haven't|have not|never|didn't) (?:counted|checked)|something like that"
    r"|if (?:you|we) (?:count|include)|depends (?:on|if))\b",
    re.IGNORECASE,
)
_RECALLED = re.compile(
    r"\b(?:i think|i believe|i guess|if i (?:remember|recall)(?: right(?:ly)?)?)\b", re.IGNORECASE
)
# A number guessed in passing: "five bedrooms and maybe a hundred boxes".
_GUESSED = re.compile(
    r"\b(?:maybe|probably|perhaps|i guess|i think)\s+(?:(?:about|around|like|roughly)\s+)?"
    r"(?:(?:a|an|the)\s+)?(?:\d|(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven"
    r"|twelve|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|dozen|couple)\b)",
    re.IGNORECASE,
)


def _yes_or_no(slot: _Slot, text: str) -> bool | None:
    """A yes-or-no slot's answer in ``text``: a yes or no when asked, or a statement.

    A yes or no is the whole answer, never a piece of it, and answers only the question asked;
    "I never have" answers "is this your first visit?", asked or not ("..., and I'm a new
    patient by the way"). A plain answer and a statement that disagree settle nothing.
    """
    plainly = yes_no(text) if slot.asked else _as_well(slot, text)
    said = slot.asked or slot.spec.early  # a slot with `early: false` waits for its question
    stated = first_time_answer(slot.name, slot.spec, text) if said else None
    if plainly is None or stated is None:
        return stated if plainly is None else plainly
    return plainly if plainly == stated else None


def _as_well(slot: _Slot, text: str) -> bool | None:
    """A yes to ``slot``, not asked, added to a yes: "yes, and parking too", "sure, plus parking".

    "Yes, and the car's outside" asks for nothing more: "too", "as well", "also" or "plus" adds.
    """
    if not slot.spec.early or slot.cue is None:
        return None
    for named in slot.cue.finditer(text):
        before = text[max(0, named.start() - _ALSO_REACH) : named.start()]
        after = text[named.end() : named.end() + _ALSO_REACH]
        if (_ALSO_BEFORE.search(before) or _ALSO_AFTER.match(after)) and yes_no(before) is True:
            return True
    return None


_ALSO_REACH = 40  # characters around a slot's cue where "and ... too" is looked for
_ALSO_BEFORE = re.compile(r"\b(?:also|plus)(?: (?:the|a|some))?\s*$", re.IGNORECASE)
_ALSO_AFTER = re.compile(r"\s*(?:too|as well)\b", re.IGNORECASE)


def _swapped(known: Any, found: list[Segment]) -> str | None:
    """Free text held with a word or two of it replaced, as "Birch Road, not Lane" says.

    The words taken back ("not Lane") must be words of the text held, and as many words end
    the words before them ("Road"), which the text held does not have: "1711 Birch Lane"
    becomes "1711 Birch Road". Anything else is no swap.
    """
    if not isinstance(known, str):
        return None
    for before, after in _not_after(found):
        old = plain(after.text).split()
        if not 1 <= len(old) <= 3:
            continue
        held = known.split()
        lowered = [plain(word) for word in held]
        new = re.findall(r"[\w'-]+", before.text)[-len(old) :]
        while old and len(new) == len(old) and plain(new[0]) == old[0]:
            new, old = new[1:], old[1:]  # "Rose Court, not Rose Lane": only "Lane" changes
        if not old or len(new) != len(old) or any(plain(word) in lowered for word in new):
            continue
        for start in range(len(held) - len(old) + 1):
            if lowered[start : start + len(old)] == old:
                return " ".join([*held[:start], *new, *held[start + len(old) :]])
    return None


def _not_after(found: list[Segment]) -> Iterator[tuple[Segment, Segment]]:
    """Each stretch said, with the "not ..." that follows it ("Birch Road, not Lane")."""
    for before, after in itertools.pairwise(found):
        if after.mode == "negated" and before.mode != "negated":
            yield before, after


def answers(understood: Understanding, types: Mapping[str, SlotType]) -> bool:
    """Whether ``understood`` answers even where the caller also asked for a repair.

    "Sorry, just a second, my other line is ringing" is no reason for a visit: free text takes
    any words, so only a typed value, or a value taken back, says the caller answered.
    """
    typed = [name for name in understood.values if not free_text(types[name])]
    return bool(typed or understood.removed)


def _taken_back(known: Any, found: list[Segment]) -> bool:
    """Whether a taken-back segment says the free text held ("not lisinopril, losartan")."""
    if not isinstance(known, str) or not known.strip():
        return False
    held = f" {plain(known)} "
    said = (plain(s.text) for s in found if s.mode == "negated")
    return any(len(words) > 2 and f" {words} " in held for words in said)  # not "not a"


def _introduction(slots: Collection[_Slot], text: str, today: date) -> None:
    """The name a caller who has come before introduces ("I'm not new, it's carla mendes").

    Read as the answer to "your name?", for the one name slot still empty.
    """
    empty = [
        s
        for s in slots
        if s.kind.name == "name" and s.known is None and not s.changed and s.spec.early
    ]
    if len(empty) != 1:
        return
    start = introduced(text)
    if start is None:
        return
    slot = empty[0]
    parsed = slot.kind.extract(text[start:], slot.spec, today, asked=True)
    if parsed is not None and parsed.ok and parsed.sure:
        slot.value, slot.changed = parsed.value, True


def _contradicted(slot: _Slot, found: list[Segment], today: date) -> bool:
    """Whether the caller says a value, then "not" and the value ``slot`` holds.

    "It's eighteen thousand, not eighty" of a mileage held as 80,000: the figure taken back is
    read at the scale of the one said ("eighty" thousand). A value taken back that is not the
    one held says nothing of which slot is meant.
    """
    if slot.known is None or free_text(slot.kind) or slot.kind.name == "yes_no":
        return False
    for before, after in _not_after(found):
        taken = slot.kind.extract(after.text, slot.spec, today, asked=True)
        if taken is None or not taken.ok:
            continue
        readings = [taken.value, *taken.others]
        if slot.kind.name == "number" and isinstance(taken.value, int | float):
            said = slot.kind.extract(before.text, slot.spec, today, asked=True)
            new = said.value if said is not None and said.ok else None
            if isinstance(new, int | float) and new >= 1000:
                readings.append(taken.value * 1000)  # "eighteen thousand, not eighty"
        if slot.known in readings:
            return True
    return False


def _dropped(slot: _Slot, found: list[Segment]) -> bool:
    """Whether the caller tells the agent to drop ``slot`` ("forget the phone number")."""
    drop = retract_pattern(slot.name, slot.spec)
    return any(s.mode != "negated" and drop.search(strip_fillers(s.text)) for s in found)


# A caller's turn is a few sentences; of a longer one only the last this many characters are
# read (the latest words carry the answer and its corrections), so that a runaway transcript
# costs bounded time.
READ_AT_MOST = 10_000


def _latest(text: str) -> str:
    if len(text) <= READ_AT_MOST:
        return text
    tail = text[-READ_AT_MOST:]
    return tail[tail.find(" ") + 1 :]  # from a word's start


def _slot(
    name: str,
    spec: SlotSpec,
    kind: SlotType,
    asked: Collection[str],
    known: Mapping[str, Any],
    text: str,
) -> _Slot:
    parts = getattr(kind, "parts", None)
    parts = parts if isinstance(parts, re.Pattern) else None
    return _Slot(
        name,
        spec,
        kind,
        name in asked,
        known.get(name),
        # Free text is taken after the author's own cues only: "reason" alone is too loose.
        cue_pattern(cues(name, spec, from_name=not free_text(kind))),
        # Only a value the call holds can be wrong.
        known.get(name) is not None
        and dispute_pattern(name, spec, kind.name, parts).search(text) is not None,
    )


def _result(slots: Collection[_Slot]) -> Understanding:
    values: dict[str, Any] = {}
    errors: list[str] = []
    corrected: list[str] = []
    removed: list[str] = []
    unsure: dict[str, Any] = {}
    for slot in slots:
        if slot.unsure is not None and not slot.changed:
            unsure[slot.name] = slot.unsure
        if slot.removed:
            if slot.known is not None:
                removed.append(slot.name)
        elif slot.changed and not slot.ambiguous and slot.value is not None:
            if not slot.asked and slot.value == slot.known:
                # "Saturday's fine, I was just double checking": a value held, said again
                # unasked, is no new value.
                continue
            values[slot.name] = slot.value
            if slot.known is not None and slot.known != slot.value:
                corrected.append(slot.name)
        elif slot.asked and slot.error and not slot.changed:
            errors.append(slot.error)
    return Understanding(values, tuple(errors), tuple(corrected), tuple(removed), unsure)


@dataclass(frozen=True)
class _Mention:
    """A reading of a segment's words and the slot it goes to."""

    slot: _Slot
    parsed: Parsed
    only_valid: bool = False  # chosen only as the one slot of its type that takes it as valid
    guessed: bool = False  # volunteered with "maybe" before it: a guess to read back


class _Reader:
    """Reads segments into the running results of the slots."""

    def __init__(
        self,
        listener: Listener,
        slots: dict[str, _Slot],
        today: date,
        correcting: bool,
        disputing: bool,
    ) -> None:
        self.listener = listener
        self.slots = slots
        self.today = today
        self.correcting = correcting  # a correction, a "not", or a dispute anywhere
        self.disputing = disputing  # "that's wrong", "no, ...": a value read back is disputed
        groups: dict[str, list[_Slot]] = {}
        for slot in slots.values():
            if not free_text(slot.kind) and slot.kind.name != "yes_no":
                groups.setdefault(slot.kind.name, []).append(slot)
        self.groups = groups
        self.weak: set[str] = set()  # slots read as answers only because a correction was made
        # Readings chosen only because no other slot of their type takes them as valid: kept
        # only beside another value (see settle).
        self.pending: list[tuple[_Mention, Mode]] = []
        # Values inferred for a slot not asked ("ate a bar of chocolate" for an emergency
        # visit): kept only beside another value said in other words (see infer).
        self.inferred: list[_Mention] = []

    # -- values of one type ----------------------------------------------------------------

    def read(self, segment: Segment) -> None:
        """Take the values of every type out of one segment.

        A value a slot took only because the caller corrects it ("make it 8" for a known time)
        counts only when no other type heard anything: "make it 8" for a known party size and
        time is either, so neither; "actually make it Saturday" is a day, not a name.
        """
        mentions = [
            found for group in self.groups.values() for found in self._mentions(group, segment)
        ]
        weak = [found for found in mentions if found.slot.name in self.weak]
        # A reading refused (a time outside the opening hours) makes no rival: "make it four"
        # for a known party size and a time at a restaurant opening at 5 PM is the size. Free
        # text taken back is what a correction is of ("not lisinopril, I meant losartan").
        retelling = any(slot.retold for slot in self.slots.values())
        if weak and (retelling or len([found for found in mentions if found.parsed.ok]) > 1):
            mentions = [found for found in mentions if found not in weak]
        self.weak.clear()
        for found in mentions:
            if found.guessed and found.parsed.ok:
                found = replace(found, parsed=replace(found.parsed, sure=False))
            mode = segment.mode
            if mode == "alternative" and self._another_way(found.slot, segment):
                mode = "plain"
            if found.parsed.inferred:
                # What the caller's words are an instance of answers only when plainly said,
                # and, not asked, never changes a value the call holds.
                if mode not in ("plain", "replace") or not found.parsed.ok:
                    continue
                if not found.slot.asked:
                    if found.slot.known is None:
                        self.inferred.append(found)
                    continue
            if found.only_valid:
                self.pending.append((found, mode))
            else:
                self._apply(found.slot, found.parsed, mode)

    def _another_way(self, slot: _Slot, segment: Segment) -> bool:
        """Whether "or" gives another slot's value, named, beside one said before it.

        "Call me at 513 555 0164, or email's fine too, g dot reyes at gmail dot com" gives both;
        "Friday or Saturday" settles neither.
        """
        return (
            not slot.changed
            and slot.cue is not None
            and slot.cue.search(segment.text) is not None
            and any(other.changed for other in self.slots.values() if other is not slot)
        )

    def settle(self) -> None:
        """Store the values chosen only by being valid, when the caller said another value too.

        "Harold Finch, March 9 1948" gives the name asked for and a date that can only be the
        date of birth; "tomorrow" alone, asked for the name, answers nothing and is not stored.
        """
        if any(slot.changed for slot in self.slots.values()):
            for found, mode in self.pending:
                self._apply(found.slot, found.parsed, mode)
        self.pending.clear()

    def infer(self) -> None:
        """Store the values inferred for slots not asked, beside another value said.

        "Today if you can, he ate a whole bar of dark chocolate" asked for the day gives the
        day and an emergency visit; "Diwali" alone, asked for the day, is no reason, and
        neither is "Christmas", which is the day itself.
        """
        said = [s for s in self.slots.values() if s.changed and not s.removed]
        for found in self.inferred:
            words = found.parsed.inferred
            beside = [s for s in said if s is not found.slot]
            if any(not _holds(other, words, self.today) for other in beside):
                self._apply(found.slot, found.parsed, "plain")
        self.inferred.clear()

    def _eligible(self, group: list[_Slot], mode: Mode) -> list[_Slot]:
        """Slots of one type that may take a value now: asked, correctable, or early."""
        return [
            slot
            for slot in group
            if slot.asked
            or slot.spec.early
            or (slot.known is not None and mode != "plain")
            or (slot.known is not None and self.correcting)
        ]

    def _mentions(self, group: list[_Slot], segment: Segment) -> list[_Mention]:
        eligible = self._eligible(group, segment.mode)
        if not eligible:
            return []
        naming = segment.text  # the words that may name the slot a value goes to
        if len(eligible) > 1:
            # Two values of one type in one breath ("born June 4th 1972, and I'll pick it up
            # Friday"): each piece of the segment goes to its own slot.
            split = []
            # A piece with no value is read with the one after it ("next week, say Thursday"),
            # though the slot is still the one the piece itself names.
            context = ""
            for piece in pieces(segment.text):
                words = f"{context}, {piece}" if context else piece
                results = self._parse_all(eligible, words, segment.mode)
                if any(parsed.ok for parsed in results.values()):
                    split.append((piece, results))
                    naming = words
                    context = ""
                else:
                    context = piece  # only the piece just before: bounded work per piece
            if len(split) > 1:
                chosen: list[_Mention | None] = []
                for piece, results in split:
                    if options := self._each_option(eligible, piece, results):
                        chosen.extend(options)
                    else:
                        chosen.append(_guessed(self._choose(eligible, piece, results), piece))
                each = [one for one in chosen if one is not None]
                # Pieces that all go to one slot are one value said in parts ("four adults and
                # two children", "a hundred and ten thousand"): the segment is read whole.
                if len({found.slot.name for found in each}) > 1:
                    return each
            if len(split) != 1:
                naming = segment.text
        # One value among pieces that say none goes to the slot its own piece (and the one just
        # before) names: "she's due her shots, so next week, say Monday" is the visit's day.
        results = self._parse_all(eligible, segment.text, segment.mode)
        if options := self._each_option(eligible, segment.text, results):
            return options
        found = self._choose(eligible, naming, results) if results else None
        found = _guessed(found, segment.text)
        return [found] if found is not None else []

    @staticmethod
    def _each_option(
        slots: list[_Slot], text: str, results: Mapping[str, Parsed]
    ) -> list[_Mention]:
        """Each slot's own option, where one breath says options of several lists.

        "A dental cleaning for my cat": the visit and the kind of animal, each in its own
        words. Words that are an option of two lists say neither.
        """
        ok = [s for s in slots if s.name in results and results[s.name].ok]
        if len(ok) < 2 or any(s.kind.name != "enum" for s in ok):
            return []
        said = plain(text)
        words = [
            {
                phrase
                for phrase in _option_words(s.spec, results[s.name].value)
                if re.search(rf"(?<![\w']){re.escape(phrase)}(?![\w'])", said)
            }
            for s in ok
        ]
        clash: set[str] = set()
        pairs = itertools.combinations(zip(ok, words, strict=True), 2)
        for (one, first), (other, second) in pairs:
            if any(a in b or b in a for a in first for b in second):
                # "Checkup" is a reason and a visit: the list asked takes it, else neither.
                both = one.asked == other.asked
                clash.update(s.name for s in (one, other) if not s.asked or both)
        return [_Mention(s, results[s.name]) for s in ok if s.name not in clash]

    def _parse_all(self, slots: list[_Slot], text: str, mode: Mode) -> dict[str, Parsed]:
        results = {}
        for slot in slots:
            parsed = self._parse(slot, text, mode)
            if parsed is not None:
                results[slot.name] = parsed
        return results

    def _parse(self, slot: _Slot, text: str, mode: Mode) -> Parsed | None:
        named = slot.cue is not None and slot.cue.search(text) is not None
        # A correction of a known value reads the words as an answer: "make that six", "the
        # time is wrong, it's 8".
        correcting = slot.current is not None and (
            mode in ("replace", "negated") or slot.disputed or self.disputing
        )
        # A slot the caller names reads the words as its answer: "the mileage is about 62,000".
        answering = slot.asked or slot.disputed or named
        # What the caller took back earlier in this breath is still what a part changes:
        # "not the 12th, the 21st".
        # "Not this Saturday but the one after": what was taken back is what the rest changes.
        base = next(
            (held for held in (slot.current, slot.denied, slot.known) if held is not None), None
        )
        names_part = any(
            isinstance(words, re.Pattern) and words.search(text) is not None
            for words in (getattr(slot.kind, "parts", None), getattr(slot.kind, "changes", None))
        )
        amender = slot.kind if isinstance(slot.kind, Amends) and base is not None else None
        parsed = None
        # A name asked again while the call holds one is being corrected: "it's Nguyen, N G U
        # Y E N" for "Tanya Wynn" respells the surname (see NameType.amend).
        again = slot.asked and getattr(slot.kind, "amends_when_asked", False) is True
        if amender is not None and (correcting or self.correcting or names_part or again):
            # "The 14th, not the 12th" changes the day of the date the call holds, whatever
            # the 14th would mean alone; a whole new value ("January 5th") reads as said.
            amended = amender.amend(text, slot.spec, self.today, base)
            if amended is not None and amended.ok:
                parsed = amended
        if parsed is None:
            parsed = slot.kind.extract(text, slot.spec, self.today, asked=answering)
        if parsed is None and correcting and not answering:
            parsed = slot.kind.extract(text, slot.spec, self.today, asked=True)
            if parsed is not None and not _of_scale(parsed.value, slot.current):
                parsed = None  # "can we do 3 instead" changes no mileage of 80,000
            if parsed is not None:
                self.weak.add(slot.name)
        may_amend = answering or correcting or named or self.correcting or names_part
        if (parsed is None or not parsed.ok) and amender is not None and may_amend:
            amended = amender.amend(text, slot.spec, self.today, base)
            if amended is not None:
                parsed = amended
        if parsed is not None and parsed.ok and self.listener.hours:
            parsed = within_hours(slot.kind.name, parsed, self.listener.hours, slot.spec.hours)
        return parsed

    def _choose(
        self, slots: list[_Slot], text: str, results: Mapping[str, Parsed]
    ) -> _Mention | None:
        """The one slot a value in ``text`` belongs to, with its reading, or None."""
        named = [s for s in slots if s.cue is not None and s.cue.search(text)]
        if len(named) == 1:
            chosen: _Slot | None = named[0]
        elif (asked := [s for s in slots if s.asked]) and (
            other := self._elsewhere(asked[0], slots, results)
        ):
            chosen = other
        elif asked:
            chosen = asked[0]
        elif self.correcting and len(known := [s for s in slots if s.known is not None]) == 1:
            chosen = known[0]  # "not the third" changes what was said before
        elif len(slots) == 1:
            chosen = slots[0]
        elif len(valid := [s for s in slots if s.name in results and results[s.name].ok]) == 1:
            # "March 9 1948" is no pick-up day: the date of birth, beside another value.
            return _Mention(valid[0], results[valid[0].name], only_valid=True)
        else:
            # Fits several slots and the caller named none: store it nowhere.
            chosen = None
        if chosen is None or chosen.name not in results:
            return None
        return _Mention(chosen, results[chosen.name])

    @staticmethod
    def _elsewhere(asked: _Slot, slots: list[_Slot], results: Mapping[str, Parsed]) -> _Slot | None:
        """The one other slot whose own option are words the asked slot reads nothing in.

        "Sick kid, he's out all day", asked why: "out all day" is how long, of the other list
        of options. Only options say by their words which slot they are of; a date or a number
        that fits several slots does not.
        """
        if asked.kind.name != "enum" or (asked.name in results and results[asked.name].ok):
            return None
        others = [s for s in slots if s.name in results and results[s.name].ok]
        return others[0] if len(others) == 1 else None

    def _apply(self, slot: _Slot, parsed: Parsed, mode: Mode) -> None:
        if parsed.ok and parsed.inferred and slot.named:
            return  # an option the caller named is not replaced by one inferred
        if not parsed.ok:
            if not slot.error:
                slot.error = parsed.error
            return
        if mode == "negated":
            slot.denied = parsed.value
            if slot.current is not None and parsed.value == slot.current:
                slot.value, slot.changed, slot.removed = None, True, True
            return
        if mode == "alternative":
            slot.ambiguous = slot.ambiguous or (slot.changed and parsed.value != slot.value)
            return
        if mode == "replace":
            slot.ambiguous = False
        if not parsed.sure:
            # A guess replaces what was said before it in this utterance, but is not stored.
            slot.unsure, slot.value, slot.changed = parsed.value, None, False
            return
        slot.value, slot.changed, slot.removed, slot.unsure = parsed.value, True, False, None
        slot.named = slot.named or not parsed.inferred

    # -- free text -------------------------------------------------------------------------

    def free_text(self, slot: _Slot, found: list[Segment]) -> None:
        """The caller's point (see :mod:`engine.flow.point`).

        After a dispute, the words that follow it; asked, what no other slot took; else the words
        after a cue.
        """
        taken = [s for s in self.slots.values() if s is not slot and s.said is not None]
        # "We're at 17 Harbor Road, and the problem is ...": a piece that opens with another
        # free text's cue is that slot's, not more of this one.
        texts = [
            s.cue for s in self.slots.values() if s is not slot and free_text(s.kind) and s.cue
        ]

        def says_other(piece: str) -> bool:
            opens = strip_fillers(piece)
            if any(cue.match(opens) for cue in texts):
                return True
            return any(_holds(other, piece, self.today) for other in taken)

        if (swapped := _swapped(slot.known, found)) is not None:
            slot.value, slot.changed = swapped, True  # "it's Birch Road, not Lane"
            return
        if slot.disputed:
            dispute = dispute_pattern(slot.name, slot.spec, slot.kind.name, None)
            point = disputed_point(found, dispute, says_other)
        elif slot.retold:
            point = retold_point(found, slot.cue, says_other)
        elif slot.asked:
            point = answer_point(found, slot.cue, says_other)
        elif slot.spec.early or slot.known is not None:
            point = cued_point(found, slot.cue, says_other)
            if not point and slot.cue is None and slot.known is None and taken:
                point = bare_point(found, says_other)  # "rx number 5502198, amoxicillin"
            if (
                point
                and isinstance(slot.known, str)
                and f" {plain(point)} " in f" {plain(slot.known)} "
            ):
                point = ""  # "it's a 2015" of a "2015 Honda Civic" held: a piece of it, no change
        else:
            point = ""
        if point:
            parsed = slot.kind.extract(point, slot.spec, self.today, asked=True)
            if parsed is not None and parsed.ok:
                self._apply(slot, parsed, "plain")
        elif slot.retold:
            slot.value, slot.changed, slot.removed = None, True, True  # "not lisinopril" alone


def _guessed(found: _Mention | None, text: str) -> _Mention | None:
    """``found``, marked a guess when volunteered with "maybe" before a number in ``text``.

    Asked, "maybe seven?" proposes an answer; said in passing beside the answer ("five
    bedrooms and maybe a hundred boxes"), it is an estimate to read back.
    """
    if found is None or found.slot.asked or _GUESSED.search(text) is None:
        return found
    return replace(found, guessed=True)


# A figure heard only because the caller corrects something is of the scale of the figure
# held: a count of 4 may become 7, a mileage of 80,000 does not become 3.
_SCALE = 10


def _of_scale(value: Any, held: Any) -> bool:
    """Whether ``value`` may be a change of the figure ``held`` (anything else may be)."""
    figures = [v for v in (value, held) if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(figures) < 2 or min(map(abs, figures)) == 0:
        return True
    return max(map(abs, figures)) / min(map(abs, figures)) <= _SCALE


def _option_words(spec: SlotSpec, value: Any) -> list[str]:
    """The words that name the option ``value`` of an enum slot, in plain lower case."""
    names = [str(value).replace("_", " "), *spec.options.get(str(value), ())]
    return [plain(name) for name in names if plain(name)]


def _holds(slot: _Slot, piece: str, today: date) -> bool:
    """Whether ``piece`` says ``slot``'s new value (so it is not part of free text)."""
    if free_text(slot.kind):
        return False
    if slot.kind.name == "yes_no":
        return (yes_no(piece) if slot.asked else None) is not None or (
            first_time_answer(slot.name, slot.spec, piece) is not None
        )
    value = slot.said
    parsed = slot.kind.extract(piece, slot.spec, today, asked=True)
    readings = [parsed.value, *parsed.others] if parsed is not None and parsed.ok else []
    if isinstance(slot.kind, Amends) and slot.known is not None:
        # "the 14th, not the 12th": the day of the date the call holds.
        amended = slot.kind.amend(piece, slot.spec, today, slot.known)
        if amended is not None and amended.ok:
            readings.append(amended.value)
    for said in readings:
        if isinstance(said, str) and isinstance(value, str):
            if said.lower() in value.lower():  # "S M Y T H" spells part of "John Smyth"
                return True
        elif said == value:
            return True
    return False
