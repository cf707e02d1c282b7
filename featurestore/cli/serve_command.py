"""``featurestore serve`` (the HTTP feature server) and ``featurestore ui`` (its web UI alone), on uvicorn.

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

root_path_option = click.option(
    "--root-path", default="", show_default=False, metavar="PREFIX",
    help="The path prefix a reverse proxy serves this under (e.g. /features), when it strips it; a trusted "
         "proxy can send X-Forwarded-Prefix instead (server.trusted_proxies).")


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
@root_path_option
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int, log_level: str, access_log: bool,
          root_path: str) -> None:
    """Serve features over HTTP (Feast-compatible endpoints, docs at /docs, the web UI at /ui).

    \b
    Endpoints: POST /get-online-features, /v1/online, /push, /write-to-online-store,
    /materialize, /materialize-incremental; GET /features, /health, /ready, /metrics, /docs, /ui.
    The registry is re-read within server.registry_poll_seconds after 'featurestore apply'.
    """
    _run(ctx, host, port, workers, log_level, access_log, root_path, ui_only=False)


@main.command()
@repo_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: all).")
@click.option("--port", default=6567, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(LOG_LEVELS, case_sensitive=False))
@root_path_option
@click.pass_context
def ui(ctx: click.Context, host: str, port: int, log_level: str, root_path: str) -> None:
    """Open the web UI of a repo on this machine: a read-only server with just the UI and its JSON.

    \b
    No lookups or writes are served (that is 'featurestore serve', which serves the UI at /ui too).
    API keys configured in featurestore.yaml apply as on 'serve'.
    """
    _run(ctx, host, port, 1, log_level, False, root_path, ui_only=True)


def _run(ctx: click.Context, host: str, port: int, workers: int, log_level: str, access_log: bool,
         root_path: str, ui_only: bool) -> None:
    if not (_have("uvicorn") and _have("fastapi") and _have("jinja2")):
        raise click.ClickException("the server needs the 'server' extra: pip install 'featurestore[server]'")
    prefix = root_path.rstrip("/")
    if prefix and (not prefix.startswith("/") or any(c in prefix for c in "?#\"\\'<> ")):
        raise click.BadParameter(f"{root_path!r} is not a path such as /features", param_hint="--root-path")
    store = get_store(ctx)  # a bad repo or config fails here, with the CLI's error message
    store.close()
    repo = get_state(ctx).repo.resolve()
    os.environ["FEATURESTORE_REPO"] = str(repo)
    os.environ["FEATURESTORE_UI_ONLY"] = "1" if ui_only else "0"
    if workers > 1:
        _multiprocess_metrics()
    import uvicorn

    what = "the web UI of project" if ui_only else "project"
    where = f"http://{host}:{port}{prefix}"
    click.echo(f"Serving {what} {store.project!r} from {repo} on {where} (UI: {where}/ui"
               + ("" if ui_only else f", docs: {where}/docs") + ")", err=True)
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
        root_path=prefix,
    )
