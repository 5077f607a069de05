"""The reference pages, generated from the code each time the site is built (a MkDocs hook).

``mkdocs.yml`` names this file under ``hooks:``. A page under ``docs/reference/`` holds its
introduction and a marker, ``<!-- reference: NAME -->``; while the site is built the marker is
replaced with what the code says today, so the reference cannot drift from it:

* ``flow-file``: every key of a flow file, its type, default and meaning, from the JSON Schema
  that ``dialplan schema`` prints (the pydantic models of :mod:`engine.flow.spec`, in the order
  they declare their keys), each with an example line from the flows in ``flows/`` that use it;
* ``settings``: every ``DIALPLAN_*`` setting of :class:`engine.settings.Settings`, grouped as
  the class groups them, with the ``dialplan serve`` flag that sets it;
* ``cli``: every ``dialplan`` command, as its ``--help`` prints it.

``python docs/gen_reference.py NAME`` prints one of them, to read it without building the site.
"""

from __future__ import annotations

import html
import inspect
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import yaml
from pydantic.fields import FieldInfo

from engine.cli.main import main as dialplan
from engine.flow import safe_yaml
from engine.flow.spec import Flow
from engine.settings import Settings, variable

REPO = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^<!--\s*reference:\s*([\w-]+)\s*-->\s*$", re.MULTILINE)
HELP_WIDTH = 100


def on_page_markdown(markdown: str, **_: Any) -> str:
    """The MkDocs hook: each ``<!-- reference: NAME -->`` marker replaced with its reference."""
    return MARKER.sub(lambda found: generate(found.group(1)), markdown)


def generate(name: str) -> str:
    """The Markdown of reference ``name``; an unknown name fails the build."""
    if name not in REFERENCES:
        raise ValueError(f"unknown reference {name!r} (known: {', '.join(sorted(REFERENCES))})")
    return REFERENCES[name]()


def _cell(text: str) -> str:
    # A table cell: one line, and a pipe outside code would end the cell.
    text = " ".join(text.split())
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(
        part if part.startswith("`") else html.escape(part, quote=False).replace("|", "\\|")
        for part in parts
    )


def _code(text: str) -> str:
    # Inline code that may itself hold a backtick.
    return f"`` {text} ``" if "`" in text else f"`{text}`"


# -- the flow file --------------------------------------------------------------------------------

FlowSchema = dict[str, Any]
Example = tuple[str, int, str]  # file, line, the text shown


def flow_file() -> str:
    """Every key of a flow file, object by object, from the JSON Schema of flow files."""
    # The schema `dialplan schema` prints (engine.flow.spec.flow_json_schema), before it sorts
    # the keys: here they keep the order the models declare them in.
    schema: FlowSchema = Flow.model_json_schema(by_alias=True)
    definitions: dict[str, FlowSchema] = schema["$defs"]
    examples = _examples(schema, definitions)
    places = _places(schema, definitions)
    out: list[str] = []
    for name in places:  # the flow first, then each object after the one it sits in
        node = schema if name == "Flow" else definitions[name]
        title = "The flow file" if name == "Flow" else _words(name)
        out.append(f"## {title} {{ #{name.lower()} }}\n")
        where = ", ".join(_code(place) for place in places[name]) or "the top of the file"
        out.append(f"Where: {where}.\n")
        if node.get("description"):
            out.append(_cell(node["description"]) + "\n")
        out.append("| key | type | default | meaning | example |")
        out.append("|---|---|---|---|---|")
        required = set(node.get("required", ()))
        for key, prop in node["properties"].items():
            found = examples.get((name, key))
            example = f"{_code(found[2])} ({found[0]}:{found[1]})" if found else ""
            default = "required" if key in required else _default(prop)
            out.append(
                f"| `{key}` | {_type(prop)} | {default} | "
                f"{_cell(prop.get('description', ''))} | {example} |"
            )
        out.append("")
    return "\n".join(out)


def _words(name: str) -> str:
    # SlotSpec -> "Slot spec": a class name as a heading.
    words = re.findall(r"[A-Z][a-z]*", name)
    return " ".join([words[0], *(word.lower() for word in words[1:])])


def _ref(node: FlowSchema) -> str | None:
    ref = node.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _children(node: FlowSchema) -> Iterator[tuple[str, FlowSchema]]:
    # (how the path goes on, the schema there) for every place inside ``node`` a value sits.
    for key, prop in node.get("properties", {}).items():
        yield f".{key}", prop
    for prop in node.get("patternProperties", {}).values():
        yield ".<name>", prop
    if isinstance(node.get("additionalProperties"), dict):
        yield ".<name>", node["additionalProperties"]
    if isinstance(node.get("items"), dict):
        yield "[]", node["items"]
    for option in node.get("anyOf", ()):
        yield "", option


def _places(schema: FlowSchema, definitions: dict[str, FlowSchema]) -> dict[str, list[str]]:
    """Where each object of the schema sits in a flow file, as paths (``states.<name>``).

    In the order a reader meets them: each object right after the first one it sits in.
    """
    places: dict[str, list[str]] = {"Flow": []}

    def walk(node: FlowSchema, path: str, seen: frozenset[str]) -> None:
        name = _ref(node)
        if name is not None:
            if name in seen:
                return
            places.setdefault(name, []).append(path.lstrip("."))
            walk(definitions[name], path, seen | {name})
            return
        for step, child in _children(node):
            walk(child, path + step, seen)

    for step, child in _children(schema):
        walk(child, step, frozenset())
    return places


def _type(node: FlowSchema) -> str:
    """A schema node's type, as a reader of YAML would say it."""
    name = _ref(node)
    if name is not None:
        return f"[{_words(name).lower()}](#{name.lower()})"
    if "anyOf" in node:
        options = [option for option in node["anyOf"] if option.get("type") != "null"]
        return " or ".join(dict.fromkeys(_type(option) for option in options))
    if "const" in node:
        return _code(json.dumps(node["const"]))
    if "enum" in node:
        return "one of " + ", ".join(_code(str(value)) for value in node["enum"])
    kind = node.get("type")
    if kind == "array":
        if "prefixItems" in node:
            return "[" + ", ".join(_type(item) for item in node["prefixItems"]) + "]"
        return f"list of {_type(node.get('items', {}))}"
    if kind == "object":
        inner = node.get("additionalProperties")
        pattern = node.get("patternProperties")
        if isinstance(inner, dict) and inner:
            return f"map of {_type(inner)}"
        if pattern:
            return f"map of name to {_type(next(iter(pattern.values())))}"
        return "map"
    words = {"string": "text", "integer": "integer", "number": "number", "boolean": "boolean"}
    shown = words.get(str(kind), "any")
    if kind == "string" and node.get("pattern") == r"^[A-Za-z_][A-Za-z0-9_]*$":
        shown = "name"
    limits = [
        f"{sign} {node[key]}"
        for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"))
        if key in node
    ]
    return shown + (f" ({', '.join(limits)})" if limits else "")


def _default(node: FlowSchema) -> str:
    if "default" in node:
        value = node["default"]
        return "none" if value is None else _code(json.dumps(value))
    if node.get("type") == "array":
        return "`[]`"
    if node.get("type") == "object":
        return "`{}`"
    refs = [node, *node.get("anyOf", ())]
    return "its own defaults" if any(_ref(option) for option in refs) else ""


def _examples(
    schema: FlowSchema, definitions: dict[str, FlowSchema]
) -> dict[tuple[str, str], Example]:
    """For each (object, key), the first line of the example flows that sets it."""
    found: dict[tuple[str, str], Example] = {}

    def walk(node: FlowSchema, data: Any, name: str | None, where: str, text: list[str]) -> None:
        ref = _ref(node)
        if ref is not None:
            walk(definitions[ref], data, ref, where, text)
            return
        if "anyOf" in node:
            for option in node["anyOf"]:
                walk(option, data, name, where, text)
            return
        if isinstance(data, safe_yaml.LocatedDict) and node.get("properties") and name:
            for key, value in data.items():
                line = data.lines.get(key, 0)
                if key in node["properties"] and line and (name, key) not in found:
                    if _objects(value):  # its own section has the examples
                        continue
                    found[(name, key)] = (where, line, _shown(text[line - 1], key, value))
        if isinstance(data, dict):
            for key, value in data.items():
                child = node.get("properties", {}).get(key)
                if child is None and "patternProperties" in node:
                    child = next(iter(node["patternProperties"].values()))
                if child is None and isinstance(node.get("additionalProperties"), dict):
                    child = node["additionalProperties"]
                if child is not None:
                    walk(child, value, None, where, text)
        elif isinstance(data, list) and isinstance(node.get("items"), dict):
            for item in data:
                walk(node["items"], item, None, where, text)

    for path in sorted((REPO / "flows").glob("*.yaml")):
        source = path.read_text(encoding="utf-8")
        walk(schema, safe_yaml.load(source), "Flow", f"flows/{path.name}", source.splitlines())
    return found


def _objects(value: Any) -> bool:
    # A map or list of objects (`slots:`, `states:`, `next:`), too long for one line.
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return any(isinstance(item, dict) for item in items)


def _shown(line: str, key: str, value: Any) -> str:
    # The line as written (less its comment); where the value is not on it alone, the value in
    # YAML's flow style.
    head, _, rest = line.strip().removeprefix("- ").partition(":")
    rest = rest.split(" #", 1)[0].strip()
    text = f"{key}: {rest}"
    if head.strip() != key or rest in ("", "|", ">", "|-", ">-"):
        plain = json.loads(json.dumps(value))  # the located dicts and lists as plain ones
        flow = yaml.safe_dump(
            {key: plain}, default_flow_style=True, sort_keys=False, width=10_000, allow_unicode=True
        )
        text = flow.strip()[1:-1]
    return text if len(text) <= 72 else text[:69] + "..."


# -- settings -------------------------------------------------------------------------------------


def settings() -> str:
    """Every setting, in the groups of :class:`Settings`, with its default and ``serve`` flag."""
    flags = _serve_flags()
    out: list[str] = []
    for group, fields in _setting_groups():
        out.append(f"## {group[0].upper()}{group[1:]}\n")
        out.append("| variable | default | type | meaning |")
        out.append("|---|---|---|---|")
        for name in fields:
            info = Settings.model_fields[name]
            meaning = _cell(info.description or "")
            if name in flags:
                meaning += f" Flag: `dialplan serve {flags[name]}`."
            out.append(
                f"| `{variable(name)}` | {_setting_default(info)} | {_setting_type(info)} "
                f"| {meaning} |"
            )
        out.append("")
    return "\n".join(out)


def _setting_groups() -> list[tuple[str, list[str]]]:
    """The settings as :class:`Settings` groups them (its ``# --- group ---`` comments)."""
    groups: list[tuple[str, list[str]]] = []
    for line in inspect.getsource(Settings).splitlines():
        heading = re.match(r"\s*# --- (.+?) -*$", line)
        field = re.match(r"    (\w+): ", line)
        if heading:
            groups.append((heading.group(1), []))
        elif field and field.group(1) in Settings.model_fields:
            if not groups:
                groups.append(("settings", []))
            groups[-1][1].append(field.group(1))
    listed = {name for _, fields in groups for name in fields}
    missing = [name for name in Settings.model_fields if name not in listed]
    if missing:  # a setting outside any group is still documented
        groups.append(("other", missing))
    return groups


def _serve_flags() -> dict[str, str]:
    # `dialplan serve` hands each flag on as DIALPLAN_<the flag's name> (engine/cli/serve.py).
    command = dialplan.get_command(click.Context(dialplan), "serve")
    assert command is not None
    return {
        param.name: param.opts[0]
        for param in command.params
        if isinstance(param, click.Option) and param.name in Settings.model_fields
    }


def _setting_default(info: FieldInfo) -> str:
    value = info.get_default(call_default_factory=True)
    if value is None or value == ():
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and value >= 1024 * 1024 and value % (1024 * 1024) == 0:
        return f"`{value}` ({value // (1024 * 1024)} MiB)"
    return _code(str(value))


def _setting_type(info: FieldInfo) -> str:
    text = str(info.annotation)
    choices = re.findall(r"'([^']*)'", text) if "Literal" in text else []
    if choices:
        return ", ".join(_code(choice) for choice in choices)
    for kind, word in (
        ("bool", "boolean"),
        ("tuple", "comma-separated list"),
        ("SecretStr", "secret text"),
        ("Path", "path"),
        ("date", "date (YYYY-MM-DD)"),
        ("float", "number"),
        ("int", "integer"),
    ):
        if kind in text:
            return _limits(info, word)
    return "text"


def _limits(info: FieldInfo, word: str) -> str:
    signs = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    limits = [
        f"{sign} {getattr(item, key)}"
        for item in info.metadata
        for key, sign in signs.items()
        if getattr(item, key, None) is not None
    ]
    return word + (f" ({', '.join(limits)})" if limits else "")


# -- the command line -----------------------------------------------------------------------------


def cli() -> str:
    """Every ``dialplan`` command, group by group, as its ``--help`` prints it."""
    out: list[str] = []
    for path, command, context in _commands(
        dialplan, click.Context(dialplan, info_name="dialplan")
    ):
        level = "#" * min(len(path) + 1, 4)
        out.append(f"{level} `{' '.join(path)}` {{ #{'-'.join(path)} }}\n")
        summary = command.get_short_help_str(limit=200)
        if summary:
            out.append(_cell(summary) + "\n")
        out.append("```text")
        out.append(command.get_help(context).rstrip())
        out.append("```\n")
    return "\n".join(out)


def _commands(
    command: click.Command, context: click.Context, path: tuple[str, ...] = ("dialplan",)
) -> Iterator[tuple[tuple[str, ...], click.Command, click.Context]]:
    context.terminal_width = context.max_content_width = HELP_WIDTH
    yield path, command, context
    if isinstance(command, click.Group):
        for name in command.list_commands(context):
            child = command.get_command(context, name)
            if child is not None:
                inner = click.Context(child, info_name=name, parent=context)
                yield from _commands(child, inner, (*path, name))


REFERENCES: dict[str, Callable[[], str]] = {
    "flow-file": flow_file,
    "settings": settings,
    "cli": cli,
}

if __name__ == "__main__":
    for name in sys.argv[1:] or sorted(REFERENCES):
        print(generate(name))
