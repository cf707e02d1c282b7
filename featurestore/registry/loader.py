"""Find the definitions in a feature repo: every module-level object of a definition kind (``kinds.KINDS``)."""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from featurestore.definitions import kinds
from featurestore.definitions.kinds import KINDS
from featurestore.errors import DefinitionError

DEFINITION_TYPES = tuple(k.cls for k in KINDS)
_SKIP = {"data", "__pycache__", ".venv", "venv", "node_modules", ".git"}


def definition_files(repo: Path) -> list[Path]:
    """Python files of the repo, skipping hidden folders, data/ and virtualenvs."""
    files = []
    for folder, dirs, names in os.walk(repo):  # skipped folders are not walked (data/ may hold many files)
        dirs[:] = [d for d in dirs if d not in _SKIP and not d.startswith(".")]
        files += [Path(folder, n) for n in names
                  if n.endswith(".py") and not n.startswith("_") and not n.startswith("test_")]
    return sorted(files)


def _where(err: BaseException, path: Path, repo: Path) -> tuple[int | str, str]:
    """The line of ``path`` where ``err`` arose, and `` (at helper.py:7)`` when it came from another repo file."""
    frames = [(Path(f.filename), f.lineno) for f in traceback.extract_tb(err.__traceback__)]
    if isinstance(err, SyntaxError) and err.filename and err.lineno:
        frames.append((Path(err.filename), err.lineno))
    ours = [line for file, line in frames if file == path]
    line: int | str = (ours[-1] or "?") if ours else "?"
    inside = [(file, n) for file, n in frames if _own(file, repo)]
    if not inside or inside[-1][0] == path:
        return line, ""
    file, n = inside[-1]
    return line, f" (at {file.relative_to(repo)}:{n})"


def _own(file: Path, repo: Path) -> bool:
    """Whether ``file`` is the repo's own code (not in a virtualenv or hidden folder inside it)."""
    if not file.is_relative_to(repo):
        return False
    return not any(part in _SKIP or part.startswith(".") for part in file.relative_to(repo).parts[:-1])


def _forget_repo_modules(repo: Path) -> None:
    """Drop modules imported from the repo (siblings imported by name) so a reload sees fresh code.

    ``repo`` is resolved and is the ``sys.path`` entry they were imported through, so their files start with
    it: a string test per module (resolving each of the thousands of modules' paths took ~0.2 s a call).
    """
    prefix = os.path.join(str(repo), "")
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and file.startswith(prefix):
            del sys.modules[name]


def _run(path: Path, repo: Path) -> dict[str, Any]:
    """Import ``path``; its module's namespace. Any failure (an exit too) is a DefinitionError naming file and line."""
    rel = path.relative_to(repo)
    name = "featurestore_repo." + ".".join(rel.with_suffix("").parts)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except DefinitionError as err:
        line, at = _where(err, path, repo)
        raise DefinitionError(f"{rel}:{line}: {err.message}{at}", **{**err.fields, "file": str(path)}) from None
    except SystemExit as err:  # sys.exit() in a module would end `apply` without a word
        line, _ = _where(err, path, repo)
        raise DefinitionError(
            f"{rel}:{line}: importing definitions failed: the module exits (sys.exit({err.code!r})); a definitions "
            "module must not exit (put script code under `if __name__ == \"__main__\":`)", file=str(path),
        ) from None
    except Exception as err:
        line, at = _where(err, path, repo)
        raise DefinitionError(f"{rel}:{line}: importing definitions failed: {type(err).__name__}: {err}{at}",
                              file=str(path)) from None
    return vars(module)


def _line_of(path: Path, attribute: str) -> int | str:
    """The line of ``path`` where the module-level ``attribute`` is bound (assigned or imported)."""
    try:
        tree = ast.parse(path.read_text(), str(path))
    except (OSError, SyntaxError, ValueError):
        return "?"
    for node in tree.body:
        names: list[str] = []
        if isinstance(node, ast.Assign):
            names = [n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = [node.target.id]
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names = [a.asname or a.name for a in node.names]
        if attribute in names:
            return node.lineno
    return "?"


def _clash(kind: kinds.Kind, name: str, first: tuple[Path, str], second: tuple[Path, str],
           repo: Path) -> DefinitionError:
    where = [f"{attr!r} ({path.relative_to(repo)}:{_line_of(path, attr)})" for path, attr in (first, second)]
    return DefinitionError(f"two {kind.plural} are named {name!r}: {where[0]} and {where[1]}; give one "
                           "another name", name=name, file=str(second[0]))


def _name_space_clash(name: str, first: tuple[kinds.Kind, tuple[Path, str]],
                      second: tuple[kinds.Kind, tuple[Path, str]], repo: Path) -> DefinitionError:
    where = [f"{kind.singular} {attr!r} ({path.relative_to(repo)}:{_line_of(path, attr)})"
             for kind, (path, attr) in (first, second)]
    pair = sorted((first[0], second[0]), key=kinds.VIEW_KINDS.index)
    both = " and ".join(("an " if k.singular[0] in "aeiou" else "a ") + k.singular for k in pair)
    return DefinitionError(f"{both} are both named {name!r}: {where[0]} and {where[1]}; feature views, aggregate "
                           "views and on-demand feature views share one name space, give one another name", name=name,
                           file=str(second[1][0]))


def load_definitions(repo: Path) -> list[Any]:
    """Import the repo's modules and return their definitions, in file then attribute order.

    Two different objects of one kind and name are an error naming both (file, line and variable); so are two
    views of different kinds (feature, aggregate, on-demand) of one name (they share one name space).
    """
    repo = Path(repo).resolve()
    found: list[Any] = []
    seen: set[int] = set()
    origin: dict[tuple[str, str], tuple[Any, tuple[Path, str]]] = {}
    view_names: dict[str, tuple[kinds.Kind, tuple[Path, str]]] = {}
    sys.path.insert(0, str(repo))
    _forget_repo_modules(repo)
    try:
        for path in definition_files(repo):
            for attribute, value in _run(path, repo).items():
                if not isinstance(value, DEFINITION_TYPES) or id(value) in seen:
                    continue
                seen.add(id(value))
                kind = kinds.of_key(kinds.key_of(value))
                first = origin.setdefault((kind.key, value.name), (value, (path, attribute)))
                if first[0] is not value and first[0].to_dict() != value.to_dict():
                    raise _clash(kind, value.name, first[1], (path, attribute), repo)
                if kind in kinds.VIEW_KINDS:  # one name space for feature, aggregate and on-demand views
                    other = view_names.setdefault(value.name, (kind, (path, attribute)))
                    if other[0] is not kind:
                        raise _name_space_clash(value.name, other, (kind, (path, attribute)), repo)
                found.append(value)
    finally:
        sys.path.remove(str(repo))
        _forget_repo_modules(repo)
    return found
