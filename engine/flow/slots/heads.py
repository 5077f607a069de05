"""Head counts: a party said as the people in it ("me and my wife and our three kids" is 5).

Callers asked how many they will be often list who comes instead of counting: the caller ("me",
"myself", "I"), one person by who they are ("my wife", "a friend"), a pair ("my parents"), or a
number of people ("our three kids", "four adults", "a baby"). The count is the sum, and only a
list whose every member can be counted has one: "me and my kids" says no number.
"""

from __future__ import annotations

import re

# One person, by who they are to the caller (also a cue before their name: "my mother, Dolores").
RELATION = (
    r"wife|husband|partner|spouse|fianc[eé]e?|boyfriend|girlfriend|son|daughter|mother|mom|mum"
    r"|mother-in-law|father|dad|father-in-law|sister|brother|sister-in-law|brother-in-law"
    r"|grandmother|grandma|granny|grandfather|grandpa|grandson|granddaughter|aunt|uncle|cousin"
    r"|niece|nephew|friend|buddy|pal|mate|colleague|coworker|co-worker|boss|neighbou?r"
    r"|roommate|flatmate|kid|child|baby|toddler|infant|teen|teenager"
)
_ONE = rf"{RELATION}|other half|guest|adult|plus one|date"
# People who come in twos when no number is said: "my parents" are two.
_PAIR = r"parents|grandparents|in-laws"
# People counted: "three kids", "two friends", "four adults".
_MANY = (
    r"people|persons|adults|grown ?ups|kids|children|babies|toddlers|infants|teens|teenagers"
    r"|friends|buddies|colleagues|coworkers|co-workers|guests|sons|daughters|sisters|brothers"
    r"|cousins|nieces|nephews|grandkids|grandchildren|boys|girls|others|more|little ones|young ones"
)
_OWNER = r"(?:my|our|his|her|their|the|a|an|one)"


def _member(named: bool) -> str:
    """A pattern for one member of a party; ``named`` keeps the groups :func:`_count` reads."""

    def group(name: str) -> str:
        return f"?P<{name}>" if named else "?:"

    return (
        rf"\b(?:({group('me')}me|myself|i(?!['\u2019]))"
        rf"|{_OWNER} (?:\w+ )?(?:{_ONE})"
        rf"|(?:{_OWNER} )?({group('pair')}{_PAIR})"
        rf"|(?:(?:my|our|his|her|their|the) )?({group('count')}\d+|a|an|one) (?:\w+ )?"
        rf"(?:{_MANY}|{_ONE}))\b"
    )


_JOIN = r"(?:\s*,\s*(?:and |plus |with )?|\s+(?:and|plus|with|&)\s+)"
_MEMBERS = re.compile(_member(named=False))
_LIST = re.compile(rf"{_MEMBERS.pattern}(?:{_JOIN}{_MEMBERS.pattern})+")
_ONE_MEMBER = re.compile(_member(named=True))
# People the caller does not count, beside a list: "me and my wife and the kids" says no number.
_UNCOUNTED = (
    rf"(?:(?:my|our|his|her|their|the|all the) )?(?:\w+ )?(?:{_MANY}|family|folks|gang|crew)\b"
)
_UNCOUNTED_AFTER = re.compile(rf"{_JOIN}{_UNCOUNTED}")
_UNCOUNTED_BEFORE = re.compile(rf"\b{_UNCOUNTED}{_JOIN}$")
_REACH = 40  # characters beside a list where uncounted people are looked for
# Said before a party in passing: "it'll be me and my parents", "a table for me and my wife".
# Not "it's for": "it's for me and my wife" may say whose car it is.
_INTRODUCED = re.compile(
    r"\b(?:be|just|only|we're|we are|bringing|(?:table|booking|reservation|seats?|book it|book)"
    r" for)\s+$"
)
_INTRO_REACH = 20  # characters before a list where its introducing words are looked for
_PARTING = frozenset(",.;:?!")  # marks that part the pieces of an utterance


def heads(said: str, *, asked: bool) -> int | None:
    """How many people ``said`` lists (numbers already digits), or None for no countable list.

    Said in passing, a list counts only after words that introduce a party ("it'll be me and
    my parents", "a table for me and my wife"), or with the caller in it as a piece of its own
    ("Saturday at 8, me and my wife").
    """
    for found in _LIST.finditer(said):
        before = said[max(0, found.start() - _INTRO_REACH) : found.start()]
        if not (asked or _INTRODUCED.search(before) or _on_its_own(said, found)):
            continue
        near = said[max(0, found.start() - _REACH) : found.start()]
        if _UNCOUNTED_AFTER.match(said, found.end()) or _UNCOUNTED_BEFORE.search(near):
            return None
        members = [_ONE_MEMBER.fullmatch(m[0]) for m in _MEMBERS.finditer(found[0])]
        counts = [_count(member) for member in members if member is not None]
        if len(counts) == len(members):
            return sum(counts)
    return None


def _on_its_own(said: str, found: re.Match[str]) -> bool:
    """Whether a list with the caller in it is a piece of its own of the utterance.

    "Saturday at 8, me and my wife" is a party; "me and my wife share the car" is no count.
    """
    caller = any(member["me"] for member in _ONE_MEMBER.finditer(found[0]))
    # The text has single spaces: the mark that parts a piece is within two characters.
    start, end = found.start(), found.end()
    before = said[max(0, start - 2) : start].strip()
    after = said[end : end + 2].strip()
    opens = start == 0 or before[-1:] in _PARTING
    closes = end == len(said) or after[:1] in _PARTING
    return caller and opens and closes


def _count(member: re.Match[str]) -> int:
    """The people one member of a list stands for: a pair is two, a number as said."""
    if member["pair"]:
        return 2
    number = member["count"]
    return int(number) if number is not None and number.isdigit() else 1
