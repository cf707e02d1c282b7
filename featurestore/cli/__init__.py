"""The ``featurestore`` command line (console script ``featurestore = featurestore.cli:main``).

How commands are registered: the group :data:`main` lives in
``featurestore/cli/_group.py``; each command module of this package defines its
commands on it (``@main.command()``). Every module named ``*_command.py`` or
``*_commands.py`` here is imported below, sorted by name, so adding e.g.
``materialize_commands.py`` or ``serve_command.py`` needs no change to
this file. Shared helpers (``get_store``, ``table``, ``echo_json``...) are in
``_group.py``.
"""

from __future__ import annotations

import importlib
import pkgutil

from featurestore.cli._group import main


def _command_modules() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules(__path__)]
    return sorted(n for n in names if n.endswith(("_command", "_commands")) and not n.startswith("_"))


COMMAND_MODULES = _command_modules()
"""The command modules of this package, imported (and so registered) in this order."""

for _name in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}")

__all__ = ["COMMAND_MODULES", "main"]
