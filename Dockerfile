# dialplan in a small image: the package in a virtual environment, run as a user of its own.
#   docker build -t dialplan .
#   docker run -p 8080:8080 -e DIALPLAN_SECRET=... -e DIALPLAN_STORE=redis://redis:6379/0 dialplan
# It listens on every address, so it refuses to start without DIALPLAN_SECRET (16 characters or
# more, also in the platform's URL); -e DIALPLAN_REQUIRE_SECRET=false serves calls to anyone who
# finds the URL, and every start then says so in a warning.
# Your flows and prompts replace the examples: mount them on /srv/dialplan/flows and
# /srv/dialplan/prompts (or COPY them in an image built FROM this one), and name the flow for
# calls whose URL names none with -e DIALPLAN_FLOW=<flow> (the examples: clinic_intake).
# Stop it with time to drain: `docker stop -t 30` (compose: stop_grace_period: 30s).

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md requirements/runtime.txt ./
COPY engine ./engine
# Every package from the lock (pinned, with hashes); then dialplan itself, built with the
# locked setuptools.
RUN python -m venv /opt/dialplan \
    && /opt/dialplan/bin/pip install --no-cache-dir --no-deps --require-hashes -r runtime.txt \
    && /opt/dialplan/bin/pip install --no-cache-dir --no-deps --no-build-isolation . \
    && find /opt/dialplan -name '__pycache__' -prune -exec rm -rf {} +

FROM python:3.11-slim
RUN useradd --system --uid 10001 --user-group --home-dir /srv/dialplan --create-home dialplan
COPY --from=build /opt/dialplan /opt/dialplan
WORKDIR /srv/dialplan
COPY --chown=dialplan:dialplan flows ./flows
COPY --chown=dialplan:dialplan prompts ./prompts
USER dialplan
ENV PATH=/opt/dialplan/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DIALPLAN_HOST=0.0.0.0 \
    DIALPLAN_REQUIRE_SECRET=true \
    DIALPLAN_PORT=8080 \
    DIALPLAN_LOG_FORMAT=json \
    DIALPLAN_FLOW=clinic_intake
EXPOSE 8080
# Liveness only (/healthz): /readyz says 503 while the server drains, which is no reason to
# restart it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('DIALPLAN_PORT', '8080')}/healthz\", timeout=2)"]
STOPSIGNAL SIGTERM
CMD ["dialplan", "serve"]
