"""Plugins: the Python side of a project, its actions and slot types, and where they go.

A plugin is a module with a module-level :class:`Plugin`::

    # myproject/actions.py
    from engine import Plugin

    plugin = Plugin()

    @plugin.action("crm.lookup")
    async def lookup(phone: str) -> dict[str, object]: ...

A flow names the modules it needs (``plugins: [myproject.actions]``), and so can the settings
(``DIALPLAN_PLUGINS``). Importing a module only defines its plugin; the project's
:class:`Extensions` installs it into that project's registries. Nothing is registered globally,
so two projects in one process (or two tests) never see each other's actions.

A plugin lives in the project folder (``myproject/actions.py`` beside ``flows/``) or in an
installed package. The project folder goes on the Python path when a plugin is loaded, as
pytest does with its rootdir: every command finds it, however it was started (the
``dialplan`` script, unlike ``python -m``, does not put the working folder there), with no
``PYTHONPATH``. It goes at the end, so a project module never hides an installed one.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path

from engine.errors import AuthoringError, Location

from .actions import ActionFn, ActionRegistry
from .slots import SlotType, SlotTypes


class Plugin:
    """The actions and slot types one module offers to flows."""

    def __init__(self) -> None:
        self.actions: dict[str, ActionFn] = {}
        self.slot_types: list[SlotType] = []

    def action(self, name: str) -> Callable[[ActionFn], ActionFn]:
        """Offer the decorated function as the action ``name`` (flows call it by that name)."""

        def register(fn: ActionFn) -> ActionFn:
            self.actions[name] = fn
            return fn

        return register

    def slot_type(self, slot_type: SlotType) -> SlotType:
        """Offer ``slot_type`` to flows under its ``name`` (``type: <name>`` in ``slots:``)."""
        self.slot_types.append(slot_type)
        return slot_type


class Extensions:
    """A project's actions and slot types: the built-in types plus what its plugins offer."""

    def __init__(self, root: Path | None = None) -> None:
        """``root``: the project folder, where a plugin module of the project is found."""
        self.actions = ActionRegistry()
        self.slot_types = SlotTypes.builtin()
        self.modules: list[str] = []  # installed plugin modules, in order
        self.root = root

    def install(self, plugin: Plugin) -> None:
        """Add a plugin's actions and slot types to this project's registries."""
        for name, fn in plugin.actions.items():
            self.actions.add(name, fn)
        for slot_type in plugin.slot_types:
            self.slot_types.add(slot_type)

    def load(self, module: str, where: Location | None = None) -> None:
        """Import ``module`` and install its ``plugin`` (once per module).

        Raises :class:`AuthoringError` (at ``where``, the line that names the module) when the
        module cannot be imported or has no ``plugin = Plugin()``.
        """
        if module in self.modules:
            return
        if self.root is not None:
            folder = str(self.root.resolve())
            if folder not in sys.path:
                sys.path.append(folder)
                importlib.invalidate_caches()  # a folder new to the path is looked at afresh
        try:
            imported = importlib.import_module(module)
        except Exception as exc:  # a plugin's own bug must read as one line, not a traceback
            raise AuthoringError(
                f"cannot import plugin {module!r}: {type(exc).__name__}: {exc}",
                where,
                hint="a plugin is a module in the project folder (myproject/actions.py is "
                "myproject.actions) or in an installed package",
            ) from None
        plugin = getattr(imported, "plugin", None)
        if not isinstance(plugin, Plugin):
            raise AuthoringError(
                f"module {module!r} has no plugin",
                where,
                hint="define `plugin = Plugin()` in it and register with @plugin.action(...)",
            )
        self.install(plugin)
        self.modules.append(module)
