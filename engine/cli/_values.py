"""How the command line shows a value a call holds: one way, wherever it is shown.

``dialplan chat`` (its status line and ``/slots``) and ``dialplan calls`` (``list`` and
``show``) show slots, results and what was understood with :func:`shown`: a yes/no answer as
``yes``/``no`` (as the caller said it, not as JSON or Python spell it), a list as ``[a, b]``,
nothing as ``(not set)``. Machine-readable output (``--json``, ``export`` to CSV) keeps JSON's
own values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

NOT_SET = "(not set)"


def shown(value: Any) -> str:
    """``value`` for a person to read on one line."""
    if value is None:
        return NOT_SET
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "[" + ", ".join(shown(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return orjson.dumps(value, default=str).decode()
    return str(value)
