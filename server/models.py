"""Request bodies, validated with pydantic: the HTTP edge is untrusted, the library behind it is not.

Bodies are parsed from the raw bytes with :func:`parse` (pydantic-core's JSON parser, no
intermediate ``json.loads``); a body that is not JSON or does not match the model is a 422
in FastAPI's format (``{"detail": [{"loc": ["body", ...], "msg": ..., "type": ...}]}``).
The models also document the endpoints in ``/openapi.json``.

The lookup bodies take a faster road, :func:`parse_lookup`: orjson and explicit checks that accept
only bodies the model accepts unchanged (plain JSON types, no coercion); any other body goes
through the model, so what is accepted, and every 422, is exactly the model's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

M = TypeVar("M", bound=BaseModel)


class _Body(BaseModel):
    # unknown keys are ignored: Feast clients send a few we do not use (allow_registry_cache...)
    model_config = ConfigDict(extra="ignore", frozen=True)


class _FeatureChoice(_Body):
    features: list[str] | None = Field(
        default=None, description="Feature references `view:feature` (`view:*` for every feature of a view).",
        examples=[["driver_stats:conv_rate", "driver_stats:avg_daily_trips"]])
    feature_service: str | None = Field(default=None, description="A feature service name (instead of `features`).")
    full_feature_names: bool = Field(default=False, description="Name features `view__feature`.")

    @model_validator(mode="after")
    def _one_of(self) -> _FeatureChoice:
        if (self.features is None) == (self.feature_service is None):
            raise ValueError("give exactly one of 'features' or 'feature_service'")
        return self

    def feature_ref(self) -> list[str] | str:
        return self.feature_service if self.feature_service is not None else list(self.features or ())


class GetOnlineFeaturesRequest(_FeatureChoice):
    """Feast's ``/get-online-features`` body: entity values column-wise."""

    entities: dict[str, list[Any]] = Field(
        description="Join key -> values, one per entity row (request data of on-demand views may be columns "
                    "here too).", examples=[{"driver_id": [1001, 1002]}])
    request_context: dict[str, list[Any]] | None = Field(
        default=None, description="Request data of on-demand views: field -> values, one per entity row.",
        examples=[{"distance_km": [12.0, 3.5]}])


class OnlineRequest(_FeatureChoice):
    """The native ``/v1/online`` body: entity rows as objects (or column-wise like Feast)."""

    entities: list[dict[str, Any]] | dict[str, list[Any]] = Field(
        description="Entity rows `[{join_key: value}, ...]` (or `{join_key: [values]}`).",
        examples=[[{"driver_id": 1001}, {"driver_id": 1002}]])
    orient: Literal["rows", "columns"] = Field(
        default="rows", description="`rows`: one object per entity row; `columns`: one list per name (fastest).")
    event_timestamps: bool = Field(default=False, description="Also return each view's event time per row.")
    request_context: dict[str, list[Any]] | None = Field(
        default=None, description="Request data of on-demand views: field -> values, one per entity row (or "
                                  "give them as keys of the entity rows).", examples=[{"distance_km": [12.0]}])


class PushRequest(_Body):
    """Feast's ``/push`` body."""

    push_source_name: str
    df: dict[str, list[Any]] = Field(description="Column -> values; timestamps as ISO 8601 strings.")
    to: Literal["online", "offline", "online_and_offline"] = "online"


class WriteToOnlineStoreRequest(_Body):
    """Feast's ``/write-to-online-store`` body."""

    feature_view_name: str
    df: dict[str, list[Any]] = Field(description="Column -> values; timestamps as ISO 8601 strings.")


class MaterializeRequest(_Body):
    """Feast's ``/materialize`` body."""

    start_ts: str = Field(description="ISO 8601 start (naive = UTC).", examples=["2026-01-01T00:00:00Z"])
    end_ts: str = Field(description="ISO 8601 end (naive = UTC).", examples=["2026-01-02T00:00:00Z"])
    feature_views: list[str] | None = None


class MaterializeIncrementalRequest(_Body):
    """Feast's ``/materialize-incremental`` body."""

    end_ts: str = Field(description="ISO 8601 end (naive = UTC).", examples=["2026-01-02T00:00:00Z"])
    feature_views: list[str] | None = None


def parse(model: type[M], body: bytes) -> M:
    """Validate a raw JSON body; a 422 (FastAPI's format) when it is not JSON or does not match."""
    try:
        return model.model_validate_json(body or b"null")
    except ValidationError as err:
        errors = err.errors(include_url=False, include_context=False, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON body of ``model`` (for routes that parse the body themselves)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


@dataclass(frozen=True, slots=True)
class LookupBody:
    """A lookup body that passed :func:`parse_lookup`: the fields the routes read, as the models hold them."""

    features: list[str] | None
    feature_service: str | None
    full_feature_names: bool
    entities: Any
    orient: str = "rows"
    event_timestamps: bool = False
    request_context: dict[str, list[Any]] | None = None

    def feature_ref(self) -> list[str] | str:
        return self.feature_service if self.feature_service is not None else list(self.features or ())


def _plain(data: Any, rows_allowed: bool) -> LookupBody | None:
    """The body when it fits the lookup models with no coercion, else None (the model decides)."""
    if type(data) is not dict:
        return None
    features, service = data.get("features"), data.get("feature_service")
    if (features is None) == (service is None):
        return None
    if features is not None and not (type(features) is list and all(type(f) is str for f in features)):
        return None
    if service is not None and type(service) is not str:
        return None
    full = data.get("full_feature_names", False)
    entities = data.get("entities")
    if type(full) is not bool or entities is None:
        return None
    context = data.get("request_context")
    if context is not None and not (type(context) is dict and all(type(v) is list for v in context.values())):
        return None
    if type(entities) is dict:
        if not all(type(v) is list for v in entities.values()):
            return None
    elif not (rows_allowed and type(entities) is list and all(type(r) is dict for r in entities)):
        return None
    if not rows_allowed:
        return LookupBody(features, service, full, entities, request_context=context)
    orient, stamps = data.get("orient", "rows"), data.get("event_timestamps", False)
    if orient not in ("rows", "columns") or type(orient) is not str or type(stamps) is not bool:
        return None
    return LookupBody(features, service, full, entities, orient, stamps, context)


_LONG_NUMBER = re.compile(rb"\d{19}")
"""A number orjson may not hold: it reads integers outside -2**63..2**64-1 as floats (10**30 -> 1e30)."""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _exact_json(body: bytes) -> Any:
    """JSON with integers of any size kept exact (a key outside int64 is then refused, naming it and the range)."""
    return json.loads(body, parse_constant=_no_constant)


def parse_lookup(model: type[GetOnlineFeaturesRequest] | type[OnlineRequest], body: bytes) -> LookupBody:
    """A lookup body: orjson and explicit checks for plain bodies, the pydantic model for every other one."""
    try:
        data = _exact_json(body) if _LONG_NUMBER.search(body) else orjson.loads(body)
    except ValueError:  # orjson.JSONDecodeError is one
        data = None
    fast = _plain(data, model is OnlineRequest)
    if fast is not None:
        return fast
    m = parse(model, body)
    return LookupBody(m.features, m.feature_service, m.full_feature_names, m.entities,
                      getattr(m, "orient", "rows"), getattr(m, "event_timestamps", False), m.request_context)
