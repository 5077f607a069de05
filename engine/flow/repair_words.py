"""What callers say to repair a conversation: "say that again", "hold on", "never mind", "a person".

Every flow gets these repair requests without writing a state (see :mod:`engine.flow.repair`).
They are recognised here by meaning, with rules over the caller's words rather than a list of
examples an author must foresee: a request to repeat names hearing, saying again or a short
"sorry?"; a hold asks for a moment or says the caller is fetching something; a cancel gives up
on the call; a request for a person names someone (a person, an agent, the office) and asks to
talk to them. Each rule is held to what such a request looks like on its own: "I've been on
hold with my insurance" is no hold, "I don't need a person" and "my husband talked to someone
yesterday" ask for nobody, and "am I talking to a real person?" is a question about the agent.

Everything here is linear in the length of the utterance (a few regular expressions without
nested repetition over a bounded prefix).
"""

from __future__ import annotations

import re
from typing import Literal

RepairName = Literal["repeat", "hold", "cancel", "human"]
REPAIRS: tuple[RepairName, ...] = ("repeat", "hold", "cancel", "human")

MAX_CHARS = 400
"""A repair request is short; only this much of an utterance is read for one."""

_CONTRACTIONS = tuple(
    (re.compile(pattern), spelled)
    for pattern, spelled in (
        (r"\bcan't\b", "cannot"),
        (r"\bwon't\b", "will not"),
        (r"(\w)n't\b", r"\1 not"),
        (r"\b(i|you|we|they)'ll\b", r"\1 will"),
        (r"\b(i|you|we|they)'d\b", r"\1 would"),
        (r"\b(i|you|we|they)'re\b", r"\1 are"),
        (r"\b(i|you|we|they)'ve\b", r"\1 have"),
        (r"\bi'm\b", "i am"),
        (r"\b(it|that|what|who|there|here|he|she)'s\b", r"\1 is"),
        (r"\blet's\b", "let us"),
        (r"\bgonna\b", "going to"),
        (r"\bwanna\b", "want to"),
        (r"\bgotta\b", "got to"),
        (r"\blemme\b", "let me"),
        (r"\bgimme\b", "give me"),
    )
)


def normalise(said: str) -> str:
    """Lower-case words, contractions spelled out, punctuation as spaces (a bounded prefix)."""
    text = said[:MAX_CHARS].lower().replace("\u2019", "'")
    # Every contraction has an apostrophe but three; most lines have none of them.
    if "'" in text or any(word in text for word in _SLANG):
        for pattern, spelled in _CONTRACTIONS:
            text = pattern.sub(spelled, text)
    return " ".join(_NOT_A_WORD.sub(" ", text).split())


_SLANG = ("gonna", "wanna", "gotta", "lemme", "gimme")
_NOT_A_WORD = re.compile(r"[^a-z0-9' ]+")


_FILLER = r"(?:um|uh|er|erm|oh|ah|well|so|okay|ok|sorry|excuse me|hey|hi|yeah|yes|no|hm+)"
_ONLY_FILLERS = re.compile(rf"^(?:{_FILLER}\s*)*$")

# -- repeat ---------------------------------------------------------------------------------------

_REPEAT_ALONE = re.compile(
    r"^(?:(?:sorry|excuse me|pardon|pardon me|what|huh|eh|come again|say again|again"
    r"|beg your pardon|i beg your pardon|sorry what|what sorry|you what|what was that"
    r"|what is that|what did you say|say what|what now|repeat|repeat please|please repeat"
    r"|one more time|once more|once again|sorry come again|what was the question)\s*)+$"
)
_REPEAT = re.compile(
    r"\b(?:(?:say|tell me|read|ask) (?:that|it|this|the question|me that|them|those|the \w+)?"
    r"\s*(?:again|one more time|once more|over)"
    r"|repeat (?:that|it|this|yourself|the question|what you said|the last part|the \w+)"
    r"|(?:can|could|would|will) you repeat|please repeat|repeat please"
    r"|(?:did not|could not|can not|cannot|not) (?:quite )?"
    r"(?:hear|catch|get|understand|make out) (?:that|you|it|what|the|all|any|a word)"
    r"|(?:i )?missed (?:that|it|what you said|the (?:first |last |)part|the question|you)"
    r"|what (?:did you|was that|was the question|were you|do you need|was the last)"
    r"|(?:say|speak|talk|go) (?:it |that )?(?:a bit |a little )?(?:slower|more slowly|louder|up)"
    r"|(?:you|it) (?:broke|cut|are breaking|are cutting|keep cutting) (?:up|out)"
    r"|(?:come again|pardon me|beg your pardon|one more time)"
    r"|go over (?:that|it) again|read (?:that|it|them|those|everything) (?:back|out)(?: again)?"
    # The caller could not follow: a bad line, the agent too fast, "you were saying?"
    r"|(?:the |this |your )?(?:line|connection|signal|reception)(?: is|'s| was) (?:\w+ )?"
    r"(?:terrible|awful|bad|horrible|poor|breaking up|crackling|cutting out)"
    r"(?! (?:at|in|on|since|for)\b)"
    r"|(?:you|that) (?:went|go|are going|was|were|talk|are talking|speak) (?:\w+ )?"
    r"(?:a bit |a little |way |far |much )?(?:too )?(?:fast|quick|quickly)"
    r"|you were saying$|what were you saying|lost you|you lost me)\b"
)
_NOT_REPEAT = re.compile(
    r"\b(?:no need to|do not|not|never) (?:need to )?(?:repeat|say (?:it|that) again)"
)

# -- hold -----------------------------------------------------------------------------------------

_MOMENT = r"(?:sec|secs|second|seconds|moments?|minutes?|mins?|tick|mo)"
_HOLD = re.compile(
    rf"\b(?:hold on|hang on|hold up|hold please|please hold|hold the line|hold a {_MOMENT}"
    rf"|wait(?: a| one| just a)? {_MOMENT}|one {_MOMENT}|just a {_MOMENT}|just one {_MOMENT}"
    rf"|give me (?:a|one|just a|two|a few|a couple(?: of)?)(?: quick)? {_MOMENT}|bear with me"
    r"|hang tight|sit tight"
    rf"|let me (?:just )?(?:check|look|find|grab|get|see|think|pull|dig|go get|go grab)"
    rf"|(?:i am going to|i will|i need to|i have to|i got to|just need to|i will just) (?:go )?"
    rf"(?:grab|find|get|look for|dig out|fetch|pull up) (?:my|the|it|that|a)"
    r"|i am (?:looking|checking)|(?:can|could|would) you (?:please )?(?:wait|hold)"
    # fetching it now: "I'm pulling up my calendar", "I'm grabbing my card"
    r"|i am (?:just )?(?:pulling up|grabbing|fetching|digging out|getting out) (?:my|the|it|that)"
    r"|i am (?:just )?getting (?:my|the) \w+ out"
    r"|wait while i|let me (?:just )?(?:go|ask|run|step|pop)|i (?:need|have) to ask (?:my|the)"
    rf"|(?:a|one) {_MOMENT} please)\b"
)
_HOLD_ALONE = re.compile(r"^(?:wait|hold|hang on|one sec|a sec|sec|moment|wait please)$")
_NOT_HOLD = re.compile(
    r"\b(?:on hold|put (?:me|us|him|her|them) on hold|hold music)\b"
    # "I need to get my blood pressure checked" is the reason for a visit, not a fetch
    r"|\bget (?:my|the|it|that|a) (?:\w+ ){0,3}(?:checked|looked at|seen|done|fixed|tested"
    r"|refilled|renewed|changed|replaced|cleaned|examined|filled|x-rayed|serviced)\b"
)

# -- cancel ---------------------------------------------------------------------------------------

# "Never mind" and "forget it" also start a correction ("never mind, make it 7:30"): they
# cancel only where nothing but another goodbye follows them.
_DROP = re.compile(
    r"\b(?:never ?mind|nevermind|forget (?:it|about it|that|the whole thing|this))\b"
)
_CANCEL = re.compile(
    r"\b(?:(?:i will|i would rather|i can|i am going to|let me|maybe i will|i should) call "
    r"(?:you |them |)?"
    r"(?:back|again|another time|later|tomorrow)"
    r"|call back later|try (?:again )?(?:later|another time)"
    r"|(?:i )?(?:have|changed) (?:changed )?my mind|i have to go|i got to go|i need to go"
    r"|i must go|gotta run|i have to run|i will pass|do not worry about it"
    r"|not interested|no longer (?:need|want)|do not need (?:it|this|that) anymore"
    r"|cancel (?:all (?:of )?)?(?:that|this|it|the call|everything|the whole thing)"
    r"|(?:we|i) (?:are|am) not (?:coming|going to come|going to make it)|(?:just )?drop it"
    r"|i will (?:just )?(?:go|try|call) (?:somewhere|someone|to \w+(?: \w+)?) (?:else|instead)"
    r"|thanks anyway|thank you anyway"
    r"|forget i called|i am done|stop the call|end the call"
    r"|hang up|goodbye|good bye|bye bye|bye)\b"
)
# Giving the whole thing up without saying so ("scrap the whole thing", "I'll sort it out
# myself", "no need anymore, my husband got it"): heard as a cancel, but a call is not ended on
# it before the caller says yes to "Do you want me to stop here?" (see engine.flow.decide).
_GIVE_UP = re.compile(
    r"\b(?:^(?:\w+ )?no need (?:for it )?any ?more(?! for)|(?:it is|that is) not needed any ?more"
    r"|(?:scrap|ditch|drop|call off) the whole (?:thing|lot)|(?:scrap|ditch|call off) it all"
    r"|i will (?:just )?(?:sort|figure|work) (?:it|this|that) out (?:myself|on my own)"
    r"|i will (?:just )?(?:handle|deal with) (?:it|this|that) (?:myself|on my own))\b"
)
_KEEP_GOING = re.compile(r"\b(?:do not|not) (?:cancel|hang up|forget|end)\b")

# -- a person -------------------------------------------------------------------------------------

_PERSON = (
    r"(?:(?:a |an |the |your |some )?(?:(?:real|actual|live|human|other) ){0,3}"
    r"(?:person|human(?: being)?|someone|somebody|anyone|anybody|agent|representative|rep"
    r"|operator|receptionist|staff(?: member)?|employee|manager|supervisor|attendant"
    r"|(?:front |service |reception |help |the )?desk|office|nurses?|doctors?|pharmacists?"
    r"|mechanics?|advisors?|advisers?|associates?"
    r"|technicians?|people|(?:one of )?(?:the |your )?(?:guys|staff|team)"
    r"|man|woman|guy|lady|someone else|somebody else|someone real|somebody real|live one"
    r"|whoever (?:fills|does|handles|is in charge|works|answers|runs)|the person who"
    r"|real one|human one))"
)
_ASK = (
    r"(?:talk|speak|chat) (?:to|with)|connect (?:me )?(?:to|with)|transfer (?:me )?(?:to)?"
    r"|put me (?:through )?(?:to|on with)|get me|give me|i want|i need|i would like|can i get"
    r"|can i have|let me (?:talk|speak)|is there|are there|need to reach|reach"
    r"|(?:go over|going over|discuss|discussing|sort out|sorting out|go through|going through)"
    r" (?:(?:this|that|it|things)(?: one)? )?with"
    r"|sort (?:this|that|it|things) out with"
    r"|hand me (?:over )?to|pass me (?:over )?to|put me on with|(?:just )?get (?:me )?(?:the|a)"
)
_HUMAN = re.compile(rf"\b(?:{_ASK})\s+(?:to |with )?(?:one of )?{_PERSON}\b")
_HUMAN_ALONE = re.compile(
    rf"^(?:{_FILLER}\s+)*(?:please\s+)?{_PERSON}(?:\s+please)?(?:\s+{_FILLER})*$"
)
_NOT_HUMAN = re.compile(
    r"\b(?:(?:do not|not|never|no need to|without) (?:want|need|have to|wish)?\s*(?:to )?"
    r"(?:talk|speak|a person|someone|anyone|human)"
    r"|am i (?:talking|speaking) (?:to|with)|are you (?:a |an )?(?:real|human|person|robot|bot)"
    r"|is this (?:a |an )?(?:real|human|person|robot|bot)"
    r"|(?:talked|spoke|spoken|talking|speaking) (?:to|with) (?:someone|somebody|a person|the \w+) "
    r"(?:yesterday|earlier|before|last|already|about)"
    r"|(?:already|earlier|yesterday|last week) (?:talked|spoke))\b"
)
# "Talk to someone about my blood pressure": a person asked for with what it is about.
_ABOUT = re.compile(
    rf"\b(?:{_ASK})\s+(?:to |with )?(?:one of )?{_PERSON}\s+(?:about|regarding|concerning"
    r"|because|for) \w"
)
_PERSON_ONLY = re.compile(
    r"^(?:a |an )?(?:real |actual |live )?(?:person|human|agent|operator|representative|rep"
    r"|receptionist|someone|somebody)(?: please)?$"
)


def heard(said: str) -> RepairName | None:
    """The repair the caller asks for in ``said``, if ``said`` is one.

    A request for a person is checked first (it can come with anything), then a cancel, a
    repeat and a hold; each only where the words say nothing else of substance (the caller's
    answer, said together with "hold on", is the answer: that is for the flow to decide).
    """
    text = normalise(said)
    if not text or _ONLY_FILLERS.match(text):
        return None
    if asks_for_person(text, normalised=True):
        return "human"
    if cancels(text):
        return "cancel"
    if (_REPEAT_ALONE.match(text) or _REPEAT.search(text)) and not _NOT_REPEAT.search(text):
        return "repeat"
    if (_HOLD.search(text) or _HOLD_ALONE.match(text)) and not _NOT_HOLD.search(text):
        return None if _answers_after_hold(text) else "hold"
    return None


# After "hold on" or "let me think", the answer itself: "it's 5 Rose Court", "the reason is ...".
_ANSWER_AFTER = re.compile(
    r"(?:(?:so|ok|okay|um|uh|yeah|yes|right|well|oh)\W+)*"
    r"(?:it's|it is|it was|that's|that is|the \w+(?: \w+)? (?:is|was|would be)|i think it's"
    r"|i think it is)\b"
)
_THINKING = re.compile(r"\blet me (?:think|see)\b|\blet's see\b")


def _answers_after_hold(text: str) -> bool:
    """Whether the words after the last hold in ``text`` are the caller's answer.

    "Hmm, let me think, it's 5 Rose Court" and "hold on... it's for my back pain" answer; a
    caller who thinks aloud and then says something ("let me think, headaches") answers too.
    "Just a second, my other line is ringing" does not.
    """
    holds = [*_HOLD.finditer(text)]
    if not holds:
        return False
    rest = text[holds[-1].end() :].strip(" ,.;:!?-…")
    if not rest or _HOLD.search(rest) or _ONLY_FILLERS.match(rest):
        return False
    if _ANSWER_AFTER.match(rest):
        return True
    thought = bool(_THINKING.fullmatch(holds[-1][0]))
    return thought and not re.match(r"(?:about|over|on|for|a|it|that)\b", rest)  # "about it"


def cancels(text: str) -> bool:
    """Whether the (normalised) words give up on the call rather than correct something."""
    if _KEEP_GOING.search(text):
        return False
    if _CANCEL.search(text) or _GIVE_UP.search(text):
        return True
    dropped = _DROP.search(text)
    if dropped is None:
        return False
    rest = text[dropped.end() :].strip()
    return not rest or bool(_ONLY_FILLERS.match(rest) or _DROP.search(rest))


def cancels_outright(said: str) -> bool:
    """Whether a cancel is said outright ("never mind, I'll call back", "cancel it, bye").

    A caller who only gives the thing up ("scrap the whole thing, we'll eat at home") is asked
    whether to stop before the call ends.
    """
    text = normalise(said)
    return cancels(text) and not (_GIVE_UP.search(text) and not _CANCEL.search(text))


def says_what_about(said: str) -> bool:
    """Whether a request for a person says what it is about ("... about my blood pressure").

    Asked why the caller is calling, those words are the reason, not a request to be put
    through: the flow decides (see :func:`engine.flow.decide.plan`).
    """
    return _ABOUT.search(normalise(said)) is not None


def asks_for_person(said: str, *, normalised: bool = False) -> bool:
    """Whether ``said`` asks to be put through to a person (and denies nothing of it)."""
    text = said if normalised else normalise(said)
    if _NOT_HUMAN.search(text):
        return False
    return bool(_HUMAN.search(text) or _HUMAN_ALONE.match(text) or _PERSON_ONLY.match(text))
