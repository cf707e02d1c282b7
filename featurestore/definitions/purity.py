"""Refuse row functions that read the wall clock or random numbers (a best-effort look at the source).

Offline a row function runs when the training set is built, online when a request comes in: a
function reading ``datetime.now()`` or ``random`` gives different answers on the two paths. The lint
parses ``inspect.getsource(fn)`` and resolves each dotted name through the function's globals (so
``from datetime import datetime as dt; dt.now()`` is caught), plus imports inside the function. It
does not follow calls into other functions, ``getattr`` or ``eval``.

>>> import time
>>> def fare(row):
...     return {"fare": time.time()}
>>> lint_udf("fare", fare)
Traceback (most recent call last):
...
featurestore.errors.DefinitionError: on-demand view 'fare' calls time.time, which reads the wall clock ...
"""

from __future__ import annotations

import ast
import builtins
import inspect
import textwrap
import types
from collections.abc import Callable
from typing import Any

from featurestore.errors import DefinitionError

FORBIDDEN = frozenset({
    "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today", "datetime.date.today",
    "time.time", "time.time_ns", "time.monotonic", "time.monotonic_ns", "time.perf_counter",
    "time.perf_counter_ns", "time.process_time",
    "uuid.uuid1", "uuid.uuid4", "os.urandom", "os.getrandom",
})
"""Fully qualified names refused."""
FORBIDDEN_PREFIXES = ("random.", "numpy.random.", "secrets.", "_random.")
"""Whole modules refused."""


def _source_tree(view_name: str, fn: Callable[..., Any]) -> ast.AST:
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as e:
        raise DefinitionError(f"on-demand view {view_name!r}: the source of its function cannot be read ({e}); "
                              "define it in a module file", name=view_name) from e
    candidates = [source, source.strip().rstrip(",;"), "(" + source.strip().rstrip(",;") + ")"]
    stripped = source.strip()
    for _ in range(8):  # a lambda cut out of a longer expression: drop trailing closers one by one
        stripped = stripped[:-1].rstrip()
        candidates.append(stripped)
    for text in candidates:
        try:
            return ast.parse(text)
        except SyntaxError:
            continue
    raise DefinitionError(f"on-demand view {view_name!r}: the source of its function cannot be parsed; "
                          "define it with def in a module file", name=view_name)


def _dotted(node: ast.AST) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _qualified(obj: Any) -> list[str]:
    """The names an object is known by (``module.qualname``; a bound method's class module)."""
    if isinstance(obj, types.ModuleType):
        return [obj.__name__]
    names = []
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        names.append(f"{module}.{qualname}")
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", None)
    if owner is not None and isinstance(name, str) and not isinstance(owner, types.ModuleType):
        names.append(f"{type(owner).__module__}.{name}")
    return names


def _local_imports(tree: ast.AST) -> dict[str, str]:
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def _resolve(parts: list[str], fn: Callable[..., Any], local: dict[str, str]) -> list[str]:
    """Candidate fully qualified names of a dotted reference."""
    head, rest = parts[0], parts[1:]
    if head in local:
        return [".".join([local[head], *rest])]
    scope: dict[str, Any] = dict(getattr(fn, "__globals__", {}))
    closure = inspect.getclosurevars(fn).nonlocals if inspect.isfunction(fn) else {}
    scope.update(closure)
    if head not in scope:
        if hasattr(builtins, head):
            return []
        return [_as_written(parts)]  # unknown: judge the text as written
    out = []
    obj: Any = scope[head]
    for i in range(len(rest) + 1):
        out += [".".join([q, *rest[i:]]) for q in _qualified(obj)]
        if i < len(rest):
            obj = getattr(obj, rest[i], None)
            if obj is None:
                break
    return out


def _forbidden(name: str) -> bool:
    return name in FORBIDDEN or name.startswith(FORBIDDEN_PREFIXES)


_AS_WRITTEN = {"datetime.now": "datetime.datetime.now", "datetime.utcnow": "datetime.datetime.utcnow",
               "datetime.today": "datetime.datetime.today", "date.today": "datetime.date.today"}
"""Names as usually imported (``from datetime import datetime``), for code whose names cannot be resolved."""


def _as_written(parts: list[str]) -> str:
    text = ".".join(parts)
    if text.startswith("np.random."):
        return "numpy." + text[3:]
    return _AS_WRITTEN.get(text, text)


def lint_udf(view_name: str, fn: Callable[..., Any]) -> None:
    """Refuse a row function whose source reads the clock or random numbers (DefinitionError naming the call)."""
    name = impure_name(fn, _source_tree(view_name, fn))
    if name is not None:
        raise _error(view_name, name)


def impure_name(fn: Callable[..., Any], tree: ast.AST) -> str | None:
    """The first name in ``tree`` (the parsed source of ``fn``) that reads the wall clock or random numbers,
    resolved through ``fn``'s globals, closure and the imports inside it; None when there is none."""
    local = _local_imports(tree)
    for name in local.values():
        if _forbidden(name):
            return name
    seen: set[int] = set()
    for node in ast.walk(tree):
        if id(node) in seen or not isinstance(node, (ast.Attribute, ast.Name)):
            continue
        parts = _dotted(node)
        inner: ast.AST = node
        while isinstance(inner, ast.Attribute):
            inner = inner.value
            seen.add(id(inner))
        if parts is None:
            continue
        for name in _resolve(parts, fn, local):
            if _forbidden(name):
                return name
    return None


def _error(view_name: str, name: str) -> DefinitionError:
    return DefinitionError(f"on-demand view {view_name!r} calls {name}, which reads the wall clock or random "
                           "numbers; offline and online would differ (take times from the row instead)",
                           name=view_name, value=name)
