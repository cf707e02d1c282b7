"""Training-set commands: ``training-sets list | describe | create | recreate | diff``."""

from __future__ import annotations

from typing import Any

import click

from featurestore.cli._group import echo_json, get_store, main, repo_option, table


@main.group(name="training-sets")
def training_sets() -> None:
    """Versioned, reproducible training sets (README "Versioned training sets")."""


def _brief(ts: Any) -> list[Any]:
    m = ts.manifest
    return [m.name, m.version, m.created_at, m.registry_version, m.as_of or "-", f"{m.rows:,}", m.content_hash[:12]]


@training_sets.command(name="list")
@repo_option
@click.option("--json", "as_json", is_flag=True, help="Print the manifests as JSON (without statistics).")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """Every version of every training set, by name then version."""
    found = get_store(ctx).list_training_sets()
    if as_json:
        echo_json([{k: v for k, v in ts.to_dict().items() if k != "statistics"} for ts in found])
        return
    if not found:
        click.echo("No training sets yet; create one with store.create_training_set(...) or "
                   "'featurestore training-sets create'.")
        return
    click.echo(table(["NAME", "VERSION", "CREATED AT", "REGISTRY", "AS OF", "ROWS", "CONTENT HASH"],
                     [_brief(ts) for ts in found]))


@training_sets.command()
@repo_option
@click.argument("name")
@click.option("--version", type=int, default=None, metavar="N", help="Version N (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole manifest as JSON.")
@click.pass_context
def describe(ctx: click.Context, name: str, version: int | None, as_json: bool) -> None:
    """The manifest of a training set version: what it was made of."""
    ts = get_store(ctx).get_training_set(name, version)
    if as_json:
        echo_json(ts.to_dict())
        return
    m = ts.manifest
    lines = [f"training set {m.name} version {m.version}", f"  path: {ts.path}", f"  created at: {m.created_at}",
             f"  registry version: {m.registry_version}", f"  as_of: {m.as_of or '- (every row read then)'}",
             f"  features: {', '.join(m.features)}" + (f" (service {m.service})" if m.service else ""),
             f"  rows: {m.rows:,}", f"  content hash: {m.content_hash}", f"  file hash: {m.file_hash}",
             f"  entity frame: {m.entity.rows:,} rows, hash {m.entity.content_hash[:16]}" if m.entity else "",
             f"  engine: {', '.join(f'{k} {v}' for k, v in m.engine.items())}", "  definitions:"]
    lines += [f"    {key[:-1].replace('_', ' ')} {n}" for key, objs in m.definitions.items() for n in sorted(objs)]
    lines.append("  source files:")
    lines += [f"    {f.view}: {f.path} ({f.size:,} bytes, {f.fingerprint[:28]})" for f in m.sources] or ["    (none)"]
    if m.feature_tables:
        lines.append(f"  read from feature tables: {', '.join(m.feature_tables)}")
    click.echo("\n".join(line for line in lines if line))


@training_sets.command()
@repo_option
@click.argument("name")
@click.option("--entities", "entities", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The entity frame: a Parquet file (join keys and event_timestamp).")
@click.option("--features", "features", required=True,
              help="A feature service name, or comma-separated view:feature references.")
@click.option("--as-of", "as_of", default=None, metavar="TIME",
              help="Cutoff on created time (ISO-8601, UTC when naive; not in the future).")
@click.option("--full-hash", is_flag=True, help="Fingerprint source files by their whole content.")
@click.pass_context
def create(ctx: click.Context, name: str, entities: str, features: str, as_of: str | None, full_hash: bool) -> None:
    """Compute a training set and keep it as the next version of NAME.

    \b
    featurestore training-sets create churn --entities entities.parquet --features driver_activity \\
        --as-of 2026-11-01T00:00:00Z
    """
    store = get_store(ctx)
    wanted: Any = [f.strip() for f in features.split(",") if f.strip()]
    if len(wanted) == 1 and ":" not in wanted[0]:
        wanted = store.get_feature_service(wanted[0])
    ts = store.create_training_set(name, entities, wanted, as_of=as_of, full_hash=full_hash)
    click.echo(f"created training set {ts.name} version {ts.version}: {ts.rows:,} rows, content hash "
               f"{ts.fingerprint[:16]}, {ts.path}")


@training_sets.command()
@repo_option
@click.argument("name")
@click.option("--version", type=int, default=None, metavar="N", help="Version N (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def recreate(ctx: click.Context, name: str, version: int | None, as_json: bool) -> None:
    """Recompute a version from its manifest and prove it identical (exit 1 naming what differs otherwise)."""
    found = get_store(ctx).recreate_training_set(name, version)
    if as_json:
        echo_json(found.to_dict())
    else:
        click.echo(str(found))


@training_sets.command()
@repo_option
@click.argument("name")
@click.argument("before", type=int)
@click.argument("after", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
@click.pass_context
def diff(ctx: click.Context, name: str, before: int, after: int, as_json: bool) -> None:
    """What differs between versions BEFORE and AFTER of NAME."""
    found = get_store(ctx).diff_training_sets(name, before, after)
    if as_json:
        echo_json(found.to_dict())
    else:
        click.echo(str(found))
