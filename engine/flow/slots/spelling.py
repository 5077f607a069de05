"""Characters as callers say them: digits, letters, letter names and the phonetic alphabet.

A code read aloud is a string of tokens, each one or more characters ("X", "004", "XJH004512"),
between words that are not part of it. Letters come as themselves ("X"), by their names ("ex",
"jay", "aitch"), in the phonetic alphabet ("X-ray", "Juliet") or with a word that starts with
them ("B as in boy", "P for Peter"); "oh" is either the letter O or zero. The numbers are
already digits (:func:`engine.flow.slots.base.numerals`) when the text comes here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# Letter names that are rarely anything else; "be", "are", "you", "why" and "eye" are too
# common to be read as letters.
_LETTER_NAMES = {
    "bee": "B", "cee": "C", "see": "C", "dee": "D", "ee": "E", "ef": "F", "eff": "F",
    "gee": "G", "aitch": "H", "haitch": "H", "jay": "J", "kay": "K", "el": "L", "ell": "L",
    "em": "M", "en": "N", "pee": "P", "cue": "Q", "queue": "Q", "ar": "R", "ess": "S",
    "tee": "T", "vee": "V", "ex": "X", "wye": "Y", "zee": "Z", "zed": "Z",
}  # fmt: skip


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PHONETIC = {
    word: word[0].upper()
    for word in _words(
        """alpha alfa bravo charlie delta echo foxtrot golf hotel india juliet juliett kilo lima
        mike november oscar papa quebec romeo sierra tango uniform victor whiskey whisky xray
        yankee zulu"""
    )
}
# Upper-case words a transcriber writes that are no code ("my ID is ...", "OK").
_NOT_CODE = _words(
    "ID OK RX DOB ER AM PM MD DR MR MRS MS NO US USA TV UK ST JR SR ND RD TH MG ML KM MPH HRS"
)
# Said among the characters without ending the code: "X J H, dash, 0 0 4", "4 4, uh, 1".
# "R, then 6 1 7": "then" joins two groups of one code.
_INSIDE = _words("dash hyphen uh um uhm er erm hmm ah then")
# Letters a transcriber wrote in lower case ("zpx 550 023"): a short word without a vowel, which
# no English word is (hesitations and "hmm" aside); a code only beside digits.
_NO_VOWEL = re.compile(r"[b-df-hj-np-tv-xz]{2,4}")
_SOUNDS = _words("hmm hm mm mmm shh sh brr tsk pst psst pfft grr zzz nth")
# "B as in boy", "P for Peter", "M like Mary": the word must start with the letter.
_AS_IN = re.compile(r"\b([A-Za-z])\b\.?,? (?:as in|for|like) ([A-Za-z])[\w']*", re.IGNORECASE)
_DOUBLE_U = re.compile(r"\bdouble (?:u|you)\b", re.IGNORECASE)
_TYPED = re.compile(r"\b[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+\b")  # "xjh-004-512"
_WORD = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)?|[^\sA-Za-z0-9]")


@dataclass(frozen=True)
class Token:
    """One token of an utterance read as a code."""

    text: str  # the characters it stands for, upper case ("" for a word that ends a code)
    start: int = 0  # where it starts in the text read
    strong: bool = False  # a digit, a letter said alone or typed: a code on its own
    either: bool = False  # "oh": the letter O or zero, by its neighbours
    article: bool = False  # a lower-case "a", maybe the article ("it's a B C 1 2 3")
    named: bool = False  # a letter by its name ("dee"), a letter only beside another letter
    lower: bool = False  # letters typed in lower case ("zpx"), letters only beside a digit

    @property
    def breaks(self) -> bool:
        """Whether it is a word that is no part of a code."""
        return not self.text


def as_letters(text: str) -> str:
    """Letters said with a word: "B as in boy" is "B"; the word must start with the letter."""
    return _AS_IN.sub(lambda m: m[1].upper() if m[1].lower() == m[2].lower() else m[0], text)


def read_tokens(text: str) -> list[Token]:
    """``text`` as code tokens and breaks, "oh" read as zero beside a digit, else as O."""
    text = as_letters(text)
    text = _DOUBLE_U.sub("W", text.replace("X-ray", "Xray").replace("x-ray", "xray"))
    text = _TYPED.sub(lambda m: m[0].replace("-", "") if re.search(r"\d", m[0]) else m[0], text)
    tokens = list(_tokens(text))
    tokens = _letter_names(tokens)
    return [_oh(tokens, index) if token.either else token for index, token in enumerate(tokens)]


def _tokens(text: str) -> Iterator[Token]:
    for match in _WORD.finditer(text):
        word, start = match[0], match.start()
        lower = word.lower()
        if word in ",-/.":
            continue  # between characters, or between groups of them
        if lower in _INSIDE:
            continue
        if word.isdigit():
            yield Token(word, start, strong=True)
        elif re.fullmatch(r"\d+(?:st|nd|rd|th)", lower):
            yield Token("", start)  # "the 3rd digit": an ordinal, no part of a code
        elif word.isalnum() and any(c.isdigit() for c in word):
            yield Token(word.upper(), start, strong=True)  # typed: "XJH004512"
        elif lower in ("oh", "o"):
            yield Token("O", start, either=True)
        elif len(word) == 1 and word.isalpha():
            yield Token(word.upper(), start, strong=word != "a", article=word == "a")
        elif word.isupper() and word.isalpha() and len(word) <= 4 and word not in _NOT_CODE:
            yield Token(word, start, strong=True)  # typed letters: "XJH"
        elif _NO_VOWEL.fullmatch(word) and word not in _SOUNDS and word.upper() not in _NOT_CODE:
            yield Token(word.upper(), start, strong=True, lower=True)
        elif lower in _PHONETIC:
            yield Token(_PHONETIC[lower], start)
        elif lower in _LETTER_NAMES:
            yield Token(_LETTER_NAMES[lower], start, named=True)
        else:
            yield Token("", start)


def _letter_names(tokens: list[Token]) -> list[Token]:
    """Letter names and phonetic words, where they count as letters.

    A letter name ("see", "dee") counts only beside another letter; a phonetic word only beside
    another character ("Sierra Tango", "Charlie 4"): alone, "Charlie" is a name. Letters typed in
    lower case ("zpx") count only beside a digit.
    """
    kept = []
    for index, token in enumerate(tokens):
        near = [tokens[i] for i in (index - 1, index + 1) if 0 <= i < len(tokens)]
        if token.lower:
            beside_digit = any(n.text.isdigit() or n.either for n in near)
            kept.append(token if beside_digit else Token("", token.start))
            continue
        if token.breaks or token.strong or token.either or len(token.text) != 1:
            kept.append(token)
            continue
        if token.named:
            ok = any(not n.breaks and n.text.isalpha() for n in near)
        else:
            ok = any(not n.breaks for n in near)
        kept.append(token if ok else Token("", token.start))
    return kept


def _oh(tokens: list[Token], index: int) -> Token:
    near = [tokens[i] for i in (index - 1, index + 1) if 0 <= i < len(tokens)]
    digit = any(n.text.isdigit() or (n.either and n is not tokens[index]) for n in near)
    token = tokens[index]
    return Token("0" if digit else "O", token.start, strong=digit, either=True)
