# syntax=docker/dockerfile:1
# One image for every agentq service: the API (which also serves the web UI) and the
# workers. compose.yaml picks the process with `command:`.
#
#   docker build -t agentq:0.1.0 .
#   docker run --rm -e REDIS_URL=redis://host:6379/0 agentq:0.1.0 python -m src.worker

# Base images pinned by digest (the multi-platform index, so every architecture
# resolves), each with the tag it was read from. The tag alone names a moving target:
# a rebuild must not change what it builds on. To update, read the tag's current
# digest (`docker buildx imagetools inspect node:20-bookworm-slim`) and replace both.
#   node:20-bookworm-slim      Node 20.20.0, Debian 12, built 2026-01-14
#   python:3.11-slim-bookworm  Python 3.11.16, Debian 12, built 2026-08-25
ARG NODE_IMAGE=node:20-bookworm-slim@sha256:6c51af7dc83f4708aaac35991306bca8f478351cfd2bda35750a62d7efcf05bb
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:fe556eaffd0d96abd8685b83bb8a69addd0dc730fa193669a7df0d49ddcfac02

# --- 1. web: the Next.js UI exported as static files (web/out) -----------------------
FROM ${NODE_IMAGE} AS web
ENV NEXT_TELEMETRY_DISABLED=1
WORKDIR /build/web
# The lock file alone decides the dependency layer, so code edits reuse it.
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# --- 2. python: the project and its dependencies in a virtualenv --------------------
FROM ${PYTHON_IMAGE} AS python
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src/ ./src/
# A regular (not editable) install: the runtime stage needs /opt/venv only.
RUN /opt/venv/bin/pip install . \
 && /opt/venv/bin/pip uninstall -y pip

# --- 3. runtime: slim Python, no compilers, no pip, a non-root user -----------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AGENTQ_WEB_DIR=/app/web/out
RUN groupadd --system --gid 10001 agentq \
 && useradd --system --uid 10001 --gid agentq --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin agentq
COPY --from=python /opt/venv /opt/venv
WORKDIR /app
# The API serves the UI from AGENTQ_WEB_DIR (set above).
COPY --from=web /build/web/out ./web/out
USER agentq:agentq
EXPOSE 8000
# The API by default; compose runs the workers from the same image with
# `python -m src.worker`.
CMD ["uvicorn", "src.api.app:app", "--host", "0.0.0.0", "--port", "8000"]
