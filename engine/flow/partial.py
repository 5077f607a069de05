"""Pass 2 of loading a flow, entry by entry: the schema errors of every entry, and a partial flow.

Validating the whole file at once stops at the schema: a flow author would fix those errors
only to meet the graph and template errors next. Here slots, states and global intents are
validated one by one; an entry with errors keeps what is valid in it (its other keys, its good
transitions), so the graph and template checks still run on the rest and every error of the
file is reported in one run. Entries that were cut down are named in :attr:`Partial.cut`, so
that checks which need a whole entry (a state's ways out) leave them alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from . import spec

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Keys to give up, in this order, when a model-level rule fails ("`say` or `prompt`, not both").
_CONFLICTS = ("prompt", "press_digit", "transfer", "values", "webhook")

M = TypeVar("M", bound=BaseModel)
Located = tuple[tuple[Any, ...], ErrorDetails]
"""A pydantic error with the full path of its entry in the file."""


@dataclass
class Partial:
    """What pass 2 made of a file: the flow (``None`` if nothing usable) and every error."""

    flow: spec.Flow | None
    errors: list[Located] = field(default_factory=list)
    cut: set[tuple[str, str]] = field(default_factory=set)  # ("states", name) cut down


def validate(data: dict[Any, Any], fallback_name: str) -> Partial:
    """Validate ``data`` entry by entry (see the module docstring)."""
    result = Partial(None)
    slots = _entries(result, data, "slots", spec.SlotSpec, lambda: spec.SlotSpec(type="text"))
    states = _entries(result, data, "states", spec.State, spec.State)
    intents: list[spec.GlobalIntent] = []
    raw_global = data.get("global")
    if isinstance(raw_global, list):
        for index, entry in enumerate(raw_global):
            intent = _salvage(result, ("global", index), spec.GlobalIntent, entry, None)
            if intent is not None:
                intents.append(intent)
    top = {k: v for k, v in data.items() if k not in ("slots", "states", "global")}
    if isinstance(data.get("slots"), dict):
        top["slots"] = slots
    elif "slots" in data:
        top["slots"] = data["slots"]
    if isinstance(data.get("states"), dict):
        top["states"] = states
    elif "states" in data:
        top["states"] = data["states"]
    top["global"] = intents if isinstance(raw_global, list) else raw_global
    if top["global"] is None:
        del top["global"]
    if not isinstance(top.get("flow"), str) or not _NAME.match(top["flow"]):
        # Report the errors as written, then check the rest under a stand-in name.
        _salvage(result, (), spec.Flow, top, None, salvage=False)
        name = re.sub(r"\W", "_", fallback_name) or "flow"
        placeholder = name if _NAME.match(name) else f"_{name}"
        flow = _salvage(Partial(None), (), spec.Flow, {**top, "flow": placeholder}, None)
    else:
        flow = _salvage(result, (), spec.Flow, top, None)
    if flow is not None and not flow.states:
        flow = None
    result.flow = flow
    return result


def _entries(
    result: Partial,
    data: dict[Any, Any],
    key: str,
    model: type[M],
    placeholder: Callable[[], M],
) -> dict[str, M]:
    """Each entry of the mapping ``data[key]`` validated alone; broken ones salvaged."""
    raw = data.get(key)
    if not isinstance(raw, dict):
        return {}  # the flow-level validation reports what is wrong with it
    entries: dict[str, M] = {}
    for name, entry in raw.items():
        if not isinstance(name, str) or not _NAME.match(name):
            result.errors.append(
                (
                    (key, name),
                    _error(
                        "string_pattern_mismatch",
                        "a name has letters, digits and underscores, not starting with a digit",
                        name,
                    ),
                )
            )
            continue
        salvaged = _salvage(result, (key, name), model, entry, placeholder)
        if salvaged is not None:
            entries[name] = salvaged
    return entries


def _salvage(
    result: Partial,
    at: tuple[Any, ...],
    model: type[M],
    entry: Any,
    placeholder: Callable[[], M] | None,
    *,
    salvage: bool = True,
) -> M | None:
    """``entry`` as ``model``; on errors, record them and keep what validates."""
    try:
        return model.model_validate(entry)
    except ValidationError as exc:
        for error in exc.errors():
            result.errors.append(((*at, *error["loc"]), error))
    if not salvage:
        return None
    if len(at) == 2:
        result.cut.add((str(at[0]), str(at[1])))
    if not isinstance(entry, dict):
        return placeholder() if placeholder else None
    data = dict(entry)
    for _ in range(len(data) + len(_CONFLICTS)):
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            if not _drop(data, exc.errors()):
                break
    return placeholder() if placeholder else None


def _drop(data: dict[Any, Any], errors: list[ErrorDetails]) -> bool:
    """Remove what ``errors`` point at (bad list items first); whether anything was removed."""
    dropped = False
    for error in errors:
        loc = error["loc"]
        if not loc:
            continue
        key = loc[0]
        value = data.get(key)
        if len(loc) > 1 and isinstance(loc[1], int) and isinstance(value, list):
            if 0 <= loc[1] < len(value) and value[loc[1]] is not None:
                value = list(value)
                value[loc[1]] = None  # keep indexes of the other errors valid
                data[key] = value
                dropped = True
        elif key in data:
            del data[key]
            dropped = True
    for key, value in list(data.items()):
        if isinstance(value, list) and None in value:
            data[key] = [item for item in value if item is not None]
    if dropped:
        return True
    for key in _CONFLICTS:  # a rule over the whole entry: give up one side of the conflict
        if key in data:
            del data[key]
            return True
    return False


def _error(kind: str, message: str, value: Any) -> ErrorDetails:
    return ErrorDetails(type=kind, loc=(), msg=message, input=value)
