"""Layering: the library never imports a web framework; the server uses only the library's public API."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from featurestore.cli import COMMAND_MODULES, main

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "server"
ALLOWED = {"featurestore", "featurestore.types", "featurestore.utc"}


def test_library_and_cli_do_not_import_the_server_stack() -> None:
    code = ("import sys, featurestore, featurestore.cli; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'starlette', 'uvicorn', 'server', "
            "'prometheus_client', 'httptools', 'uvloop'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_server_imports_only_the_public_api() -> None:
    files = sorted(SERVER.rglob("*.py"))  # the web UI (server/ui/) included
    assert len(files) > 5 and any(p.parent.name == "ui" for p in files)
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                if name.split(".")[0] == "featurestore":
                    assert name in ALLOWED, f"{path.name}:{node.lineno} imports {name} (use 'from featurestore import')"


def test_public_names_used_by_the_server_exist() -> None:
    import featurestore

    for path in SERVER.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "featurestore":
                for alias in node.names:
                    assert hasattr(featurestore, alias.name), f"{path.name} uses featurestore.{alias.name}"


def test_serve_command_is_registered() -> None:
    assert "serve_command" in COMMAND_MODULES
    out = CliRunner().invoke(main, ["serve", "--help"]).output
    for option in ("--repo", "--host", "--port", "--workers", "--log-level"):
        assert option in out
    assert "6566" in out and "127.0.0.1" in out


def test_serve_without_a_repo_fails_before_serving(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--repo", str(tmp_path / "missing"), "--port", "0"])
    assert result.exit_code == 1
    assert "Error:" in result.output and "featurestore.yaml" in result.output


def test_import_featurestore_loads_no_polars_nor_pandas() -> None:
    """Polars is a core dependency, imported only where a transformation or a Polars frame is used."""
    code = "import sys, featurestore; print(sorted({m.split('.')[0] for m in sys.modules} & {'polars', 'pandas'}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
