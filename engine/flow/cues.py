"""Which slot a caller's words name: a slot's cues, the words of its name, disputes, take-backs.

"My birthday is ..." names ``date_of_birth`` (a word of its name, or a synonym); an author's
``cues`` name a slot too ("pick it up" for ``pickup_day``). A slot is *disputed* when the caller
says it is wrong ("the street is wrong, it's ...", "wrong year"): the words after that are its
new value, and the judgement itself never is. A slot is *taken back* when the caller tells the
agent to drop it ("scratch the pickup", "forget the phone number"): its value is emptied.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from .spec import SlotSpec

# Words of a slot's name that say nothing about which slot of a type is meant; a number word
# ("card_last_four") is said in the very values ("one two three four").
_GENERIC = frozenset(
    re.findall(
        r"\w+",
        "date day time number name value size full first last count type the of my one two three"
        " four five six seven eight nine ten",
    )
)
_SYNONYMS = {
    "birth": ("born", "birthday", "birthdate", "dob"),
    "pickup": ("pick up", "pick it up", "collect"),
    "phone": ("number", "cell", "mobile"),
    "party": ("people", "guests", "of us"),
    "callback": ("call me back", "call back", "reach me"),
    "rx": ("prescription",),
    "member": ("membership", "policy"),
}
# How a caller says a value is wrong.
_WRONG = r"(?:wrong|incorrect|not right|not correct|off|a mistake|mistaken)"


def cues(name: str, spec: SlotSpec, *, from_name: bool = True) -> tuple[str, ...]:
    """The phrases that name slot ``name``: its ``cues``, and its name's telling words."""
    words = [w for w in name.lower().split("_") if w not in _GENERIC] if from_name else []
    named = [*words, *(synonym for word in words for synonym in _SYNONYMS.get(word, ()))]
    return tuple(dict.fromkeys(phrase.lower() for phrase in (*spec.cues, *named) if phrase))


def cue_pattern(phrases: Collection[str]) -> re.Pattern[str] | None:
    """A pattern finding any of ``phrases`` as whole words, or None for no phrases."""
    if not phrases:
        return None
    # A last word of four letters or more may go on ("birth" names "birthday"; "it's a" does
    # not name "it's about"); words may be apart by any space.
    alternatives = "|".join(
        r"\s+".join(map(re.escape, p.split())) + (r"\w*" if len(p.split()[-1]) > 3 else "")
        for p in phrases
    )
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


def dispute_pattern(
    name: str, spec: SlotSpec, type_name: str, parts: re.Pattern[str] | None
) -> re.Pattern[str]:
    """Finds the caller saying slot ``name`` is wrong: "the street is wrong", "wrong year".

    Any word of the slot's name counts here ("the time is wrong"), its cues, its synonyms, the
    name of its type, and the words that name a part of its values (``parts``: "the year").
    """
    words: Iterable[str] = [
        *(word for word in name.lower().split("_") if word not in ("of", "the", "my")),
        *(cue for cue in cues(name, spec)),
        type_name.replace("_", " "),
    ]
    said = "|".join(r"\s+".join(map(re.escape, w.split())) for w in dict.fromkeys(words) if w)
    if parts is not None:
        said = f"{said}|{parts.pattern}"
    return re.compile(
        rf"\b(?:{said})(?:\w*)(?:\s+[\w']+){{0,3}}?\s+(?:is|was|are|were|'s|looks|sounds)"
        rf"\s+{_WRONG}\b|\bwrong\s+(?:{said})",
        re.IGNORECASE,
    )


# How a caller tells the agent to drop a value: "scratch the pickup", "forget the phone number".
_DROP = (
    r"(?:scratch|forget(?: about)?|never mind(?: about)?|drop|skip|remove|delete|cancel"
    r"|leave out|take out|ignore|don't worry about|no need for)"
)
_BEFORE_DROP = r"(?:(?:just|please|and|actually|so|you can|let's|(?:you know )?what)[\s,]+)*"


def retract_pattern(name: str, spec: SlotSpec) -> re.Pattern[str]:
    """Finds the caller dropping slot ``name`` at the start of what they say.

    The slot is named by a word of its name, its cues or their synonyms: "scratch the pickup",
    "forget the phone number", "we don't need the pickup anymore".
    """
    words = [word for word in name.lower().split("_") if word not in ("of", "the", "my")]
    said = "|".join(
        r"\s+".join(map(re.escape, w.split())) for w in dict.fromkeys([*words, *cues(name, spec)])
    )
    return re.compile(
        rf"^{_BEFORE_DROP}(?:{_DROP}\s+(?:(?:the|my|that|this|about)\s+)?(?:\w+\s+)?(?:{said})\b"
        rf"|(?:i|we)\s+(?:don't|do not)\s+(?:need|want)\s+(?:the|a|my)\s+(?:{said})\b)",
        re.IGNORECASE,
    )
