"""Assertions shared by the CLI tests."""

from __future__ import annotations

from click.testing import Result


def ok(result: Result) -> str:
    """The stdout of a command that must succeed."""
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def failed(result: Result, code: int = 1) -> str:
    """The stderr of a command that must fail cleanly (no traceback)."""
    assert result.exit_code == code, (result.output, result.exception)
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    return result.stderr
