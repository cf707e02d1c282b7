"""Online-store commands: get-online (a debugging lookup), delete-online, reset-online and teardown."""

from __future__ import annotations

import re
import sys
from typing import Any

import click

from featurestore.cli._group import echo_json, get_store, main, repo_option, table
from featurestore.cli.materialize_commands import split_names
from featurestore.online.factory import describe_online_store
from featurestore.online.lookup import spec_of
from featurestore.online.response import OnlineResponse
from featurestore.registry.file import RegistryState


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


@main.command(short_help="Delete every online value of the project.")
@repo_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (required when not on a terminal).")
@click.pass_context
def teardown(ctx: click.Context, yes: bool) -> None:
    """Delete every online value of the project (other projects are untouched).

    Definitions, the registry history and the offline data stay; the views'
    watermarks are reset, so the next 'materialize-incremental' starts afresh.
    Asks for confirmation unless --yes is given; without a terminal, --yes is required.

    \b
    featurestore teardown
    featurestore teardown --yes
    """
    store = get_store(ctx)
    ctx.call_on_close(store.close)
    what = f"every online value of project {store.project!r} in {describe_online_store(store.config.online_store)}"
    _confirm("teardown", what, yes)
    store.teardown()
    click.echo(f"Deleted {what}. Definitions are unchanged; reload with 'featurestore materialize-incremental now'.")


def _confirm(command: str, what: str, yes: bool) -> None:
    """Ask before deleting ``what`` unless ``--yes``; without a terminal to ask on, ``--yes`` is required."""
    if yes:
        return
    if not _stdin_is_terminal():
        raise click.ClickException(f"{command} would delete {what}; pass --yes to confirm (no terminal to ask on)")
    click.confirm(f"Delete {what}?", abort=True)


@main.command(name="delete-online", short_help="Delete the online values of some entities of one view.")
@repo_option
@click.argument("view")
@click.option("--entity", "-e", "entities", multiple=True, required=True, metavar="KEY=VALUE[,KEY=VALUE]",
              help="One entity (the view's join keys); repeat for several.")
@click.pass_context
def delete_online(ctx: click.Context, view: str, entities: tuple[str, ...]) -> None:
    """Delete the online values of the given entities of VIEW (other entities and views stay).

    The way out of a wrong row that is newer than the right one (a mistyped future
    year): an older row never replaces a newer one, so delete it, then push or
    write the right row, or materialize its time range again. Watermarks stay.

    \b
    featurestore delete-online driver_stats --entity driver_id=1001
    featurestore delete-online driver_stats -e driver_id=1001 -e driver_id=1002
    """
    store = get_store(ctx)
    ctx.call_on_close(store.close)
    rows = parse_entities(entities, _key_types(store.state()))
    deleted = store.delete_online(view, rows)
    click.echo(f"Deleted the online values of {deleted} of {len(rows)} entities of feature view {view!r} "
               f"(the others held none).")


@main.command(name="reset-online", short_help="Delete every online value and the watermark of one view.")
@repo_option
@click.argument("view")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (required when not on a terminal).")
@click.pass_context
def reset_online(ctx: click.Context, view: str, yes: bool) -> None:
    """Delete every online value of VIEW and its watermark (other views stay).

    The next 'materialize-incremental' loads the view as a first run does.
    Asks for confirmation unless --yes is given; without a terminal, --yes is required.

    \b
    featurestore reset-online driver_stats --yes
    featurestore reset-online driver_stats && featurestore materialize-incremental now -v driver_stats
    """
    store = get_store(ctx)
    ctx.call_on_close(store.close)
    store.state().feature_view(view)  # NotFoundError before asking
    what = f"every online value and the watermark of feature view {view!r}"
    _confirm("reset-online", what, yes)
    store.reset_online(view)
    click.echo(f"Deleted {what} in {describe_online_store(store.config.online_store)}; reload it with "
               f"'featurestore materialize-incremental now --views {view}'.")


# -- get-online --------------------------------------------------------------------------------------
_INT = re.compile(r"[+-]?\d+")


def parse_value(text: str, key_type: str | None = None) -> Any:
    """An entity key value: an int when it looks like one (unless the key is a String), else the text; a
    request field of an on-demand view declared Float or Bool: a float or a bool when the text is one.

    >>> parse_value("1001"), parse_value("abc"), parse_value("007", "String"), parse_value("3", "Float64")
    (1001, 'abc', '007', 3.0)
    """
    if key_type in ("Float32", "Float64"):
        try:
            return float(text)
        except ValueError:
            return text
    if key_type == "Bool" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return int(text) if key_type != "String" and _INT.fullmatch(text) else text


def _key_types(state: RegistryState) -> dict[str, str]:
    types: dict[str, str] = {}
    for view in state.feature_views():
        spec = spec_of(view)
        for key, key_type in zip(spec.join_keys, spec.key_types, strict=True):
            types.setdefault(key, key_type.name)
    for odfv in state.on_demand_feature_views():  # request fields given as KEY=VALUE too
        for source in odfv.request_sources:
            for f in source.schema:
                types.setdefault(f.name, f.dtype.name)
    return types


def parse_entities(values: tuple[str, ...], key_types: dict[str, str]) -> list[dict[str, Any]]:
    """One entity row per ``--entity``: ``KEY=VALUE`` or ``KEY=VALUE,KEY2=VALUE2`` (several join keys).

    >>> parse_entities(("driver_id=1001", "driver_id=1002,customer_id=c7"), {})
    [{'driver_id': 1001}, {'driver_id': 1002, 'customer_id': 'c7'}]
    """
    rows = []
    for value in values:
        row: dict[str, Any] = {}
        for pair in value.split(","):
            key, sep, text = pair.partition("=")
            if not sep or not key.strip():
                raise click.BadParameter(f"{value!r}: expected KEY=VALUE[,KEY=VALUE...]", param_hint="'--entity'")
            row[key.strip()] = parse_value(text.strip(), key_types.get(key.strip()))
        rows.append(row)
    return rows


def format_value(value: Any) -> str:
    """Floats with 6 significant digits (Float32 values print as stored), None as ``null``.

    >>> format_value(0.5299999713897705), format_value(None), format_value("x")
    ('0.53', 'null', 'x')
    """
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def response_table(resp: OnlineResponse) -> str:
    """One row per name (join keys first): its values in entity-row order and their statuses."""
    rows = [[name, ", ".join(format_value(v) for v in values), ", ".join(resp.statuses.get(name, [])) or "-"]
            for name, values in resp.to_dict().items()]
    return table(["NAME", "VALUES", "STATUSES"], rows)


def response_json(resp: OnlineResponse) -> dict[str, Any]:
    return {
        "values": resp.to_dict(),
        "statuses": resp.statuses,
        "event_timestamps": {k: [t.isoformat() if t else None for t in v] for k, v in resp.event_timestamps.items()},
    }


@main.command(name="get-online", short_help="Look up online feature values of a few entities.")
@repo_option
@click.argument("features", nargs=-1, metavar="[FEATURES]...")
@click.option("--service", "-s", metavar="NAME", default=None,
              help="Look up the features of this feature service (instead of FEATURES).")
@click.option("--entity", "-e", "entities", multiple=True, metavar="KEY=VALUE[,KEY=VALUE...]",
              help="One entity row (repeat for more rows); join several keys with commas. Values that look "
                   "like integers are integers, unless the join key is declared as String. None: an empty "
                   "answer (the names only).")
@click.option("--full-feature-names", is_flag=True, help="Name features view__feature instead of feature.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: {\"values\": {name: [...]}, \"statuses\": {...}, \"event_timestamps\": {...}}.")
@click.pass_context
def get_online(ctx: click.Context, features: tuple[str, ...], service: str | None, entities: tuple[str, ...],
               full_feature_names: bool, as_json: bool) -> None:
    """Look up online feature values for a few entities (a debugging aid).

    FEATURES are 'view:feature' names (or 'view:*' for all of a view's features;
    commas also separate names), or use --service NAME. Prints, per join key and
    feature, the values in entity-row order and their statuses: PRESENT,
    NOT_FOUND (never materialized for that entity) or OUTSIDE_MAX_AGE (older
    than the view's ttl).

    \b
    featurestore get-online driver_stats:conv_rate --entity driver_id=1001 --entity driver_id=1002
    featurestore get-online 'driver_stats:*' -e driver_id=1001 --json
    featurestore get-online --service trip_model -e driver_id=1001,customer_id=2001
    """
    refs = split_names(features)
    if bool(refs) == bool(service):
        raise click.UsageError("give either FEATURES or --service NAME (one of them)", ctx)
    store = get_store(ctx)
    ctx.call_on_close(store.close)
    rows = parse_entities(entities, _key_types(store.state()))
    resp = store.get_online_features(service if service else refs, rows, full_feature_names=full_feature_names)
    if as_json:
        echo_json(response_json(resp))
    else:
        click.echo(response_table(resp))


