"""An option's own words said another way: "broke a tooth" for "broken tooth".

Callers rarely say an option as it is listed; they describe it. A careful receptionist hears an
option in words that keep its own words in another form or order, and nothing further: a word
in another form ("broke", "teeth") or one of a few words of the same meaning ("weird" for
"strange"), a word or two between its words ("a weird grinding noise", "chipped my front
tooth"), or its two words turned round into a sentence ("my tooth is broken"). What the option
does not say is never guessed ("cracked" is no "broken"). Only options of two words are read
this way: each word of the option must be heard, so a longer one said loosely stays unheard.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

# Words of the same meaning, as options use them.
_SAME = (
    ("strange", "weird", "odd", "funny", "unusual", "peculiar"),
    ("noise", "sound"),
)
# Forms of a word no rule makes.
_FORMS = {
    "broken": ("broke", "break", "breaks"),
    "tooth": ("teeth",),
    "torn": ("tore", "tear"),
    "frozen": ("froze", "freeze"),
    "stolen": ("stole",),
    "bitten": ("bit", "bite"),
}
# Between an option's two words said in order: a word or two of the same clause, no joining
# word ("grinding" in "a weird grinding noise", "my front" in "chipped my front tooth").
_BETWEEN = r"(?: (?!(?:and|or|but|not|no)\b)[\w']+){0,2}"
# Between them turned round: "my tooth is broken", "the tooth broke".
_TURNED = r"(?: (?:is|was|got|has|just|has been|got all))?"


def _forms(word: str) -> tuple[str, ...]:
    """``word`` and the forms a caller says it in: its plural, its verb, its synonyms."""
    forms = {word, *_FORMS.get(word, ())}
    for same in _SAME:
        if word in same:
            forms.update(same)
    if word.endswith("ed") and len(word) > 4:
        stem = word[:-2]
        forms.add(stem[:-1] if stem[-1] == stem[-2] else stem)  # "chipped" is "chip"
    forms.update(f"{form}s" for form in list(forms) if not form.endswith("s"))
    return tuple(sorted(forms, key=len, reverse=True))


def _either(words: Iterable[str]) -> str:
    return "(?:" + "|".join(re.escape(word) for word in words) + ")"


@lru_cache(maxsize=256)
def kin_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern for the options' two-word ``phrases`` said another way, each a named group.

    The group of a match is ``p<i>``, the index of its phrase. Built once per flow's options.
    """
    parts = []
    for index, phrase in enumerate(phrases):
        words = phrase.split()
        if len(words) != 2:
            continue
        first, second = _either(_forms(words[0])), _either(_forms(words[1]))
        said = rf"{first}{_BETWEEN} {second}|{second}{_TURNED} {first}"
        parts.append(rf"(?P<p{index}>\b(?:{said})\b)")
    return re.compile("|".join(parts)) if parts else None


def kin_hits(said: str, phrases: tuple[str, ...]) -> list[tuple[int, int, int]]:
    """Where an option of ``phrases`` is said another way in ``said``: (start, end, phrase index).

    ``said`` is lower-case words; a comma still parts them.
    """
    pattern = kin_pattern(phrases)
    if pattern is None:
        return []
    found = []
    for match in pattern.finditer(said):
        name = match.lastgroup
        if name is not None:
            found.append((match.start(), match.end(), int(name[1:])))
    return found
