"""Loading on first use: a package's public names (PEP 562), and a module's logger.

``import engine`` (and ``dialplan --help``, and pytest in any project where dialplan is installed)
must not pay for Quart, SQLAlchemy, Redis or openai before one of them is used. A package lists
its public names and the modules that define them; :func:`exports` returns the package's
``__getattr__`` and ``__dir__``. The package imports the same names under ``TYPE_CHECKING`` for
type checkers, and keeps a literal ``__all__`` (``tests/test_startup.py`` checks the three agree).
No exported name may be the name of one of the package's modules: importing that module would
set the package's attribute to the module.

:func:`logger` is ``structlog.get_logger`` for modules that light commands load (checking a flow
compiles it): structlog, and rich where it is installed, cost such a command more than its work.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def exports(
    package: str, modules: Mapping[str, Iterable[str]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose names live in ``modules``.

    ``modules`` maps a module's full name to the names of it the package exports.
    """
    home = {name: module for module, names in modules.items() for name in names}
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> object:
        module = home.get(name)
        if module is None:
            # Also how ``from package import submodule`` learns to import the submodule.
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # later lookups find it without this function
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *home})

    return __getattr__, __dir__


def logger(name: str) -> Any:
    """``structlog.get_logger(name)``, with structlog imported when the first line is logged."""
    return _Logger(name)


class _Logger:
    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, attribute: str) -> Any:
        if self._logger is None:
            import structlog

            self._logger = structlog.get_logger(self._name)
        return getattr(self._logger, attribute)
