"""Lazy package attributes (PEP 562): a package's public names, each imported on first use.

``import engine`` (and ``dialplan --help``, and pytest in any project where dialplan is installed)
must not pay for Quart, SQLAlchemy, Redis or openai before one of them is used. A package lists
its public names and the modules that define them; :func:`exports` returns the package's
``__getattr__`` and ``__dir__``. The package imports the same names under ``TYPE_CHECKING`` for
type checkers, and keeps a literal ``__all__`` (``tests/test_startup.py`` checks the three agree).
No exported name may be the name of one of the package's modules: importing that module would
set the package's attribute to the module.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping


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
