"""Words that are never a value: interjections, hesitations, thinking aloud, and cue phrases.

Callers fill silence ("um", "hang on", "let me think"), exclaim ("oh boy", "gosh"), judge what
they heard ("that's wrong", "correct") and introduce what they say ("it's", "the address is",
"under the name"). None of it is ever the caller's name, a street, a reason or a code: a slot
type drops these words before it reads a value, and free text is trimmed of them.
"""

from __future__ import annotations

import re

# Exclamations, some of them words that are names elsewhere ("oh boy" is not a Boy).
INTERJECTIONS = (
    r"oh (?:boy|man|dear|my(?: (?:god|gosh|goodness|word|lord))?|jeez|geez|gosh|golly|no|wow"
    r"|great|brother|shoot|darn|dang)|my (?:goodness|god|gosh|word)|goodness(?: me)?"
    r"|good (?:grief|lord|heavens|gosh)|holy (?:cow|moly|smokes|crap)|dear me|gee(?: whiz)?"
    r"|gosh|golly|geez|jeez|jeepers|wow|whoa|woah|oops|whoops|ugh|argh|yikes|dang|darn|phew"
    r"|ahem|aha|ha(?:[\s-]?ha)+|hah|heh(?:[\s-]?heh)*|lol|aw+|boy oh boy|man oh man"
)
# Sounds of hesitation: "um", "uhh", "erm", "hmm", "mm".
# Sounds of hesitation and of listening: "um", "uhh", "erm", "hmm", "mm-hmm", "uh-huh"; never a
# lone "M" (an initial).
HESITATION = (
    r"(?:(?:mm+|uh|um)-?h(?:m+|uh)|uh-uh|u+[hm]+|h+m+|m{2,}|(?-i:[Ee]+r+m*)|a+h+|eh|huh|mhm)"
)
# ("ER", the emergency room, is no "er": a hesitation is never said in capitals)
# Thinking aloud, asking for time, and words said while looking for the answer.
THINKING = (
    r"let me (?:think|see|check|look|find (?:it|that|the \w+|my \w+)|grab (?:it|that|my \w+)"
    r"|get (?:it|that|my \w+)|pull (?:it|that) up)|let's see|hang on(?: a (?:sec(?:ond)?|minute"
    r"|moment))?|hold on(?: a (?:sec(?:ond)?|minute|moment))?|hold up|wait(?: a (?:sec(?:ond)?"
    r"|minute|moment))?|one (?:sec(?:ond)?|moment|minute)|(?:just )?a (?:sec(?:ond)?|moment"
    r"|minute)|give me a (?:sec(?:ond)?|moment|minute)|bear with me|where was i|what's the word"
    r"|how do i put (?:it|this)|you know|i mean|i guess|like|well|so|okay|ok|alright|anyway"
    r"|basically|um+ ?hm+|sure thing|pardon(?: me)?|come again|say (?:that )?again"
    r"|excuse me|sorry what|what was that"
)
# What a caller says of a value rather than the value: "wrong", "that's correct".
_JUDGEMENTS = (
    r"(?:(?:that|it|this|the \w+)(?:'s| is| was))? ?(?:wrong|not right|incorrect|correct|right"
    r"|exactly|a mistake)|is wrong"
)
# Words that introduce a value and are never one: "it's", "the address is", "under the name".
_CUES = (
    r"it's|it is|that's|that is|it was|this is|the (?:\w+ )?(?:address|name|number|reason"
    r"|date|time|street|id) is|under the name(?: of)?|my (?:\w+ )?(?:name|address|number) is"
)
_EMPTY = re.compile(
    rf"\b(?:{INTERJECTIONS}|{THINKING}|{_JUDGEMENTS}|{_CUES}|{HESITATION}|yes|yeah|yep|no|nope"
    r"|sorry|please|thanks|thank you|hi|hello|hey|oh|ah)\b",
    re.IGNORECASE,
)
# Interjections and thinking aloud, as they stand between commas or at the start of an answer.
_ASIDE = re.compile(
    rf"(?:^|(?<=[,.!?;]))\s*(?:oh,? )?(?:{INTERJECTIONS}|{THINKING}|{HESITATION})\s*"
    r"(?=[,.!?;]|$)",
    re.IGNORECASE,
)


# Asking for time, which may hold a number word: "one moment" is no party of one.
_WAIT = re.compile(
    r"\b(?:just |give me |wait |hold on |hang on )?(?:one|a) (?:sec(?:ond)?|moment|minute)\b",
    re.IGNORECASE,
)


def drop_waits(text: str) -> str:
    """``text`` without requests for time ("one moment", "give me a second")."""
    return _WAIT.sub(" ", text)


def only_fillers(text: str) -> bool:
    """Whether ``text`` says nothing but fillers, interjections, judgements and cue words.

    "oh boy, let me think", "the address is", "that's wrong" and "correct" are no value.
    """
    return not _EMPTY.sub(" ", text).strip(" ,.!?;:\u2026-\t\n")


def drop_asides(text: str) -> str:
    """``text`` without the interjections and thinking aloud set off by commas or at its start.

    ``"oh boy, uh, it's Marcus Webb"`` -> ``", , it's Marcus Webb"``: the commas stay, so that
    what was on either side is still apart.
    """
    return _ASIDE.sub("", text)
