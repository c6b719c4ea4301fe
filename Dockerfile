# Nanum: one image for the API (default command), the worker and the migrations.
#
#   docker build -t nanum .
#   docker run --env-file prod.env nanum                                   # API on :8000
#   docker run --env-file prod.env nanum python -m workers  # worker
#   docker run --env-file prod.env nanum python -m booking migrate         # migrations
#
# docker-compose.yml wires these to PostgreSQL and Redis. Settings: BOOKING_* (see README).
ARG PYTHON_IMAGE=python:3.11-slim

# ---- dependencies, from uv.lock only (so code changes do not re-install them)
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project --python /usr/local/bin/python3

# ---- the pages' assets: locked npm packages (KRDS, htmx, Swagger UI), then the same build step
# as `make install` (fingerprinted, compressed, the typeface subset); fontTools and brotli are
# build-time (dev) dependencies, so they stay in this stage.
FROM node:20-slim AS npm
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

FROM deps AS assets
RUN uv sync --frozen --no-install-project --python /usr/local/bin/python3
COPY --from=npm /app/node_modules /app/node_modules
COPY booking /app/booking
COPY schemas /app/schemas
RUN PYTHONPATH=/app /app/.venv/bin/python -m booking.web.build_assets

# ---- runtime
FROM ${PYTHON_IMAGE}
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BOOKING_WEB_CONCURRENCY=2
RUN groupadd --system --gid 10001 nanum \
 && useradd --system --uid 10001 --gid nanum --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin nanum
WORKDIR /app
COPY --from=deps /app/.venv /app/.venv
# .dockerignore lets in only booking/ schemas/ workers/ sql/ data/ (and the lock files).
# The code stays owned by root: the app user can read it, not change it.
COPY . /app/
COPY --from=assets /app/booking/web/static/build /app/booking/web/static/build
RUN python -m compileall -q booking schemas workers
USER nanum
EXPOSE 8000
# Shell form only to expand BOOKING_WEB_CONCURRENCY; exec makes uvicorn PID 1 (gets SIGTERM).
# The app decides the client address itself: behind a proxy, set BOOKING_TRUSTED_PROXIES to its
# address; uvicorn must not rewrite the peer from X-Forwarded-For (--no-proxy-headers).
CMD ["sh", "-c", "exec uvicorn booking.app:create_app --factory --host 0.0.0.0 --port 8000 --workers \"${BOOKING_WEB_CONCURRENCY:-2}\" --loop uvloop --http httptools --no-access-log --no-proxy-headers"]
