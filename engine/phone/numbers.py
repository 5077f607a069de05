"""Phone numbers, checked with ``phonenumbers`` and written as the platform takes them (E.164)."""

from __future__ import annotations

import phonenumbers


class BadNumber(ValueError):
    """Not a number anyone can be called on; the message says why, for a person."""


def e164(text: str, region: str | None = None) -> str:
    """``text`` as an E.164 number (``+14155550100``), or :class:`BadNumber`.

    Without ``region`` a number must be international (start with ``+``); with one
    (``US``, ``GB``...) national numbers of that country are understood too.
    """
    raw = text.strip()
    if not raw:
        raise BadNumber("no phone number")
    try:
        number = phonenumbers.parse(raw, region.upper() if region else None)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            hint = (
                "start it with + and the country code" if not region else "check the country code"
            )
            raise BadNumber(f"{raw!r} has no country code we know ({hint})") from None
        raise BadNumber(f"{raw!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise BadNumber(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
