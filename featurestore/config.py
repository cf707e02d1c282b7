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
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from featurestore.errors import ConfigError

CONFIG_FILE = "featurestore.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SqliteOnlineConfig(_Strict):
    type: Literal["sqlite"] = "sqlite"
    path: str = "data/online.db"


class RedisOnlineConfig(_Strict):
    type: Literal["redis"]
    url: str = "redis://localhost:6379/0"
    socket_timeout_seconds: float = Field(default=2.0, gt=0)
    write_batch_size: int = Field(default=2000, gt=0)


class DuckDBOfflineConfig(_Strict):
    type: Literal["duckdb"] = "duckdb"
    path: str | None = None
    memory_limit: str | None = None
    threads: int | None = Field(default=None, gt=0)
    temp_directory: str | None = None


class ApiKeys(_Strict):
    read: list[str] = []
    write: list[str] = []


class ServerConfig(_Strict):
    max_entities: int = Field(default=10_000, gt=0)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    registry_poll_seconds: float = Field(default=1.0, gt=0)
    api_keys: ApiKeys = ApiKeys()


OnlineConfig = Annotated[SqliteOnlineConfig | RedisOnlineConfig, Field(discriminator="type")]


class RepoConfig(_Strict):
    project: str
    registry: str = "data/registry.json"
    online_store: OnlineConfig = SqliteOnlineConfig()
    offline_store: DuckDBOfflineConfig = DuckDBOfflineConfig()
    server: ServerConfig = ServerConfig()
    max_future_event_seconds: float | None = Field(default=86_400.0, ge=0)
    """``push`` and ``write_to_online_store`` refuse event times later than now plus this (None: no limit)."""

    @field_validator("project")
    @classmethod
    def _project_name(cls, v: str) -> str:
        if not v or not all(c.isalnum() or c == "_" for c in v):
            raise ValueError("project must be letters, digits and '_'")
        return v


def _online_type(value: str, data: dict[str, Any]) -> None:
    current = data.get("online_store") or {}
    if current.get("type", "sqlite") != value:
        current = {}
    data["online_store"] = {**current, "type": value}


def _set(path: tuple[str, ...], transform: Any = None) -> Any:
    def apply(value: str, data: dict[str, Any]) -> None:
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {}) if isinstance(node.get(part), dict) or part not in node else node[part]
        node[path[-1]] = transform(value) if transform else value

    return apply


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _redis_url(value: str, data: dict[str, Any]) -> None:
    _online_type("redis", data)
    data["online_store"]["url"] = value


ENV_OVERRIDES: dict[str, Any] = {
    "FEATURESTORE_PROJECT": _set(("project",)),
    "FEATURESTORE_REGISTRY": _set(("registry",)),
    "FEATURESTORE_ONLINE_STORE": _online_type,
    "FEATURESTORE_REDIS_URL": _redis_url,
    "FEATURESTORE_SQLITE_PATH": _set(("online_store", "path")),
    "FEATURESTORE_DUCKDB_PATH": _set(("offline_store", "path")),
    "FEATURESTORE_DUCKDB_MEMORY_LIMIT": _set(("offline_store", "memory_limit")),
    "FEATURESTORE_READ_API_KEYS": _set(("server", "api_keys", "read"), _csv),
    "FEATURESTORE_WRITE_API_KEYS": _set(("server", "api_keys", "write"), _csv),
}
"""Environment variables that override ``featurestore.yaml``, applied in this order."""


def _format(err: ValidationError, source: str) -> str:
    parts = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            parts.append(f"unknown key {where!r}")
        else:
            parts.append(f"{where}: {e['msg']} (got {e.get('input')!r})")
    return f"invalid configuration in {source}: " + "; ".join(parts)


def parse_config(data: Any, source: str, env: dict[str, str] | None = None) -> RepoConfig:
    """Validate a config mapping after applying environment overrides."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a mapping of settings, got {type(data).__name__}", path=source)
    data = dict(data)
    for key in ("online_store", "offline_store", "server"):
        if isinstance(data.get(key), dict):
            data[key] = dict(data[key])
    env = dict(os.environ) if env is None else env
    for name, apply in ENV_OVERRIDES.items():
        if env.get(name):
            apply(env[name], data)
    try:
        return RepoConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format(err, source), path=source) from None


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
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


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
