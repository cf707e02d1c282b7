"""Copy-paste code for a view, as this deployment accepts it: Python ``get_historical_features`` and
``get_online_features`` (the SDK on the server's repo), and ``curl`` for the HTTP lookup (this server's URL with
its prefix, the ``Authorization`` header only when keys are configured, the key read from
``$FEATURESTORE_API_KEY``, never written into the page).

>>> s = Snippets("http://127.0.0.1:6566", "/srv/repo", keys=False, served=True)
>>> print(s.curl(["driver_stats:conv_rate"], {"driver_id": 1001}, {}))
curl -s -X POST http://127.0.0.1:6566/get-online-features \\
  -H 'Content-Type: application/json' \\
  -d '{"features": ["driver_stats:conv_rate"], "entities": {"driver_id": [1001]}}'
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

PLACEHOLDER = {"Int32": 1, "Int64": 1, "Float32": 1.0, "Float64": 1.0, "String": "a", "Bool": True}
SERVE_URL = "http://127.0.0.1:6566"
"""Where ``featurestore serve`` listens by default: the curl snippet's URL on a UI-only server."""


def placeholder(dtype: str) -> Any:
    """An example value of a field type (what a snippet shows until the user types an entity)."""
    return PLACEHOLDER.get(dtype, "a")


def _py(value: Any) -> str:
    return repr(value)


@dataclass(frozen=True)
class Snippets:
    """Snippets for one deployment: ``base_url`` (scheme, host and prefix of this server), ``repo`` (the repo's
    path on the server), ``keys`` (API keys configured), ``served`` (this server answers lookups; a UI-only
    server, ``featurestore ui``, points curl at ``featurestore serve``'s default address)."""

    base_url: str
    repo: str
    keys: bool
    served: bool

    def curl(self, refs: list[str], keys: dict[str, Any], request: dict[str, Any]) -> str:
        body: dict[str, Any] = {"features": refs, "entities": {k: [v] for k, v in keys.items()}}
        if request:
            body["request_context"] = {k: [v] for k, v in request.items()}
        return self._curl(body)

    def service_curl(self, service: str, keys: dict[str, Any]) -> str:
        """The lookup of a feature service's features."""
        return self._curl({"feature_service": service, "entities": {k: [v] for k, v in keys.items()}})

    def _curl(self, body: dict[str, Any]) -> str:
        url = (self.base_url if self.served else SERVE_URL).rstrip("/") + "/get-online-features"
        lines = [f"curl -s -X POST {shlex.quote(url)}", "-H 'Content-Type: application/json'"]
        if self.keys:
            lines.append('-H "Authorization: Bearer $FEATURESTORE_API_KEY"')
        lines.append(f"-d {shlex.quote(json.dumps(body))}")
        return " \\\n  ".join(lines)

    def online(self, refs: list[str], keys: dict[str, Any], request: dict[str, Any]) -> str:
        row = ", ".join(f"{_py(k)}: {_py(v)}" for k, v in {**keys, **request}.items())
        features = "".join(f"\n        {_py(r)}," for r in refs)
        return (f"from featurestore import FeatureStore\n\n"
                f"store = FeatureStore(repo_path={_py(self.repo)})\n"
                f"response = store.get_online_features(\n"
                f"    features=[{features}\n    ],\n"
                f"    entity_rows=[{{{row}}}],\n)\n"
                f"print(response.to_dict())\n")

    def historical(self, refs: list[str], keys: dict[str, Any], request: dict[str, Any]) -> str:
        columns = "".join(f"\n    {_py(k)}: [{_py(v)}]," for k, v in {**keys, **request}.items())
        features = "".join(f"\n        {_py(r)}," for r in refs)
        return (f"from datetime import datetime, timezone\n\n"
                f"import pandas as pd\n"
                f"from featurestore import FeatureStore\n\n"
                f"store = FeatureStore(repo_path={_py(self.repo)})\n"
                f"entity_df = pd.DataFrame({{{columns}\n"
                f"    \"event_timestamp\": [datetime.now(timezone.utc)],\n}})\n"
                f"training_df = store.get_historical_features(\n"
                f"    entity_df,\n"
                f"    features=[{features}\n    ],\n"
                f").to_pandas()\n"
                f"print(training_df)\n")

    def all(self, refs: list[str], keys: dict[str, Any], request: dict[str, Any]) -> dict[str, str]:
        """``python_historical``, ``python_online`` and ``curl``."""
        return {"python_historical": self.historical(refs, keys, request),
                "python_online": self.online(refs, keys, request), "curl": self.curl(refs, keys, request)}
