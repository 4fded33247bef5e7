# syntax=docker/dockerfile:1
# clubgraph: build the wheels in one stage, run them non-root in a slim one.
#   docker build -t clubgraph .
#   docker run -p 8000:8000 clubgraph          # GraphiQL over the embedded sandbox
#   docker run -p 8000:8000 -e CLUBGRAPH_WORKERS=4 -e CLUBGRAPH_FITNESSFORCE_URL=... clubgraph
# tests/test_image.py runs this image's start command, environment and health check
# outside a container.

FROM python:3.11-slim AS build
WORKDIR /src
# Only what the wheel is built from: a change elsewhere does not rebuild it.
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip install --no-cache-dir --upgrade pip \
 && python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CLUBGRAPH_HOST=0.0.0.0 \
    CLUBGRAPH_PORT=8000 \
    CLUBGRAPH_WORKERS=1 \
    CLUBGRAPH_SHUTDOWN_TIMEOUT=25 \
    CLUBGRAPH_STATE_DB=/app/state/state.sqlite3 \
    CLUBGRAPH_CLUBCOLLECT_INDEX=/app/state/clubcollect-index.sqlite3
RUN useradd --system --uid 10001 --home-dir /app --create-home clubgraph \
 && mkdir -p /app/state && chown clubgraph /app/state
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001
WORKDIR /app
# The idempotency keys, the webhook journal and the ClubCollect index: mount a volume
# to keep them across restarts of one replica.
VOLUME ["/app/state"]
EXPOSE 8000
# SIGTERM: stop accepting, end subscriptions, finish requests in flight (up to
# CLUBGRAPH_SHUTDOWN_TIMEOUT seconds); an orchestrator's grace period should be longer.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('CLUBGRAPH_PORT', '8000')}/healthz\", timeout=2)"]
# Exec form: clubgraph runs as PID 1 and receives SIGTERM itself.
ENTRYPOINT ["clubgraph"]
CMD ["serve"]
