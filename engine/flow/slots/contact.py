"""Contact details: phone numbers and email addresses, spoken or typed."""

from __future__ import annotations

import re
from datetime import date

from typing_extensions import override

from engine.flow.spec import SlotSpec
from engine.templates.spoken import digits, spoken_email

from .base import BaseSlotType, Parsed, numerals, repeated
from .identifiers import IdentifierType, amend_code


class PhoneType(BaseSlotType):
    """A phone number in E.164; ``spec.region`` applies to numbers without a country code.

    Digits may come one by one, "oh" for zero, "double five". Volunteered only with ten digits or
    more; when asked, three digits are enough to judge (and reject) a number. ``amend`` changes
    the part of a known number a caller names ("it should end in 0192", "the last digit is 7"),
    counted without the country code.
    """

    name = "phone"
    format = "phone number in E.164 form, e.g. +14155550123"
    invalid = "that doesn't sound like a valid phone number"
    parts = IdentifierType.parts  # "the last digit", "it ends in 0192"

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        said = _said_digits(said)
        area = _AREA_AFTER.search(said)
        if area:
            said = f"{said[: area.start()]} {said[area.end() :]}"
        runs = re.findall(r"\+?\(?\d[\d\s().-]*\d", said)
        run = max(runs, key=lambda run: sum(c.isdigit() for c in run), default="")
        number = "+" * run.startswith("+") + re.sub(r"\D", "", run)
        if area and len(number) == 7:
            number = area["area"].replace(" ", "") + number  # "555-0139, area code's 415"
        if len(number.lstrip("+")) < (3 if asked else 10):
            return None
        import phonenumbers  # on first use: checking a flow parses no number (warm_up loads it)

        try:
            parsed = phonenumbers.parse(number, spec.region)
        except phonenumbers.NumberParseException:
            return Parsed(False, error=self.invalid)
        if not phonenumbers.is_valid_number(parsed):
            return Parsed(False, error=self.invalid)
        return Parsed(True, phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))

    def amend(self, text: str, spec: SlotSpec, today: date, base: object) -> Parsed | None:
        """``base`` with the digits ``text`` names changed ("it should end in 0192").

        A group of four digits alone ("or 0111", "the last part's wrong, it's 0183") is the
        last group of a North American number, the only group of four.
        """
        import phonenumbers  # on first use, as in _find

        try:
            held = phonenumbers.parse(str(base), spec.region)
        except phonenumbers.NumberParseException:
            return None
        national = str(held.national_number)
        changed = amend_code(repeated(numerals(text, lower=False)), national)
        if changed is None and held.country_code == 1 and len(national) == 10:
            groups = re.findall(r"\d[\d ]*\d|\d", _said_digits(text))
            other = _OTHER_NUMBER.search(text)
            if len(groups) == 1 and len(last := groups[0].replace(" ", "")) == 4 and not other:
                changed = national[:6] + last
        if changed is None or changed == national or not changed.isdigit():
            return None
        return self._find(f"+{held.country_code} {changed}", spec, today, asked=True)

    @override
    def say(self, value: object, spec: SlotSpec) -> str:
        return digits(value)


# Four digits that are no part of a phone number: "my extension is 4412", "apartment 1204".
_OTHER_NUMBER = re.compile(
    r"\b(?:extension|ext|apartment|apt|suite|unit|room|pin|zip|postcode|year|code|card|account"
    r"|order|member|policy|id)\b",
    re.IGNORECASE,
)
# The area code said after the rest of the number: "it's 555-0139, area code's 415".
_AREA_AFTER = re.compile(
    r"(?<=\d)[\s,.]*(?:and )?(?:the )?area code(?:'s| is)?:? (?P<area>\d ?\d ?\d)\b(?! ?\d)"
)


def _said_digits(said: str) -> str:
    """Digits as said, with "oh", "double five", pauses and hesitations read as digits do."""
    said = re.sub(r"\boh (?=\d\b)", "0 ", numerals(said))  # "it's oh one eight three"
    said = " ".join(re.sub(r"[,;]|\.{2,}", " ", said).split())  # pauses
    # "Area code 781, then 555 0143": "then" between groups.
    said = re.sub(r"(?<=\d) (?:and )?then (?=\d|oh?\b)", " ", said)
    # "seven two zero, uh, five five five": a hesitation between groups is no break.
    said = re.sub(r"(?<=\d)(?: (?:uh+|um+|erm?|ah+|hmm+))+ (?=\d|oh?\b)", " ", said)
    said = repeated(said)  # "double five" is 5 5, "double oh" 0 0
    previous = None
    while previous != said:  # "oh one oh oh": every "oh" among digits is a zero
        previous, said = said, re.sub(r"(?<=\d) oh?(?= \d| oh?\b|$)", " 0", said)
    return re.sub(r"\bplus ?(?=\d)", "+", said)


_EMAIL_WORDS = {"at": "@", "dot": ".", "period": ".", "underscore": "_", "dash": "-", "hyphen": "-"}
# Bounded as addresses are (64 characters before the "@", 63 a label), so that a long run of
# letters without an "@" costs linear time.
_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")


class EmailType(BaseSlotType):
    """An email address, lower-cased (transcribers capitalise at random) and validated.

    Spoken forms work ("dana dot scully at example dot com", letters spelled "d a n a"). Only a
    whole address counts, asked or not; when asked, a broken one ("dana at gmail") is an error.
    """

    name = "email"
    format = "email address, e.g. dana@example.com"
    invalid = "that doesn't sound like a valid email address"

    def _find(self, said: str, spec: SlotSpec, today: date, asked: bool) -> Parsed | None:
        said = _joined(said)
        found = _EMAIL.search(said) if "@" in said else None
        if found is None:
            return Parsed(False, error=self.invalid) if asked and "@" in said else None
        from email_validator import EmailNotValidError, validate_email  # on first use, as above

        try:
            address = validate_email(found.group(), check_deliverability=False)
        except EmailNotValidError:
            return Parsed(False, error=self.invalid)
        return Parsed(True, address.normalized)

    def amend(self, text: str, spec: SlotSpec, today: date, base: object) -> Parsed | None:
        """The address held with the marks of its first part said again ("it's l dot park").

        Only the same letters and digits with other dots, dashes or underscores between them
        change it: a new name before the "@" is no correction of this one.
        """
        local, at, domain = str(base).partition("@")
        said = _joined(text)
        if not at or "@" in said:
            return None
        letters = re.sub(r"[._-]", "", local)
        for word in re.findall(r"[\w.+-]{1,64}", said):
            new = word.strip("._-")
            if new != local and re.search(r"[._-]", new) and re.sub(r"[._-]", "", new) == letters:
                return self._find(f"{new}@{domain}", spec, today, asked=True)
        return None

    @override
    def say(self, value: object, spec: SlotSpec) -> str:
        return spoken_email(value)


def _joined(said: str) -> str:
    """An address as said, its spoken marks as characters and spelled letters joined."""
    words = "|".join(_EMAIL_WORDS)
    said = re.sub(rf"\b(?:{words})\b", lambda m: _EMAIL_WORDS[m.group()], said.lower())
    said = re.sub(r"\b([a-z]+) (\d+)(?= ?[@._-])", r"\1\2", said)  # "kim 77 at ..."
    # Spoken separators join their neighbours, across a pause ("J M A R S H, at outlook").
    said = re.sub(r"\s*,?\s*([@._-])\s*,?\s*", r"\1", said)
    return re.sub(r"(?<!')\b(\w)\s+(?=\w\b)", r"\1", said)  # "d a n a" -> "dana"
