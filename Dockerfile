# syntax=docker/dockerfile:1
#
# salesgraph's container image: the GraphQL server on port 8000, as a non-root user.
#
#   docker build -t salesgraph .
#   docker run --rm -p 8000:8000 \
#       -e SALESGRAPH_DATABASE_URL=postgresql://user:password@db-host:5432/salesgraph salesgraph
#
# Set SALESGRAPH_DATABASE_URL: the image has no embedded PostgreSQL (its data would live and die
# with the container). On start the container migrates the database to the latest revision,
# then serves with production settings: JSON logs, no introspection without a key, all
# interfaces. Every SALESGRAPH_* variable is documented in the README ("Operations").

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: build salesgraph's wheel and install it, with its dependencies, into a venv ---
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv

WORKDIR /build
# README.md is the package's long description (pyproject.toml's `readme`).
COPY pyproject.toml README.md ./
COPY src ./src
# A regular (non-editable) install: the package lives in the venv's site-packages, so the
# migrations are found in the working folder of the runtime stage, not next to src/.
# pgserver (the embedded PostgreSQL for a local start, ~35 MB of server binaries), setuptools
# and pip itself have no use in the image.
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /build/dist . \
    && /opt/venv/bin/pip install /build/dist/salesgraph-*.whl \
    && /opt/venv/bin/pip uninstall --yes pgserver setuptools pip

# --- runtime: the venv, the migrations and a non-root user; no build tools, no sources ---
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SALESGRAPH_LOG_FORMAT=json \
    SALESGRAPH_PUBLIC_INTROSPECTION=false \
    SALESGRAPH_SHUTDOWN_TIMEOUT=25

RUN groupadd --system --gid 10001 salesgraph \
    && useradd --system --uid 10001 --gid salesgraph --no-create-home \
        --home-dir /app --shell /usr/sbin/nologin salesgraph

COPY --from=builder /opt/venv /opt/venv

# salesgraph looks for Alembic's migrations/ in the current folder (Path.cwd() / "migrations")
# when it is not run from a source checkout, so the working folder holds them.
WORKDIR /app
COPY migrations ./migrations

USER salesgraph

EXPOSE 8000

# No curl in the slim image: the venv's Python asks /healthz (the process is up and serving).
# /readyz also checks the database and its migrations; use it for a load balancer's readiness.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4); sys.exit(0 if r.status == 200 else 1)"]

# Migrate first (a failure stops the container with the reason in its log), then serve. `exec`
# makes the server PID 1, so the runtime's SIGTERM reaches it: it stops accepting connections
# and lets in-flight requests finish (SALESGRAPH_SHUTDOWN_TIMEOUT; keep it below the runtime's
# stop timeout, e.g. Docker's 10 s default: `docker stop -t 30`, or Kubernetes'
# terminationGracePeriodSeconds).
CMD ["sh", "-c", "salesgraph migrate && exec salesgraph serve --host 0.0.0.0 --port 8000"]
