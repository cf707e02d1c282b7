"""History and lineage commands: ``history`` (versions, ``--diff A B``) and ``lineage NAME``."""

from __future__ import annotations

import click

from featurestore.cli._group import echo_json, get_store, main, repo_option, table
from featurestore.lineage.graph import KINDS


def _summary(changes: dict[str, list[str]]) -> str:
    parts = [f"{sign} {label}" for sign, key in (("+", "added"), ("~", "changed"), ("-", "removed"))
             for label in changes.get(key, [])]
    return "; ".join(parts) or "-"


@main.command()
@repo_option
@click.option("--json", "as_json", is_flag=True, help="Print the full history entries (without the objects).")
@click.option("--diff", "diff", type=int, nargs=2, default=None, metavar="A B",
              help="What changed in the definitions from registry version A to B, field by field.")
@click.pass_context
def history(ctx: click.Context, as_json: bool, diff: tuple[int, int] | None) -> None:
    """Show the registry versions and what each one changed.

    Oldest first: version, time applied (UTC), and the objects added (+), changed (~) and removed (-).
    With --diff A B: every definition added, removed or changed between the two versions, and for a
    changed one each field with its value at A and at B (version 0 is the empty registry).

    \b
    featurestore history --diff 4 5
    """
    if diff is not None:
        found = get_store(ctx).history_diff(*diff)
        if as_json:
            echo_json(found.to_dict())
        else:
            click.echo(str(found))
        return
    entries = get_store(ctx).history()
    if as_json:
        echo_json([{k: v for k, v in e.items() if k != "objects"} for e in entries])
        return
    if not entries:
        click.echo("No registry versions yet; run 'featurestore apply'.")
        return
    click.echo(table(["VERSION", "APPLIED AT", "CHANGES"],
                     [[e["version"], e["applied_at"], _summary(e.get("changes", {}))] for e in entries]))


@main.command()
@repo_option
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), default=None,
              help="The kind of object, when several kinds have that name.")
@click.option("--json", "as_json", is_flag=True, help="Print the lineage as JSON (nodes and edges).")
@click.pass_context
def lineage(ctx: click.Context, name: str, kind: str | None, as_json: bool) -> None:
    """Show what NAME depends on and what depends on it, as a tree.

    NAME is a feature service, feature view, aggregate view, on-demand view, entity, source (its name or
    its text such as parquet:data/driver_stats.parquet), feature table or training set (NAME for its
    latest version, NAME@N for version N). Upstream: views, entities, sources and their files, with the
    registry version where each definition last changed; downstream: views, services, feature tables and
    training sets that used it.

    \b
    featurestore lineage driver_activity
    featurestore lineage driver_stats --json
    """
    found = get_store(ctx).lineage(name, kind)
    if as_json:
        echo_json(found.to_dict())
    else:
        click.echo(str(found))
