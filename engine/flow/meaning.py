"""Words as meanings: lemmas, synonyms and the small words that carry none.

Intent examples and what callers say are compared as sets of *concepts*: each word lemmatised
(``simplemma``, a dictionary lemmatiser that ships its data; no network, microseconds a word),
mapped to the synonym group it belongs to ("somebody", "human" and "receptionist" are all
``person``), and dropped when it is a small word that carries no meaning of its own. "Is there
someone I can talk to" and "talk to someone" are then the same two concepts in another order.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

# Each group: the concept, then words that mean it on a phone line (lemmas, lower case).
_GROUPS = (
    "person human someone somebody anyone anybody agent representative rep operator "
    "receptionist staff employee manager attendant desk",
    "talk speak chat connect transfer through",
    "repeat again pardon hear catch",
    "wrong mistake incorrect error misspell off",
    "correct right accurate fine good",
    "change fix modify update different another switch",
    "day date",
    "name spelling spell",
    "birth born birthday birthdate dob",
    "reason why visit",
    "time hour when clock",
    "guest people party size many",
    "robot machine bot computer automate automated ai recording",
    "neither none nothing",
    "work suit",
    "book reserve booking reservation",
)
_SYNONYM = {word: group.split()[0] for group in _GROUPS for word in group.split()}
_NOTHING = frozenset(
    re.findall(
        r"[\w']+",
        """a an the to of for in on at by with and or but so i me my mine you your we us our it
        its it's that this these those there here is are am was were be been being do does did
        can could would will shall should may might must please just want wanna like need let
        get got have has had go going gonna some any one thing things something anything oh um
        uh well okay ok yes yeah hi hello hey sorry then also really actually maybe i'm i'd
        i'll i've let's now today ask wait hold on real actual live being""",
    )
)
NEGATIONS = frozenset(
    {"not", "no", "never", "don't", "dont", "doesn't", "didn't", "won't", "can't"}
)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@functools.lru_cache(maxsize=4096)
def concept(word: str) -> str:
    """The concept of one lower-case word: its synonym group, else its lemma."""
    if word in _SYNONYM:
        return _SYNONYM[word]
    import simplemma  # on first use: checking or compiling a flow lemmatises nothing

    # The low-memory dictionary holds 2 MiB instead of 20 (the English lexicon as a dict), at
    # some 20 µs for a word not seen before; each word is then cached here.
    lemma = simplemma.lemmatize(word, lang="en", low_memory=True).lower()
    return _SYNONYM.get(lemma, lemma)


def words(text: str) -> list[str]:
    """Lower-case words, apostrophes kept inside them ("don't"); "who's" is "who is"."""
    said = re.sub(r"(\w)'s\b", r"\1 is", text.lower().replace("\u2019", "'"))
    return _WORD.findall(said)


def concepts(text: str | Iterable[str]) -> list[str]:
    """The meaningful concepts of ``text`` (or of its words), in order."""
    said = words(text) if isinstance(text, str) else list(text)
    return [concept(word) for word in said if word not in _NOTHING and word not in NEGATIONS]


def warm_up() -> None:
    """Load the lemmatiser's English data now rather than on a caller's first turn."""
    concept("talked")
