# syntax=docker/dockerfile:1
# --- build: resolve the locked environment with uv -------------------------------------------
FROM python:3.11-slim AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY src ./src
RUN uv sync --frozen --no-dev

# --- runtime: the venv and the code, as uid 1000 -----------------------------------------------
# DATA_DIR holds the audit log, its generated HMAC key and the state DB: the volume below. Audit is on
# by default; only AUDIT_LOG_FILE=off turns it off (and the start-up log says so). /app/ibkr holds the
# IBKR OAuth keys (written by scripts/ibkr_oauth_setup.py --dir /app/ibkr, rotated by the admin API):
# a second volume, owned by uid 1000 so the server can stage and swap keys in it.
FROM python:3.11-slim AS runtime
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=9000 \
    DATA_DIR=/app/data
RUN groupadd --gid 1000 cerbero && useradd --uid 1000 --gid 1000 --create-home --shell /usr/sbin/nologin cerbero
WORKDIR /app
COPY --from=build --chown=1000:1000 /app /app
COPY --chown=1000:1000 scripts/ibkr_oauth_setup.py ./scripts/ibkr_oauth_setup.py
RUN mkdir -p /app/data /app/ibkr && chown 1000:1000 /app/data /app/ibkr && chmod 700 /app/ibkr
USER 1000:1000
VOLUME ["/app/data", "/app/ibkr"]
EXPOSE 9000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"9000\")}/health', timeout=4)" || exit 1
CMD ["cerbero-mcp"]
