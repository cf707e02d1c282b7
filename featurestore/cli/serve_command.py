"""``featurestore serve``: the HTTP feature server (uvicorn + the ``server`` package).

uvicorn and the server (FastAPI) are imported inside the command only: importing the library
or the CLI never imports a web framework.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import tempfile

import click

from featurestore.cli._group import get_state, get_store, main, repo_option

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _multiprocess_metrics() -> None:
    """Workers share their counters through files (prometheus_client's multiprocess mode)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        folder = tempfile.mkdtemp(prefix="featurestore-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        atexit.register(shutil.rmtree, folder, True)


@main.command()
@repo_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: all).")
@click.option("--port", default=6566, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 512),
              help="Worker processes (each loads the registry and connects to the online store).")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(LOG_LEVELS, case_sensitive=False))
@click.option("--access-log/--no-access-log", default=False, show_default=True,
              help="Log every request (costs latency; /metrics counts requests anyway).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int, log_level: str, access_log: bool) -> None:
    """Serve features over HTTP (Feast-compatible endpoints, docs at /docs).

    \b
    Endpoints: POST /get-online-features, /v1/online, /push, /write-to-online-store,
    /materialize, /materialize-incremental; GET /features, /health, /ready, /metrics, /docs.
    The registry is re-read within server.registry_poll_seconds after 'featurestore apply'.
    """
    if not (_have("uvicorn") and _have("fastapi")):
        raise click.ClickException("the server needs the 'server' extra: pip install 'featurestore[server]'")
    store = get_store(ctx)  # a bad repo or config fails here, with the CLI's error message
    store.close()
    repo = get_state(ctx).repo.resolve()
    os.environ["FEATURESTORE_REPO"] = str(repo)
    if workers > 1:
        _multiprocess_metrics()
    import uvicorn

    click.echo(f"Serving project {store.project!r} from {repo} on http://{host}:{port} (docs: /docs)", err=True)
    uvicorn.run(
        "server.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level.lower(),
        access_log=access_log,
        http="httptools" if _have("httptools") else "auto",
        loop="uvloop" if _have("uvloop") else "auto",
        lifespan="on",
    )
