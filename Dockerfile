# syntax=docker/dockerfile:1
# The featurestore HTTP server with the example feature repo (definitions/).
#
#   docker build -t featurestore .
#   docker run --rm -p 6566:6566 featurestore                      # serve /app/definitions
#   docker run --rm featurestore generate-data --repo /app/definitions   # any CLI command
#
# `docker compose up` (docker-compose.yml) generates the example data, applies and
# materializes it into Redis, then serves it.

# --- build: install the package and its server extra into a virtualenv -------------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

WORKDIR /src
COPY pyproject.toml README.md ./
COPY featurestore/ featurestore/
COPY server/ server/
# Installs this source tree (not a registry package), so there is no version to pin.
# hadolint ignore=DL3013
RUN pip install ".[server]"

# --- runtime ------------------------------------------------------------------------------------
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH="/opt/venv/bin:$PATH" \
    FEATURESTORE_REPO=/app/definitions

RUN groupadd --system --gid 10001 featurestore \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin featurestore

COPY --from=build /opt/venv /opt/venv

# The example repo; its data/ folder (registry, online SQLite store, generated sources) is
# created empty here, owned by the runtime user, and is where a volume is mounted in compose.
COPY --chown=10001:10001 definitions/ /app/definitions/
RUN mkdir -p /app/definitions/data && chown 10001:10001 /app/definitions/data

WORKDIR /app/definitions
USER 10001:10001

EXPOSE 6566

HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:6566/health', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["featurestore"]
CMD ["serve", "--repo", "/app/definitions", "--host", "0.0.0.0", "--port", "6566"]
