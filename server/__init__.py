"""The HTTP server of featurestore (FastAPI): Feast-compatible online serving and writes, and the web UI.

``featurestore serve --repo PATH`` runs it with uvicorn; ``server.app.create_app(repo_path)``
builds the application. Only this package imports FastAPI: the ``featurestore`` library does not.
Modules: ``app`` (wiring, lifespan), ``routes_online`` / ``routes_write`` / ``routes_ops`` (endpoints),
``models`` (request bodies), ``lookup`` (lookups: key conversion, the awaited read, metrics),
``encoding`` (answers as bytes),
``frames`` (JSON ``df`` -> Arrow), ``catalog`` (``/features``), ``errors`` (library errors -> status
codes), ``limits``, ``auth``, ``metrics``, ``reload`` (registry polling), ``context``, ``prefix`` (serving
under a proxy path), and ``ui/`` (the web UI at ``/ui``; ``featurestore ui`` serves it alone).
"""

from server.app import create_app, create_app_from_env

__all__ = ["create_app", "create_app_from_env"]
