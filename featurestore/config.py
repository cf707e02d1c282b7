"""``featurestore.yaml``: the repo's settings, validated with pydantic (an untrusted edge).

Relative paths resolve against the repo folder. Environment variables override
the file (see ``ENV_OVERRIDES``).

>>> cfg = RepoConfig.model_validate({"project": "demo"})
>>> cfg.online_store.type, cfg.registry
('sqlite', 'data/registry.json')
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from featurestore.errors import ConfigError

CONFIG_FILE = "featurestore.yaml"

PROJECT_NAME = re.compile(r"[A-Za-z0-9_]+")
"""What a project name may hold (it is part of every online store key)."""

_UNITS = {"b": 1, "byte": 1, "bytes": 1, "k": 10**3, "kb": 10**3, "kilobyte": 10**3, "kilobytes": 10**3,
          "kib": 2**10, "m": 10**6, "mb": 10**6, "megabyte": 10**6, "megabytes": 10**6, "mib": 2**20,
          "g": 10**9, "gb": 10**9, "gigabyte": 10**9, "gigabytes": 10**9, "gib": 2**30, "t": 10**12,
          "tb": 10**12, "terabyte": 10**12, "terabytes": 10**12, "tib": 2**40}
MEMORY_LIMIT = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+) ?(%|" + "|".join(sorted(_UNITS, key=len, reverse=True))
                          + ")", re.IGNORECASE)
"""DuckDB's memory size syntax (a subset): a number, an optional space, then ``%`` or a unit of ``_UNITS``."""
_MAX_MEMORY = 2**62  # bytes; DuckDB refuses values near 2**64


def check_project_name(name: object) -> str:
    """``name`` if it is a valid project name (letters, digits and ``_``), else ValueError."""
    if not isinstance(name, str) or not PROJECT_NAME.fullmatch(name):
        raise ValueError(f"project name {name!r} is invalid: use ASCII letters, digits and '_'")
    return name


def check_memory_limit(value: str) -> str:
    """``value`` (stripped) if DuckDB takes it as a ``memory_limit``, else ValueError saying what would do.

    >>> check_memory_limit(" 4GB"), check_memory_limit("80%"), check_memory_limit("512 MiB")
    ('4GB', '80%', '512 MiB')
    """
    text = value.strip()
    match = MEMORY_LIMIT.fullmatch(text)
    if match is None:
        problem = "is not a memory size"
    else:
        number, unit = float(match.group(1)), match.group(2).lower()
        if unit == "%":
            problem = "must be a percentage above 0 and at most 100" if not 0 < number <= 100 else ""
        else:
            problem = "must be above zero" if number * _UNITS[unit] < 1 else ""
            problem = problem or ("is too large" if number * _UNITS[unit] > _MAX_MEMORY else "")
    if problem:
        raise ValueError(f"memory_limit {problem}: use a size such as '4GB', '512MiB' or '1.5 GB' (units B, KB, MB, "
                         "GB, TB for powers of 1000; KiB, MiB, GiB, TiB for powers of 1024) or a share of the "
                         "memory such as '80%'")
    return text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SqliteOnlineConfig(_Strict):
    type: Literal["sqlite"] = "sqlite"
    path: str = "data/online.db"


class RedisOnlineConfig(_Strict):
    type: Literal["redis"]
    url: str = "redis://localhost:6379/0"
    """With ``cluster``: the seed nodes, ``redis://[user:password@]host1:port1,host2:port2,...``."""
    cluster: bool = False
    """A Redis Cluster (keys spread over its nodes by hash slot; featurestore/online/redis_cluster.py)."""
    socket_timeout_seconds: float = Field(default=2.0, gt=0)
    write_batch_size: int = Field(default=2000, gt=0)


class DuckDBOfflineConfig(_Strict):
    type: Literal["duckdb"] = "duckdb"
    path: str | None = None
    memory_limit: str | None = None
    threads: int | None = Field(default=None, gt=0)
    temp_directory: str | None = None

    @field_validator("memory_limit")
    @classmethod
    def _memory_limit(cls, v: str | None) -> str | None:
        return None if v is None else check_memory_limit(v)


SPARK_MASTER = re.compile(r"local(\[([1-9][0-9]*|\*)(, ?[1-9][0-9]*)?\])?|(spark|sc|k8s)://\S+|yarn")
"""The Spark masters ``offline_store.master`` accepts: ``local``, ``local[N]`` / ``local[*]`` (``local[N,F]``),
``spark://host:port`` (standalone), ``sc://host:port`` (Spark Connect), ``k8s://...`` and ``yarn``."""


class SparkOfflineConfig(_Strict):
    """``offline_store: {type: spark, ...}``: the Spark engine (featurestore/offline/spark).

    ``settings`` are passed to the SparkSession builder as they are (``spark.executor.memory``, ...);
    ``buckets``: how many independent parts a training set is cut into by entity (None: 3 x the default
    parallelism); ``memory_limit`` and ``temp_directory``: of the DuckDB kernel run per bucket (one thread each).
    """

    type: Literal["spark"]
    master: str = "local[2]"
    app_name: str = "featurestore"
    settings: dict[str, str] = {}
    buckets: int | None = Field(default=None, gt=0, le=65536)
    memory_limit: str | None = None
    temp_directory: str | None = None

    @field_validator("master")
    @classmethod
    def _master(cls, v: str) -> str:
        if not SPARK_MASTER.fullmatch(v.strip()):
            raise ValueError(f"master {v!r} is not a Spark master: use local[N], spark://host:port, "
                             "sc://host:port (Spark Connect), k8s://... or yarn")
        return v.strip()

    @field_validator("memory_limit")
    @classmethod
    def _memory_limit(cls, v: str | None) -> str | None:
        return None if v is None else check_memory_limit(v)


class ApiKeys(_Strict):
    read: list[str] = []
    write: list[str] = []


class UiConfig(_Strict):
    """The web UI at ``/ui`` (README "Web UI")."""

    enabled: bool = True
    statistics_cache: int = Field(default=256, ge=0)
    """Profiles kept in memory (per view and source state); 0: computed on every statistics request."""
    session_hours: float = Field(default=12.0, gt=0)
    """How long the UI's login cookie is valid."""


class ServerConfig(_Strict):
    max_entities: int = Field(default=10_000, gt=0)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    registry_poll_seconds: float = Field(default=1.0, gt=0)
    api_keys: ApiKeys = ApiKeys()
    trusted_proxies: list[str] = ["127.0.0.1", "::1"]
    """Clients whose ``X-Forwarded-Prefix`` header is believed (addresses, networks, or ``"*"``)."""
    ui: UiConfig = UiConfig()

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: list[str]) -> list[str]:
        for item in v:
            if item.strip() != "*":
                try:
                    ipaddress.ip_network(item.strip(), strict=False)
                except ValueError:
                    raise ValueError(f"trusted_proxies: {item!r} is not an address, a network or '*'") from None
        return v


class DriftCheck(_Strict):
    """One drift check of ``featurestore monitor``: a ``service`` or a ``view``; ``reference``: ``[start, end]``
    (ISO) or a trailing window (``"30d"``: the 30 days before the tick); ``current``: ``"served"`` (logged served
    values) or ``"source"`` (the view's source rows), over the trailing ``window``."""

    service: str | None = None
    view: str | None = None
    reference: list[str] | str
    current: Literal["served", "source"] = "served"
    window: str = "1d"

    @model_validator(mode="after")
    def _one_target(self) -> DriftCheck:
        if (self.service is None) == (self.view is None):
            raise ValueError("a drift check names exactly one of 'service' or 'view'")
        if isinstance(self.reference, list) and len(self.reference) != 2:
            raise ValueError(f"reference [start, end] takes 2 times, got {self.reference!r}")
        return self

    @property
    def target(self) -> str:
        return self.service if self.service is not None else str(self.view)


class ConsistencyCheck(_Strict):
    """One consistency check of ``featurestore monitor``: the ``service``'s logged lookups of the trailing
    ``window``."""

    service: str
    window: str = "1d"


class MonitoringConfig(_Strict):
    """``monitoring:`` of featurestore.yaml: what ``featurestore monitor`` checks every ``interval_seconds``."""

    interval_seconds: float = Field(default=300.0, gt=0)
    drift: list[DriftCheck] = []
    consistency: list[ConsistencyCheck] = []


OnlineConfig = Annotated[SqliteOnlineConfig | RedisOnlineConfig, Field(discriminator="type")]
OfflineConfig = Annotated[DuckDBOfflineConfig | SparkOfflineConfig, Field(discriminator="type")]


class TrainingSetsConfig(_Strict):
    """``training_sets:`` of featurestore.yaml: where versioned training sets are written."""

    path: str | None = None
    """Their folder (relative to the repo); default: ``training_sets`` in the registry's folder."""


class FeatureTablesConfig(_Strict):
    """``feature_tables:`` of featurestore.yaml: the offline feature tables ``materialize-offline`` appends to."""

    path: str | None = None
    """Their folder (relative to the repo); default: ``feature_tables`` in the registry's folder."""
    use_for_training: bool = True
    """Whether training sets read a view from its feature table when it has one (else always from its source)."""


class RepoConfig(_Strict):
    project: str
    registry: str = "data/registry.json"
    online_store: OnlineConfig = SqliteOnlineConfig()
    offline_store: OfflineConfig = DuckDBOfflineConfig()
    server: ServerConfig = ServerConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    training_sets: TrainingSetsConfig = TrainingSetsConfig()
    feature_tables: FeatureTablesConfig = FeatureTablesConfig()
    max_future_event_seconds: float | None = Field(default=86_400.0, ge=0)
    """``push`` and ``write_to_online_store`` refuse event times later than now plus this (None: no limit)."""

    @field_validator("project")
    @classmethod
    def _project_name(cls, v: str) -> str:
        return check_project_name(v)


def _online_type(value: str, data: dict[str, Any]) -> None:
    current = data.get("online_store")
    if not isinstance(current, dict) or current.get("type", "sqlite") != value:
        current = {}
    data["online_store"] = {**current, "type": value}


def _set(path: tuple[str, ...], transform: Any = None) -> Any:
    def apply(value: str, data: dict[str, Any]) -> None:
        node = data
        for part in path[:-1]:
            if node.get(part) is None:
                node[part] = {}
            elif not isinstance(node[part], dict):
                return  # the file's own error (a section that is not a mapping) is reported as such
            node = node[part]
        node[path[-1]] = transform(value) if transform else value

    return apply


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _redis_url(value: str, data: dict[str, Any]) -> None:
    _online_type("redis", data)
    data["online_store"]["url"] = value


@dataclass(frozen=True)
class EnvOverride:
    """One environment variable of :data:`ENV_OVERRIDES`: the setting it overrides and how."""

    key: str
    """The dotted setting it overrides (``offline_store.memory_limit``); errors there name the variable."""
    apply: Callable[[str, dict[str, Any]], None]


ENV_OVERRIDES: dict[str, EnvOverride] = {
    "FEATURESTORE_PROJECT": EnvOverride("project", _set(("project",))),
    "FEATURESTORE_REGISTRY": EnvOverride("registry", _set(("registry",))),
    "FEATURESTORE_ONLINE_STORE": EnvOverride("online_store.type", _online_type),
    "FEATURESTORE_REDIS_URL": EnvOverride("online_store.url", _redis_url),
    "FEATURESTORE_REDIS_CLUSTER": EnvOverride("online_store.cluster", _set(("online_store", "cluster"))),
    "FEATURESTORE_SQLITE_PATH": EnvOverride("online_store.path", _set(("online_store", "path"))),
    "FEATURESTORE_DUCKDB_PATH": EnvOverride("offline_store.path", _set(("offline_store", "path"))),
    "FEATURESTORE_DUCKDB_MEMORY_LIMIT": EnvOverride("offline_store.memory_limit",
                                                    _set(("offline_store", "memory_limit"))),
    "FEATURESTORE_READ_API_KEYS": EnvOverride("server.api_keys.read", _set(("server", "api_keys", "read"), _csv)),
    "FEATURESTORE_WRITE_API_KEYS": EnvOverride("server.api_keys.write",
                                               _set(("server", "api_keys", "write"), _csv)),
}
"""Environment variables that override ``featurestore.yaml``, applied in this order."""

# discriminator values pydantic puts into error locations
_TAGS = {"online_store": ("sqlite", "redis"), "offline_store": ("duckdb", "spark")}


def _where(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as the setting's dotted name (without the union's tag: ``offline_store.path``)."""
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[1] in _TAGS.get(parts[0], ()):
        parts.pop(1)
    return ".".join(parts)


def _culprit(loc: tuple[Any, ...], used: dict[str, str]) -> str | None:
    """The environment variable (of ``used``, name -> value) that set the setting at ``loc``, if one did."""
    where = _where(loc)
    for name in reversed(used):  # the last override applied wins
        key = ENV_OVERRIDES[name].key
        if where == key or where.startswith(key + ".") or (where and key.startswith(where + ".")):
            return name
    return None


def _fail(err: ValidationError, source: str, used: dict[str, str]) -> ConfigError:
    parts, variables, in_file = [], [], False
    for e in err.errors():
        where = _where(e["loc"]) or "(top level)"
        what = (f"unknown key {where!r}" if e["type"] == "extra_forbidden"
                else f"{where}: {e['msg'].removeprefix('Value error, ')}")
        variable = _culprit(e["loc"], used)
        if variable is None:
            in_file = True
            parts.append(what if e["type"] == "extra_forbidden" else f"{what} (got {e.get('input')!r})")
        else:
            variables.append(variable)
            parts.append(f"{what} (got {used[variable]!r} from environment variable {variable}, which overrides "
                         f"{ENV_OVERRIDES[variable].key})")
    head = f"invalid configuration in {source}" if in_file else f"invalid environment override of {source}"
    return ConfigError(f"{head}: " + "; ".join(parts), path=source, variable=variables[0] if variables else None)


def parse_config(data: Any, source: str, env: dict[str, str] | None = None) -> RepoConfig:
    """Validate a config mapping after applying environment overrides.

    An error caused by an override names the variable (``ConfigError.variable``), not ``source``.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a mapping of settings, got {type(data).__name__}", path=source)
    data = dict(data)
    for key in ("online_store", "offline_store", "server"):
        if isinstance(data.get(key), dict):
            data[key] = dict(data[key])
    if isinstance(data.get("server"), dict) and isinstance(data["server"].get("api_keys"), dict):
        data["server"]["api_keys"] = dict(data["server"]["api_keys"])
    env = dict(os.environ) if env is None else env
    used = {name: env[name] for name in ENV_OVERRIDES if env.get(name)}
    for name, value in used.items():
        ENV_OVERRIDES[name].apply(value, data)
    if isinstance(data.get("offline_store"), dict):
        data["offline_store"].setdefault("type", "duckdb")  # the default engine needs no type
    try:
        return RepoConfig.model_validate(data)
    except ValidationError as err:
        raise _fail(err, source, used) from None


def load_config(repo_path: str | Path, env: dict[str, str] | None = None) -> RepoConfig:
    """Read ``featurestore.yaml`` from the repo folder."""
    path = Path(repo_path) / CONFIG_FILE
    if not path.exists():
        raise ConfigError(f"no {CONFIG_FILE} in {str(repo_path)!r}; run 'featurestore init' to create a repo",
                          path=str(path))
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}", path=str(path)) from None
    return parse_config(data, str(path), env)


def resolve(repo_path: str | Path, path: str) -> Path:
    """A config path, resolved against the repo folder."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (Path(repo_path) / p).resolve()


def redact_url(url: str) -> str:
    """``url`` with its password masked, for messages and logs.

    >>> redact_url("redis://user:secret@cache:6379/0")
    'redis://user:***@cache:6379/0'
    >>> redact_url("redis://:secret@h1:7000,h2:7001")
    'redis://:***@h1:7000,h2:7001'
    """
    parts = urlsplit(url)
    auth, at, hosts = parts.netloc.rpartition("@")
    if not at or ":" not in auth:
        return url
    return urlunsplit(parts._replace(netloc=f"{auth.partition(':')[0]}:***@{hosts}"))


def redis_identity(url: str) -> str:
    """What names one Redis database whatever the URL's spelling: scheme, host address, port and db.

    Loopback names (``localhost``, ``127.0.0.1``, ``::1``) are one host; the user, the password and
    connection options are not part of it; the port defaults to 6379 and the db to 0. A Unix socket is
    ``unix://<path>/<db>``.

    >>> redis_identity("redis://:secret@localhost/0") == redis_identity("rediss://127.0.0.1:6379?db=0")
    True
    >>> redis_identity("redis://cache:6380/2")
    'redis://cache:6380/2'
    """
    parts = urlsplit(url)
    query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
    path = parts.path or ""
    db_text = (query.get("db") or ("" if parts.scheme == "unix" else path.strip("/")) or "0").strip()
    db = int(db_text) if db_text.isdigit() else db_text
    if parts.scheme == "unix":
        return f"unix://{path}/{db}"
    host = (parts.hostname or "localhost").lower()
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    return f"redis://{'127.0.0.1' if loopback else host}:{parts.port or 6379}/{db}"
