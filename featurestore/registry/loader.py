"""Find the definitions in a feature repo: every module-level object of a definition kind (``kinds.KINDS``)."""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path
from typing import Any

from featurestore.definitions.kinds import KINDS
from featurestore.errors import DefinitionError

DEFINITION_TYPES = tuple(k.cls for k in KINDS)
_SKIP = {"data", "__pycache__", ".venv", "venv", "node_modules", ".git"}


def definition_files(repo: Path) -> list[Path]:
    """Python files of the repo, skipping hidden folders, data/ and virtualenvs."""
    files = []
    for path in sorted(repo.rglob("*.py")):
        rel = path.relative_to(repo)
        if any(part in _SKIP or part.startswith(".") for part in rel.parts[:-1]):
            continue
        if rel.name.startswith("_") or rel.name.startswith("test_"):
            continue
        files.append(path)
    return files


def _line_in(err: BaseException, path: Path) -> int | str:
    """The line of ``path`` where ``err`` arose (SyntaxError carries its own)."""
    if isinstance(err, SyntaxError) and err.lineno:
        return err.lineno
    frames = [f for f in traceback.extract_tb(err.__traceback__) if Path(f.filename) == path]
    return frames[-1].lineno or "?" if frames else "?"


def _forget_repo_modules(repo: Path) -> None:
    """Drop modules imported from the repo (siblings imported by name) so a reload sees fresh code."""
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve().is_relative_to(repo):
            del sys.modules[name]


def load_definitions(repo: Path) -> list[Any]:
    """Import the repo's modules and return their definitions, in file then attribute order."""
    repo = Path(repo).resolve()
    found: list[Any] = []
    seen: set[int] = set()
    sys.path.insert(0, str(repo))
    _forget_repo_modules(repo)
    try:
        for path in definition_files(repo):
            name = "featurestore_repo." + ".".join(path.relative_to(repo).with_suffix("").parts)
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except DefinitionError as err:
                raise DefinitionError(f"{path.relative_to(repo)}: {err.message}", file=str(path),
                                      **err.fields) from None
            except Exception as err:
                line = _line_in(err, path)
                raise DefinitionError(
                    f"{path.relative_to(repo)}:{line}: importing definitions failed: {type(err).__name__}: {err}",
                    file=str(path),
                ) from None
            for value in vars(module).values():
                if isinstance(value, DEFINITION_TYPES) and id(value) not in seen:
                    seen.add(id(value))
                    found.append(value)
    finally:
        sys.path.remove(str(repo))
        _forget_repo_modules(repo)
    return found
