"""The source text, fingerprint and clock/randomness lint of a batch transform (``FeatureView(transform=...)``).

The registry stores the code text and its sha256 (the fingerprint), never a pickle: code that changed
after ``apply`` is detected by comparing fingerprints. For a lambda the text is the lambda expression
alone (``lambda lf: lf.filter(...)``), not the line around it, so moving it or renaming the variable
it is bound to is no change.

>>> code = transform_source(lambda lf: lf.head(1), "v")
>>> code
'lambda lf: lf.head(1)'
>>> fingerprint(code)[:12]
'5df5448b0735'
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import linecache
import os
import textwrap
from collections.abc import Callable
from typing import Any

from featurestore.definitions.purity import impure_name
from featurestore.errors import DefinitionError


def _lambda_source(fn: Callable[..., Any]) -> str | None:
    """The text of the lambda expression ``fn`` was made from, or None when it cannot be found."""
    code = fn.__code__
    lines = linecache.getlines(code.co_filename)
    if not lines:
        return None
    text = "".join(lines)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno == code.co_firstlineno]
    if len(found) > 1:  # several lambdas on the line: the one whose body holds the code's positions
        spots = [(line, col) for line, _, col, end in code.co_positions()  # (RESUME and RETURN span nothing)
                 if line is not None and col is not None and end is not None and end > col]
        first = min(spots) if spots else None
        found = [n for n in found if first is not None and (n.body.lineno, n.body.col_offset) <= first
                 <= (n.body.end_lineno or n.body.lineno, n.body.end_col_offset or 0)]
        found = found[-1:]  # the innermost
    if len(found) != 1:
        return None
    return ast.get_source_segment(text, found[0])


def transform_source(fn: Callable[..., Any], view: str) -> str:
    """The code text of a transform: the lambda expression, or the dedented ``def`` (decorators included)."""
    try:
        filename = fn.__code__.co_filename
        if os.path.exists(filename):  # read afresh: a file rewritten since (same size and mtime) is not stale
            linecache.cache.pop(filename, None)
        if fn.__name__ == "<lambda>":
            source = _lambda_source(fn)
            if source is not None:
                return source
        return textwrap.dedent(inspect.getsource(fn)).strip() + "\n"
    except (OSError, TypeError, AttributeError):
        pass
    raise DefinitionError(f"feature view {view!r}: the source code of its transform cannot be read (define it in "
                          "a .py file, not in an interactive session or by exec): the registry stores it",
                          name=view)


def fingerprint(code: str) -> str:
    """sha256 (hex) of the code text."""
    return hashlib.sha256(code.encode()).hexdigest()


def check_transform(fn: Any, view: str) -> tuple[str, str]:
    """Validate a transform; its (code, fingerprint). DefinitionError naming the view when it is not a
    one-argument callable or reads the clock or random numbers."""
    if not callable(fn):
        raise DefinitionError(f"feature view {view!r}: transform must be a function of a polars LazyFrame "
                              f"returning one, got {type(fn).__name__}", name=view)
    code = transform_source(fn, view)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        tree = ast.parse("")
    bad = impure_name(fn, tree)
    if bad is not None:
        raise DefinitionError(
            f"feature view {view!r}: its transform calls {bad}(): transformations must not read the wall clock "
            "or random numbers (training sets would not be reproducible); use the rows' own time columns",
            name=view, value=bad)
    return code, fingerprint(code)


__all__ = ["check_transform", "fingerprint", "transform_source"]
