"""The library's layers: every import inside ``featurestore`` points down (or sideways where allowed).

The README's layout table lists the same layers; a new module must be placed in one here.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "featurestore"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("errors", "utc", "naming", "types", "config", "frames")),
    ("definitions", ("definitions",)),
    ("registry", ("registry", "state")),
    ("resolution", ("resolution",)),
    ("transform", ("transform",)),
    ("quality", ("quality",)),
    ("engines", ("offline", "online")),
    ("materialize", ("materialize",)),
    ("monitoring", ("monitoring",)),
    ("training", ("training",)),
    ("lineage", ("lineage",)),
    ("store", ("code", "store", "store_parts", "store_catalog", "store_monitoring", "store_training",
               "store_feature_tables", "store_lineage")),
    ("entry points", ("cli", "demo", "__init__")),
]
"""Bottom first. A module may import from its own layer and the layers above it in this list."""
APART = [("offline", "online")]
"""Parts of one layer that must not import each other."""


def _part(module: str) -> str:
    """The top-level part of ``featurestore.<part>...``."""
    return module.split(".")[1] if "." in module else "__init__"


def _rank(part: str) -> int:
    for i, (_, parts) in enumerate(LAYERS):
        if part in parts:
            return i
    raise AssertionError(f"featurestore.{part} is in no layer: add it to LAYERS (and the README's table)")


def _imports(path: Path) -> list[tuple[int, str]]:
    module = "featurestore." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            if name == "featurestore":  # `from featurestore import types`: the submodules named
                out += [(node.lineno, f"featurestore.{a.name}" if (PACKAGE / a.name).is_dir()
                         or (PACKAGE / f"{a.name}.py").exists() else "featurestore") for a in node.names]
                continue
            out.append((node.lineno, name))
    return [(line, name) for line, name in out if name == "featurestore" or name.startswith("featurestore.")]


def test_every_module_is_in_a_layer() -> None:
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        _rank(rel.parts[0].removesuffix(".py"))


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        own = rel.parts[0].removesuffix(".py")
        for line, name in _imports(path):
            target = _part(name)
            if target == own:
                continue
            if _rank(target) > _rank(own):
                wrong.append(f"{rel}:{line} imports {name} ({LAYERS[_rank(target)][0]} is above "
                             f"{LAYERS[_rank(own)][0]})")
            if (own, target) in APART or (target, own) in APART:
                wrong.append(f"{rel}:{line} imports {name} (featurestore.{own} and .{target} stay apart)")
    assert not wrong, "\n".join(wrong)
