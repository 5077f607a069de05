"""Whether the caller is new: the answer to "is this your first visit?" said as a statement.

Asked whether it is their first visit, callers often say what they have or have not done rather
than yes or no ("my wife comes to you but I never have", "I'm a regular"), and they say it
unasked too ("..., and I'm a new patient by the way"). Such a statement answers a yes-or-no
slot about being new, whichever way round the slot asks: "is this your first visit?" (yes for
"I've never been") or "have you been here before?" (no for it). Only the caller's own first
person counts ("my wife comes to you" says nothing of the caller), and only where nothing says
the opposite too.
"""

from __future__ import annotations

import re
from functools import lru_cache

from engine.flow.spec import SlotSpec

# What a slot about being new is named or described by: "first visit", "new patient".
_ASKS_NEW = re.compile(
    r"\b(?:first (?:time|visit|appointment)|new (?:patient|client|customer)|never\b.*\bbefore)\b",
    re.IGNORECASE,
)
# What a slot about having come before is named or described by: "been here before".
_ASKS_BEFORE = re.compile(
    r"\b(?:been (?:here|in|seen|to us) before|visited before|returning|existing (?:patient"
    r"|client|customer))\b",
    re.IGNORECASE,
)
_WE = r"(?:i|we)"
_AM = r"(?:i'm|i am|we're|we are)"
# The caller has never come: "I'm new", "a new patient", "I've never been", "I never have".
_NEW = re.compile(
    rf"\b(?:{_AM} (?:a |brand )?new"
    r"(?: (?:patient|client|customer)s?\b| here\b|(?=\s*(?:[,.!?;]|$)))"
    rf"|{_WE}(?:'ve| have)? never (?:been|come|visited|seen you)\b"
    rf"|{_WE} never (?:have|did)\b(?=\s*(?:[,.!?]|$))"
    rf"|{_WE} (?:haven't|have not) been (?:here|in|to you|before|seen)\b"
    r"|(?:it's|it is|this is|this'll be|this will be) (?:my|our) (?:very )?first (?:time|visit"
    r"|appointment)\b)",
    re.IGNORECASE,
)
# The caller has come before: "I'm not new", "I'm a regular", "I've been coming for years".
_KNOWN = (
    rf"\b(?:{_AM} not (?:a )?new|{_AM} (?:a )?regular"
    rf"|{_AM} (?:an? )?(?:existing|returning|current) (?:patient|client|customer)"
    rf"|{_WE}(?:'ve| have) (?:been|come|visited) (?:here|in|to you|to see you)? ?before"
    rf"|{_WE}(?:'ve| have) (?:been|come) (?:here|to you)(?! for the first)"
    rf"|{_WE}(?:'ve| have) been (?:coming|seen by you|seeing you))\b"
)
_BEFORE = re.compile(_KNOWN, re.IGNORECASE)
# "I'm not new, it's Carla Mendes": a caller who has come before says who they are, so that
# they can be found; "it's" then introduces their name (see :func:`introduced`).
_INTRODUCED = re.compile(
    rf"{_KNOWN}(?: [\w']+){{0,4}}?[,.;]\s+(?:and |so )?(?:it's|it is)\s+", re.IGNORECASE
)


@lru_cache(maxsize=256)
def _asks(name: str, label: str, description: str) -> bool | None:
    words = " ".join((name.replace("_", " "), label, description))
    if _ASKS_NEW.search(words):
        return True
    if _ASKS_BEFORE.search(words):
        return False
    return None


def asks_new(name: str, spec: SlotSpec) -> bool | None:
    """Whether the yes-or-no slot ``name`` asks if the caller is new, or has come before.

    True for "is this your first visit?", False for "have you been here before?", else None.
    """
    return _asks(name, spec.label or "", spec.description)


def new_caller(text: str) -> bool | None:
    """Whether the caller says they are new (True) or have come before (False).

    None when they say neither, or both.
    """
    new, before = _NEW.search(text) is not None, _BEFORE.search(text) is not None
    return None if new == before else new


def first_time_answer(name: str, spec: SlotSpec, text: str) -> bool | None:
    """The yes or no the caller's statement about being new gives the slot, if it says one."""
    asks = asks_new(name, spec)
    said = new_caller(text) if asks is not None else None
    return None if said is None else said == asks


def introduced(text: str) -> int | None:
    """Where the name starts that a caller who has come before introduces, if they do.

    "No, I'm not new, it's carla mendes, ...": the words after "it's" are the caller's name,
    however the transcriber wrote them.
    """
    found = _INTRODUCED.search(text)
    return None if found is None else found.end()
