"""Every type reachable from a public signature is exported (httpx checks the same of its namespace).

Reachable: named in an annotation of an exported function, or of a public method, property or
dataclass field of an exported class. Names with a leading underscore are private by choice.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from typing import Any

import featurestore
import featurestore.types

EXPORTED = {*featurestore.__all__, *featurestore.types.__all__}
_NAME = re.compile(r"\b[A-Za-z_][\w.]*\b")


def _annotations(obj: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(where, annotation text, the namespace it is written in) of a public class or function."""
    out = []
    members = [(obj.__name__, obj)] if not inspect.isclass(obj) else [
        (f"{obj.__name__}.{n}", m) for n, m in vars(obj).items() if not n.startswith("_") or n == "__init__"]
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            if not f.name.startswith("_"):
                out.append((f"{obj.__name__}.{f.name}", str(f.type), vars(sys.modules[obj.__module__])))
    for where, member in members:
        fn = member.fget if isinstance(member, property) else member
        fn = fn.__func__ if isinstance(fn, (classmethod, staticmethod)) else fn
        if not callable(fn) or not hasattr(fn, "__annotations__"):
            continue
        namespace = vars(sys.modules[fn.__module__])
        for name, ann in fn.__annotations__.items():
            out.append((f"{where} ({name})", ann if isinstance(ann, str) else getattr(ann, "__name__", str(ann)),
                        namespace))
    return out


def test_every_type_reachable_from_a_public_signature_is_exported() -> None:
    missing: dict[str, str] = {}
    for name in featurestore.__all__:
        obj = getattr(featurestore, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        for where, text, namespace in _annotations(obj):
            for dotted in _NAME.findall(text):
                head, *rest = dotted.split(".")
                target, ident = namespace.get(head), rest[-1] if rest else head
                owner = namespace.get("__name__", "")
                for part in rest:
                    owner = getattr(target, "__name__", "") if inspect.ismodule(target) else owner
                    target = getattr(target, part, None)
                module = getattr(target, "__module__", "") or ""
                if not inspect.ismodule(target) and not isinstance(target, type) and owner.startswith("featurestore"):
                    module = owner  # an alias (e.g. a Callable) defined in a featurestore module
                if target is None or not module.startswith("featurestore") or ident in EXPORTED or ident[0] == "_":
                    continue
                missing.setdefault(ident, where)
    assert not missing, f"types used in public signatures but not exported: {missing}"
