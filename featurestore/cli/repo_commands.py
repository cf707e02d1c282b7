"""Repo commands: init, plan, apply, list, describe, generate-data."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import yaml

from featurestore.cli._group import echo_json, format_tags, format_ttl, get_state, get_store, main, repo_option, table
from featurestore.cli.plan_format import format_plan
from featurestore.config import CONFIG_FILE, check_project_name, load_config, parse_config
from featurestore.definitions import kinds
from featurestore.definitions.aggregate_view import AggregateView
from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.on_demand import OnDemandFeatureView
from featurestore.definitions.sources import PushSource
from featurestore.demo import sample_data
from featurestore.errors import FeatureStoreError, NotFoundError
from featurestore.materialize import run as mat
from featurestore.registry.file import RegistryState
from featurestore.store import FeatureStore
from featurestore.utc import to_utc

CONFIG_TEMPLATE = """\
# Settings of the feature repo; see the README for every key.
project: "{project}"
registry: data/registry.json
online_store:
  type: sqlite
  path: data/online.db
offline_store:
  type: duckdb
"""

DEFINITIONS_TEMPLATE = '''\
"""Driver statistics, hourly, from a Parquet file. Edit, then run `featurestore plan` and `featurestore apply`."""

from datetime import timedelta

from featurestore import Entity, FeatureService, FeatureView, Field, ParquetSource
from featurestore.types import Float32, Int64

driver = Entity(name="driver", join_keys=["driver_id"], description="A ride-hailing driver")

driver_stats = FeatureView(
    name="driver_stats",
    entities=[driver],
    ttl=timedelta(days=2),
    schema=[
        Field(name="conv_rate", dtype=Float32),
        Field(name="acc_rate", dtype=Float32),
        Field(name="avg_daily_trips", dtype=Int64),
    ],
    source=ParquetSource(
        path="data/driver_stats.parquet",
        timestamp_field="event_timestamp",
        created_timestamp_field="created",
    ),
    owner="ml-platform@example.com",
    tags={"team": "pricing"},
)

driver_activity = FeatureService(name="driver_activity", features=[driver_stats])
'''

LIST_KINDS = tuple(k.cli_name for k in kinds.KINDS)
DESCRIBE_KINDS = tuple(k.cli_singular for k in kinds.KINDS)
_BY_CLI_WORD = {w: k for k in kinds.KINDS for w in (k.cli_name, k.cli_singular)}


def project_name(folder: str) -> str:
    """A valid project name from a folder name: other characters become ``_``.

    >>> project_name("my-repo 2"), project_name("---")
    ('my_repo_2', 'feature_repo')
    """
    name = re.sub(r"[^A-Za-z0-9_]+", "_", folder).strip("_")
    return name or "feature_repo"


def _check_project(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    try:
        return None if value is None else check_project_name(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


@main.command()
@click.argument("name", type=click.Path(path_type=Path))
@click.option("--project", default=None, callback=_check_project,
              help="The project name (ASCII letters, digits and '_'). Default: NAME's last part, other "
                   "characters replaced by '_'.")
def init(name: Path, project: str | None) -> None:
    """Create a new feature repo in folder NAME, with sample data.

    NAME is relative to the current folder (--repo is not used); it must not
    exist or be an empty folder. It gets:

    \b
    NAME/featurestore.yaml   settings (project = NAME, letters/digits/_ only)
    NAME/driver_stats.py     an entity, a feature view and a feature service
    NAME/data/               sample data: driver_stats.parquet (hourly, 50 drivers, 7 days)
    """
    if name.exists() and (not name.is_dir() or any(name.iterdir())):
        raise click.ClickException(f"{str(name)!r} already exists and is not an empty folder; choose another name")
    project = project or project_name(name.resolve().name)
    config = CONFIG_TEMPLATE.format(project=project)
    parse_config(yaml.safe_load(config), CONFIG_FILE, env={})  # the repo's own config reads back (before writing)
    name.mkdir(parents=True, exist_ok=True)
    (name / CONFIG_FILE).write_text(config)
    (name / "driver_stats.py").write_text(DEFINITIONS_TEMPLATE)
    files = [sample_data.write_driver_stats(name)]
    click.echo(f"Created feature repo {str(name)!r} (project {project!r}):")
    for path in [name / CONFIG_FILE, name / "driver_stats.py", *files]:
        click.echo(f"  {path}")
    click.echo(f"\nNext steps:\n  cd {name}\n  featurestore plan       # what apply would register\n"
               "  featurestore apply      # register the definitions\n  featurestore list feature-views\n"
               "  featurestore describe feature-view driver_stats")


@main.command()
@repo_option
@click.pass_context
def plan(ctx: click.Context) -> None:
    """Show what 'apply' would change (a dry run).

    Lists objects to add (+), change (~) and remove (-). Changed objects list
    each difference on a line of its own, e.g.:

    \b
    ~ feature_view driver_stats
        - feature acc_rate (Float32)
        + feature trips (Int64)
        ~ feature conv_rate: Float32 -> Float64
        ~ ttl: 2d -> 1d
    """
    store = get_store(ctx)
    before = store.state()
    click.echo(format_plan(store.plan(), before))


@main.command()
@repo_option
@click.pass_context
def apply(ctx: click.Context) -> None:
    """Validate the repo's definitions and register them.

    Every definition module of the repo is imported and each feature view is
    checked against its source's columns and types. Objects no longer defined
    are removed; re-applying unchanged definitions does nothing. Prints the plan
    that was applied and the new registry version.
    """
    store = get_store(ctx)
    before = store.state()
    result = store.apply()
    click.echo(format_plan(result, before))
    if not result.empty:
        click.echo(f"Applied: registry version {store.state().version}.")


def _view_row(v: FeatureView) -> list[Any]:
    return [v.name, ",".join(e.name for e in v.entities), ",".join(v.join_keys), len(v.features),
            format_ttl(v.ttl), f"push:{v.source.name}" if isinstance(v.source, PushSource) else v.source.describe(),
            v.owner or "-", format_tags(v.tags)]


def _aggregate_row(v: AggregateView) -> list[Any]:
    return [v.name, ",".join(e.name for e in v.entities), ",".join(v.join_keys), len(v.feature_names),
            ",".join(windows_of(v)), v.serving_horizon, v.resolution or "-",
            f"push:{v.source.name}" if isinstance(v.source, PushSource) else v.source.describe(),
            v.owner or "-", format_tags(v.tags)]


def windows_of(view: AggregateView) -> list[str]:
    """The view's distinct windows, first-seen order (``lifetime`` for an aggregation without one)."""
    return list(dict.fromkeys(w for a in view.aggregations for w in (a.windows or ("lifetime",))))


def _aggregate_details(state: RegistryState, view: AggregateView, common: dict[str, Any],
                       services: list[str]) -> dict[str, Any]:
    on_demand = [v.name for v in state.on_demand_feature_views() if view.name in {p.view for p in v.view_sources}]
    features: dict[str, str] = {}
    types = {f.name: f.dtype.name for f in view.features}  # applied: every column's type is known
    for agg in view.aggregations:
        for name, window in zip(agg.feature_names, agg.windows or ("lifetime",), strict=True):
            what = f"{agg.function}({agg.column or '*'}) over {window}" + (f" where {agg.where}" if agg.where else "")
            features[name] = f"{types[name]}  # {what}"
    return {
        "aggregate_view": view.name,
        "entities": [e.name for e in view.entities],
        "join_keys": {f.name: f.dtype.name for f in view.key_fields} or list(view.join_keys),
        "features": features,
        "windows": windows_of(view),
        "serving_horizon": view.serving_horizon,
        "resolution": view.resolution or "none (exact to the microsecond)",
        "source": {k: v for k, v in view.source.to_dict().items() if v not in ("", {}, None)},
        "online": view.online,
        **common,
        "feature_services": services,
        **({"on_demand_feature_views": on_demand} if on_demand else {}),
    }


@main.command(name="list")
@repo_option
@click.argument("kind", type=click.Choice(LIST_KINDS, case_sensitive=False))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of the objects' full definitions.")
@click.pass_context
def list_objects(ctx: click.Context, kind: str, as_json: bool) -> None:
    """List registered entities, feature views, aggregate views, on-demand feature views or services.

    A table of the key facts (join keys, features, ttl or windows, source, owner, tags);
    --json prints the full definitions instead.

    \b
    featurestore list feature-views
    featurestore list entities --json
    """
    state = get_store(ctx).state()
    of = _BY_CLI_WORD[kind.lower()]
    objects = state.all(of.key)
    if as_json:
        echo_json([o.to_dict() for o in objects])
        return
    if not objects:
        click.echo(f"No {of.plural} registered; run 'featurestore apply'.")
        return
    if of is kinds.ENTITIES:
        click.echo(table(["NAME", "JOIN KEYS", "OWNER", "TAGS", "DESCRIPTION"],
                         [[e.name, ",".join(e.join_keys), e.owner or "-", format_tags(e.tags), e.description]
                          for e in objects]))
    elif of is kinds.FEATURE_VIEWS:
        click.echo(table(["NAME", "ENTITIES", "JOIN KEYS", "FEATURES", "TTL", "SOURCE", "OWNER", "TAGS"],
                         [_view_row(v) for v in objects]))
    elif of is kinds.AGGREGATE_VIEWS:
        click.echo(table(["NAME", "ENTITIES", "JOIN KEYS", "FEATURES", "WINDOWS", "HORIZON", "RESOLUTION", "SOURCE",
                          "OWNER", "TAGS"], [_aggregate_row(v) for v in objects]))
    elif of is kinds.ON_DEMAND_FEATURE_VIEWS:
        click.echo(table(["NAME", "MODE", "SOURCES", "FEATURES", "FINGERPRINT", "OWNER", "TAGS"],
                         [[v.name, v.mode, ",".join(_source_names(v)), len(v.features), v.fingerprint[:12],
                           v.owner or "-", format_tags(v.tags)] for v in objects]))
    elif of is kinds.FEATURE_SERVICES:
        click.echo(table(["NAME", "VIEWS", "FEATURES", "OWNER", "TAGS", "DESCRIPTION"],
                         [[s.name, ",".join(p.view for p in s.features), len(s.refs()), s.owner or "-",
                           format_tags(s.tags), s.description] for s in objects]))
    else:  # a kind without a table of its own
        click.echo(table(["NAME", "OWNER", "TAGS", "DESCRIPTION"],
                         [[o.name, o.owner or "-", format_tags(o.tags), o.description] for o in objects]))


def _source_names(view: OnDemandFeatureView) -> list[str]:
    return [p.view for p in view.view_sources] + [f"request:{r.name}" for r in view.request_sources]


def _find(state: RegistryState, kind: str, name: str) -> Any:
    key = _BY_CLI_WORD[kind].key
    try:
        return state.get(key, name)
    except NotFoundError as err:
        known = ", ".join(state.names(key)) or "none; run 'featurestore apply'"
        raise NotFoundError(f"{err.message} (registered: {known})", **err.fields) from None


def _details(state: RegistryState, kind: str, obj: Any) -> dict[str, Any]:
    """The human-readable description of a registered object."""
    common = {"description": obj.description, "owner": obj.owner, "tags": dict(obj.tags)}
    of = _BY_CLI_WORD[kind]
    if of is kinds.ENTITIES:
        views = [v.name for v in state.feature_views() if obj.name in {e.name for e in v.entities}]
        aggregates = [v.name for v in state.aggregate_views() if obj.name in {e.name for e in v.entities}]
        return {"entity": obj.name, "join_keys": list(obj.join_keys), **common, "feature_views": views,
                **({"aggregate_views": aggregates} if aggregates else {})}
    services = [s.name for s in state.feature_services() if obj.name in {p.view for p in s.features}]
    if of is kinds.AGGREGATE_VIEWS:
        return _aggregate_details(state, obj, common, services)
    if of is kinds.ON_DEMAND_FEATURE_VIEWS:
        return {
            "on_demand_feature_view": obj.name,
            "mode": obj.mode,
            "sources": {p.view: list(p.features) or "all features" for p in obj.view_sources}
            | {f"request:{r.name}": {f.name: f.dtype.name for f in r.schema} for r in obj.request_sources},
            "features": {f.name: f.dtype.name + (f"  # {f.description}" if f.description else "")
                         for f in obj.features},
            "fingerprint": obj.fingerprint,
            **common,
            "feature_services": services,
        }
    if of is kinds.FEATURE_VIEWS:
        on_demand = [v.name for v in state.on_demand_feature_views()
                     if obj.name in {p.view for p in v.view_sources}]
        return {
            "feature_view": obj.name,
            "entities": [e.name for e in obj.entities],
            "join_keys": {f.name: f.dtype.name for f in obj.key_fields} or list(obj.join_keys),
            "features": {f.name: f.dtype.name + (f"  # {f.description}" if f.description else "")
                         for f in obj.features},
            "ttl": format_ttl(obj.ttl) if obj.ttl else "none (values never expire)",
            "source": {k: v for k, v in obj.source.to_dict().items() if v not in ("", {}, None)},
            "online": obj.online,
            **common,
            "feature_services": services,
            **({"on_demand_feature_views": on_demand} if on_demand else {}),
        }
    if of is not kinds.FEATURE_SERVICES:
        return {of.label: obj.name, **common}
    features: dict[str, dict[str, str]] = {}
    for p in obj.features:
        try:
            kind = next((k.key for k in kinds.VIEW_KINDS if p.view in state.objects[k.key]), "feature_views")
            view = state.get(kind, p.view)
            features[p.view] = {f: view.feature(f).dtype.name for f in (p.features or view.feature_names)}
        except NotFoundError:
            features[p.view] = {f: "?" for f in p.features}
    return {"feature_service": obj.name, "features": features, **common}


@main.command()
@repo_option
@click.argument("kind", type=click.Choice(DESCRIBE_KINDS, case_sensitive=False))
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the registered definition as JSON.")
@click.option("--version", "version", type=int, default=None, metavar="N",
              help="The definition as it was at registry version N (see 'featurestore history').")
@click.pass_context
def describe(ctx: click.Context, kind: str, name: str, as_json: bool, version: int | None) -> None:
    """Show the details of one registered object.

    KIND is entity, feature-view, aggregate-view, on-demand-feature-view or feature-service.
    On-demand feature views show their mode (polars or python), sources, features, and the
    fingerprint of the applied code (--json shows the code itself).
    Feature views show join keys and features with their types, ttl, source, owner, tags,
    description, the feature services using them, and their materialization: per online
    store (the current one marked), the watermark, last success and rows written.
    Aggregate views show each feature's type, function, window and where, the serving horizon and
    resolution, and their materialization like feature views.

    \b
    featurestore describe feature-view driver_stats
    featurestore describe feature-service trip_model --json
    featurestore describe feature-view driver_stats --version 3
    """
    store = get_store(ctx)
    state = store.registry_at(version)
    kind = kind.lower()
    obj = _find(state, kind, name)
    if as_json:
        echo_json(obj.to_dict())
        return
    details = _details(state, kind, obj)
    if version is not None:
        details = {"registry_version": version, **details}
    elif isinstance(obj, FeatureView | AggregateView):
        details["materialization"] = _materialization(store, obj)
    click.echo(yaml.safe_dump(details, sort_keys=False, allow_unicode=True).rstrip())


def _materialization(store: FeatureStore, view: FeatureView | AggregateView) -> Any:
    """The view's watermark records, per online store identity (the repo's current store marked)."""
    if not view.online:
        return "none: the view is not online (online=False)"
    records = sorted((r for r in store.state_store.records(mat.WATERMARK) if r.name == view.name),
                     key=lambda r: r.key)
    if not records:
        return "never (run 'featurestore materialize-incremental now')"
    try:
        current = mat.target_of(store.online, store.repo_path)
    except FeatureStoreError:  # a store that cannot even be opened is not marked
        current = None
    return {r.key + (" (current)" if r.key == current else ""): r.value for r in records}


@main.command(name="generate-data")
@repo_option
@click.option("--end", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None, metavar="DATE",
              help="Where the data ends: YYYY-MM-DD[THH:MM:SS], UTC. Default: today at midnight UTC "
                   "(zone_demand: the current quarter hour).")
@click.pass_context
def generate_data(ctx: click.Context, end: datetime | None) -> None:
    """Write the example repo's sample data into <repo>/data.

    The values are deterministic (only the dates vary):

    \b
    data/driver_stats.parquet     hourly stats of 50 drivers over 7 days
    data/customer_profile.csv     daily profiles of 20 customers over 7 days
    data/customer_driver.parquet  a row per trip of a customer with a driver, 60 days
    data/city.duckdb              table zone_demand: demand in 8 zones every 15 minutes,
                                  7 days up to now (up to --end when given)

    The repo must have a featurestore.yaml. Used by 'make demo'.
    """
    repo = get_state(ctx).repo
    load_config(repo)
    for path in sample_data.write(repo, to_utc(end) if end else None):
        click.echo(f"wrote {path}")

