"""Short answers: free text, yes or no, and one of a list of options."""

from __future__ import annotations

import itertools
import re
from datetime import date
from functools import lru_cache

from typing_extensions import override

from engine.flow.spec import SlotSpec
from engine.templates.spoken import spoken_list

from .base import BaseSlotType, Parsed, clean, plain
from .kin import kin_hits
from .world import Options, world_hits

# Neither yes nor no: "no problem"; "we're fine" (a no after "no", and after "yes" a yes);
# "oh no" exclaimed ("oh no, I forgot to say, ..."), unless a decline follows it ("oh no,
# thanks", "oh no, we're fine").
_NEUTRAL = re.compile(
    r"\bno (?:problem|worries)\b|\b(?:we're|i'm|we are|i am) (?:fine|good|okay|ok|all set)\b"
    r"|\boh no\b(?!,? (?:thanks|thank you|that's|it's|we're|i'm|we are|i am|not|no|nope|don't"
    r"|i don't|we don't|i won't|we won't|need)\b)(?=,? \w)"
)
# The caller does not know yet: "maybe", "I'll have to check with him".
_HEDGE = re.compile(
    r"\b(?:but|except|though|although|actually|wait|hold on|maybe|not sure|don't know|dunno"
    r"|no idea|(?:have|need) to (?:check|ask)|(?:i'll|i will) (?:check|ask)"
    r"|check with)\b"
)
_NO = re.compile(
    r"\b(?:no|nope|nah|negative|incorrect|wrong|false|uh uh|i don't think so|don't|do not"
    r"|never mind|cancel"
    r"|(?:absolutely|definitely|certainly|of course) not"
    r"|not (?:quite|really|exactly|correct|right|true|it|great|good|perfect|fine)"
    r"|isn't (?:right|correct))\b"
)
_YES = re.compile(
    r"\b(?:yes|yeah|yea|yep|yup|ya|correct|right|alright|exactly|sure|absolutely|definitely"
    r"|certainly|affirmative|of course|uh huh|mm hmm|mhm|you got it|that's it|sounds good"
    r"|perfect|true|fine|please do|do it|go ahead|go for it|that works|works for me|that is it"
    r"|great|wonderful|lovely|excellent|brilliant|bang on"
    # "I'd love that", "that'd be lovely", "love to"
    r"|(?:i'd|i would|we'd|we would) (?:love|like) (?:that|it|one|some)|(?:i'd|we'd) love to"
    r"|(?:that'd|that would) be (?:nice|great|lovely|perfect|wonderful)|love (?:that|it))\b"
)


_CHANGED_MIND = re.compile(r"\b(?:no wait|wait|actually|i mean|sorry|on second thought)\b")
_DISPUTE = re.compile(
    r"\b(?:wrong|off|incorrect|mistake|typo|misspel\w*|not right|isn't right|change|fix"
    r"|different|missing)\b"
)
# A question back is no answer: "why, does it change the price?" (but "do it" is a yes).
_ASKS_BACK = re.compile(
    r"^(?:why|what|how|when|where|who|which|(?:does|do(?! it\b)|is|are|can|could|will|would)"
    r"\b(?=.*\?))"
)
_PLAIN_ANSWER = re.compile(r"\b(?:yes|yeah|yep|yup|no|nope|nah)\b")
_NEARLY = re.compile(r"\b(?:almost|nearly|mostly|not all)\b")
_GOOD = re.compile(r"(?<!not )\b(?:all good|looks good|that's good|good to go|spot on)\b")


def yes_no(text: str) -> bool | None:
    """A clear yes (True) or no (False) in an utterance, else None.

    The rule: commit only to an unambiguous answer, so the agent never confirms details the
    caller is disputing. There must be assent or dissent but not both ("yes no" -> None), and no
    hedge ("not sure", "maybe" -> None). A yes that goes on to dispute something ("yeah, but the
    phone number's wrong", "almost, the last name's off") is a no: not everything is right. A
    caller who changes their mind is taken at their last word ("yes, no wait, actually no").
    A yes with a question after it ("yes, but do you have parking?") is a yes. Negated assent
    is dissent ("that's not right"). Idioms like "no problem" are neither: alone None, after a
    yes harmless. "Okay" is not a yes: callers say it to acknowledge while still listening.
    """
    said = _NEUTRAL.sub(" ", plain(clean(text)))
    if _ASKS_BACK.match(said if "?" not in text else f"{said}?") and not _PLAIN_ANSWER.search(said):
        return None
    changed = list(_CHANGED_MIND.finditer(said))
    if changed and (later := _answer(said[changed[-1].end() :])) is not None:
        return later
    if _DISPUTE.search(said) or (_NEARLY.search(said) and not _GOOD.search(said)):
        return False  # something read back is not right
    head, _, tail = said.partition(" but ")
    if tail and "?" in clean(text) and _answer(head) is not None:
        return _answer(head)  # a question after the answer: "yes, but do you have parking?"
    if _HEDGE.search(said):
        return None
    if _GOOD.search(said) and not _NO.search(said):
        return True
    return _answer(said)


def _answer(said: str) -> bool | None:
    """Assent or dissent, but not both."""
    said_no = bool(_NO.search(said))
    said_yes = bool(_YES.search(_NO.sub(" ", said)))
    return None if said_yes == said_no else said_yes


class TextType(BaseSlotType):
    """Free text: the caller's words when asked, trimmed of trailing punctuation.

    What counts as the caller's point in an utterance (not the fillers, nor what other slots
    took) is :mod:`engine.flow.understanding`'s business; this type only tidies it.
    """

    name = "text"
    format = "the caller's answer"
    free_text = True

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        point = said.strip().rstrip(" .,;:!?\u2026").strip()
        return Parsed(True, point) if asked and point else None


class YesNoType(BaseSlotType):
    """A yes or no, understood only when asked (a stray "yes" answers some other question)."""

    name = "yes_no"
    invalid = "I need a yes or a no"

    @override
    def json_schema(self, spec: SlotSpec) -> dict[str, object]:
        return {"type": "boolean", "description": self._describe(spec)}

    @override
    def parse(self, value: object, spec: SlotSpec, today: date) -> Parsed:
        if isinstance(value, bool):
            return Parsed(True, value)
        return super().parse(value, spec, today)

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        answer = yes_no(said) if asked else None
        return None if answer is None else Parsed(True, answer)

    @override
    def say(self, value: object, spec: SlotSpec) -> str:
        return "yes" if value is True else "no" if value is False else str(value)


_NEGATED = re.compile(r"\b(?:not|don't want|rather not|never)(?: the| a| an)? ?$")
_NEGATION_REACH = 20  # characters before an option where "not" takes it back


def _options(spec: SlotSpec) -> dict[str, str]:
    """Every phrase naming an option, in plain lower case -> its canonical value."""
    return {
        plain(phrase): canonical
        for canonical, synonyms in spec.options.items()
        for phrase in (canonical.replace("_", " "), *synonyms)
    }


def _hits(said: str, options: dict[str, str]) -> list[tuple[int, int, str]]:
    """Where each phrase is said as whole words (not right after "not"), and its option."""
    return [
        (match.start(), match.end(), canonical)
        for phrase, canonical in options.items()
        if phrase
        # "The state inspection's due": an option may end in "'s" (is, has).
        for match in re.finditer(rf"(?<![\w']){re.escape(phrase)}(?='s\b|(?![\w']))", said)
        if not _NEGATED.search(said[max(0, match.start() - _NEGATION_REACH) : match.start()])
    ]


def _kin(text: str, options: dict[str, str]) -> list[tuple[int, int, str]]:
    """Where an option is said in other forms of its own words (see :mod:`.kin`), and its option.

    Commas still part the words: "weird, then a noise" is no "weird noise".
    """
    said = " ".join(re.sub(r"[^\w',]+", " ", text.lower()).replace(",", " ,").split())
    phrases = tuple(options)
    return [
        (start, end, options[phrases[index]])
        for start, end, index in kin_hits(said, phrases)
        if not _NEGATED.search(said[max(0, start - _NEGATION_REACH) : start])
    ]


@lru_cache(maxsize=256)
def _kinds(options: tuple[tuple[str, tuple[str, ...]], ...]) -> Options:
    """The options with their phrases in plain lower case, as :mod:`.world` reads them."""
    return tuple(
        (value, tuple(plain(phrase) for phrase in (value.replace("_", " "), *phrases)))
        for value, phrases in options
    )


def _world(said: str, spec: SlotSpec) -> list[tuple[int, int, str]]:
    """Where a thing of the kind an option is is said (see :mod:`.world`), not after "not"."""
    return [
        (start, end, option)
        for start, end, option in world_hits(said, _kinds(tuple(spec.options.items())))
        if not _NEGATED.search(said[max(0, start - _NEGATION_REACH) : start])
    ]


def _tail(phrase: str) -> str:
    """The last two words of a phrase of three or more ("engine light"), else ""."""
    words = phrase.split()
    return " ".join(words[-2:]) if len(words) > 2 else ""


def _outermost(hits: list[tuple[int, int, str]]) -> set[str]:
    """The options of the hits no longer hit contains: "window seat" wins over its "window".

    One sweep in order of start (longest first), so that many hits cost n log n, not n².
    """
    found: set[str] = set()
    reach = -1  # the furthest end of the hits before the current span
    for (_, end), group in itertools.groupby(sorted(hits, key=lambda h: (h[0], -h[1])), key=_span):
        if reach < end:
            found.update(canonical for _, _, canonical in group)
        reach = max(reach, end)
    return found


def _span(hit: tuple[int, int, str]) -> tuple[int, int]:
    return hit[0], hit[1]


class EnumType(BaseSlotType):
    """One of ``spec.options``, by its canonical name or a synonym, as whole words.

    Two different options in one answer are ambiguous (None); an option right after "not" does
    not count. The last two words of a longer synonym name it too ("my engine light is on" for
    "check engine light"). When asked, an answer close to an option ("patios") is that option.
    """

    name = "enum"

    @override
    def json_schema(self, spec: SlotSpec) -> dict[str, object]:
        return {"type": "string", "enum": list(spec.options), "description": self._describe(spec)}

    @override
    def parse(self, value: object, spec: SlotSpec, today: date) -> Parsed:
        found = super().parse(value, spec, today)
        if found.ok:
            return found
        choices = spoken_list([self.say(option, spec) for option in spec.options])
        return Parsed(False, error=f"the options are {choices}")

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        text = said
        said, options = plain(said.replace("_", " ")), _options(spec)
        hits = _hits(said, options)
        if not hits:
            # "My engine light is on" for "check engine light": the last words of a long phrase.
            hits = _hits(said, {_tail(phrase): option for phrase, option in options.items()})
        if not hits and asked:
            # "I broke a tooth" for "broken tooth": an option's own words said another way.
            hits = _kin(text, options)
        if not hits and (known := _world(said, spec)):
            # "He's a parakeet" for "bird", "it's Diwali" for "religious": what the caller
            # names is of the kind one option is. Two kinds of options: no answer.
            if len({option for _, _, option in known}) > 1:
                return None
            start, end, option = known[0]
            return Parsed(True, option, inferred=said[start:end])
        found = _outermost(hits)
        if len(found) == 1:
            return Parsed(True, found.pop())
        if hits or not (asked and said):
            return None
        from rapidfuzz import fuzz, process  # on first use: checking a flow matches nothing

        close = process.extractOne(said, list(options), scorer=fuzz.ratio, score_cutoff=85)
        return Parsed(True, options[close[0]]) if close else None

    @override
    def say(self, value: object, spec: SlotSpec) -> str:
        return str(value).replace("_", " ")
