"""The ``featurestore`` click group, its shared state and output helpers.

Command modules define their commands on :data:`main`, add :data:`repo_option`
to commands that use the repo (so both ``featurestore --repo X cmd`` and
``featurestore cmd --repo X`` work) and use :func:`get_store`::

    from featurestore.cli._group import get_store, main, repo_option

    @main.command()
    @repo_option
    @click.pass_context
    def hello(ctx: click.Context) -> None:
        \"\"\"Say hello to the repo's project.\"\"\"
        click.echo(get_store(ctx).project)

``featurestore/cli/__init__.py`` imports every ``*_command.py`` / ``*_commands.py``
module of this package, so a new module is picked up without further wiring.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from featurestore import __version__
from featurestore.errors import FeatureStoreError
from featurestore.store import FeatureStore

REPO_ENV = "FEATURESTORE_REPO"


def show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:
    """``warnings.showwarning`` of the CLI: ``warning: <message>`` on stderr, no file, line or source line."""
    click.echo(f"warning: {message}", err=True)


class FeatureStoreGroup(click.Group):
    """A click group that turns library errors into ``Error: <message>`` and exit code 1, and warnings into
    ``warning: <message>`` lines on stderr.

    Click's own usage errors keep exit code 2.
    """

    def invoke(self, ctx: click.Context) -> Any:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            return self._invoke(ctx)

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FeatureStoreError as err:
            raise click.ClickException(err.message) from None
        except BrokenPipeError:
            raise
        except OSError as err:  # a file we cannot read or write: no traceback for that either
            raise click.ClickException(str(err)) from None


@dataclass
class CliState:
    """What the global options resolved to; ``ctx.obj`` of every command."""

    repo: Path
    _store: FeatureStore | None = field(default=None, repr=False)

    def store(self) -> FeatureStore:
        """The repo's FeatureStore, opened on first use (raises ConfigError without featurestore.yaml)."""
        if self._store is None:
            self._store = FeatureStore(repo_path=self.repo)
        return self._store


@click.group(cls=FeatureStoreGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default="current folder",
    envvar=REPO_ENV,
    show_envvar=True,
    help="The feature repo: the folder holding featurestore.yaml and the definition modules.",
)
@click.version_option(__version__, "--version", prog_name="featurestore")
@click.pass_context
def main(ctx: click.Context, repo: Path) -> None:
    """featurestore: define features in Python, get point-in-time-correct training sets.

    A feature repo is a folder with featurestore.yaml and Python modules that
    define entities, feature views and feature services. Errors are printed as
    'Error: ...' with exit code 1 (2 for wrong usage).

    \b
    Typical session:
      featurestore init my_repo          # a new repo with sample data
      cd my_repo
      featurestore plan                  # what apply would change
      featurestore apply                 # register the definitions
      featurestore list feature-views
      featurestore describe feature-view driver_stats
      featurestore history
      featurestore materialize-incremental now    # latest values into the online store
      featurestore get-online driver_stats:conv_rate --entity driver_id=1001
      featurestore serve                 # the HTTP API on 127.0.0.1:6566

    Run 'featurestore COMMAND --help' for a command's options.
    """
    ctx.obj = CliState(repo=repo)


def _set_repo(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        get_state(ctx).repo = value


repo_option = click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    expose_value=False,
    callback=_set_repo,
    help="The feature repo folder (default: the global --repo, $FEATURESTORE_REPO or the current folder).",
)
"""``--repo`` on a command: overrides the global option. Read the result with :func:`get_store`/:func:`get_state`."""


def get_state(ctx: click.Context) -> CliState:
    state = ctx.find_object(CliState)
    if state is None:  # a command invoked on its own (tests): use the current folder
        state = CliState(repo=Path("."))
        ctx.obj = state
    return state


def get_store(ctx: click.Context) -> FeatureStore:
    """The FeatureStore of ``--repo``."""
    return get_state(ctx).store()


# -- output helpers ---------------------------------------------------------------------------------
def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON (non-JSON values such as datetimes as strings)."""
    click.echo(json.dumps(data, indent=2, default=str))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain table, columns left-aligned and separated by two spaces.

    >>> print(table(["NAME", "N"], [["a", 1], ["bbb", 22]]))
    NAME  N
    a     1
    bbb   22
    """
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)


def format_ttl(ttl: timedelta | None) -> str:
    """``2d``, ``1h30m``, ``45s``; ``-`` when values never expire.

    >>> format_ttl(timedelta(days=2)), format_ttl(timedelta(minutes=90)), format_ttl(None)
    ('2d', '1h30m', '-')
    """
    if not ttl:
        return "-"
    seconds = int(ttl.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or f"{ttl.total_seconds()}s"


def format_tags(tags: dict[str, str]) -> str:
    """``team=pricing,tier=1``; ``-`` without tags."""
    return ",".join(f"{k}={v}" for k, v in sorted(tags.items())) or "-"
