"""The Quart application: the call WebSocket route, health, readiness and metrics.

Routes (``<prefix>`` defaults to ``/llm-websocket``):

* ``<prefix>[/<secret>][/<flow>]/<call_id>`` — the platform's WebSocket, one per call. When a
  secret is configured, a connection without the right one is refused with HTTP 403 before any
  call state is touched. Any query string is accepted and kept on the call.
* ``/healthz`` — the process is up. ``/readyz`` — the agent can do its job (503 with the
  reasons when it cannot, e.g. no model configured). ``/metrics`` — Prometheus text.
"""

from __future__ import annotations

import gc
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field

import openai
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Quart, Response, websocket

from engine.agent import Agent, CallInfo
from engine.flow import FlowAgent
from engine.flow.meaning import warm_up as warm_up_meaning
from engine.llm import make_client, make_model
from engine.project import Project
from engine.settings import Settings

from . import logs
from ._quart import DirectASGIWebsocketConnection, DirectWebsocket
from .hypercorn import set_compression
from .metrics import Metrics
from .session import Session
from .store import CallState, CallStore, MemoryCallStore

log = structlog.get_logger("dialplan.server")

AgentBuilder = Callable[[Settings, openai.AsyncOpenAI | None], Agent]
"""Builds the process's agent once the event loop runs (the model client binds to it)."""


@dataclass
class Runtime:
    """What one server process holds: settings, the agent, the call store, metrics."""

    settings: Settings
    build_agent: AgentBuilder
    store: CallStore
    metrics: Metrics = field(default_factory=Metrics)
    agent: Agent | None = None
    client: openai.AsyncOpenAI | None = None


def project_agent(project: Project) -> AgentBuilder:
    """The agent of ``project`` (flows or the single prompt), checked now, built when serving.

    A broken prompt stops the start; a broken flow is reported (log and ``/readyz``) and never
    takes a call.
    """
    for error in project.setup_errors():
        log.error("server.setup_error", error=error)

    def build(settings: Settings, client: openai.AsyncOpenAI | None) -> Agent:
        return project.agent(make_model(settings, client) if client else None)

    return build


def create_app(
    settings: Settings | None = None,
    build_agent: AgentBuilder | None = None,
    store: CallStore | None = None,
) -> Quart:
    """The dialplan ASGI app (usable directly as ``hypercorn 'engine.server:create_app()'``)."""
    settings = settings or Settings()
    logs.configure(settings.log_level, settings.log_format)
    if build_agent is None:
        build_agent = project_agent(Project.from_settings(settings))
    runtime = Runtime(settings, build_agent, store or MemoryCallStore(settings.call_grace))
    set_compression(settings.compression)
    app = Quart("dialplan")
    app.websocket_class = DirectWebsocket
    app.asgi_websocket_class = DirectASGIWebsocketConnection
    app.extensions["dialplan"] = runtime
    secret = settings.secret.get_secret_value().encode() if settings.secret else None

    @app.before_serving
    async def start() -> None:
        runtime.client = make_client(settings)
        runtime.agent = runtime.build_agent(settings, runtime.client)
        if isinstance(runtime.agent, FlowAgent):
            runtime.agent.registry.extensions.slot_types.warm_up()
            warm_up_meaning()
        # Everything loaded so far lives as long as the process: keep it out of the cycle
        # collector's full passes, which otherwise stall every call at once under load.
        gc.collect()
        gc.freeze()
        for problem in runtime.agent.problems():
            log.warning("server.not_ready", problem=problem)
        log.info(
            "server.started",
            prefix=settings.path_prefix or "/",
            secret=secret is not None,
            model=settings.model if runtime.client else None,
        )

    @app.after_serving
    async def stop() -> None:
        if runtime.client is not None:
            await runtime.client.close()

    def new_state(call: CallInfo) -> CallState:
        assert runtime.agent is not None  # set before serving starts
        return CallState(call, runtime.agent.start(call))

    @app.websocket(f"{settings.path_prefix}/<path:rest>")
    async def call_socket(rest: str) -> Response | None:
        segments = rest.split("/")
        if secret is not None:
            given = segments.pop(0).encode() if len(segments) > 1 else b""
            if not hmac.compare_digest(given, secret):
                log.warning("call.refused", reason="wrong or missing secret")
                return Response("forbidden", status=403)
        if len(segments) not in (1, 2) or not all(segments):
            return Response("not found", status=404)
        call = CallInfo(
            call_id=segments[-1],
            flow=segments[0] if len(segments) == 2 else None,
            query=dict(websocket.args.items()),
        )
        assert runtime.agent is not None  # set before serving starts
        refusal = runtime.agent.accepts(call)
        if refusal is not None:
            log.warning("call.refused", reason=refusal)
            return Response(refusal, status=404)
        session = Session(
            websocket._get_current_object(),  # type: ignore[attr-defined]  # werkzeug proxy
            call,
            runtime.store,
            new_state,
            settings,
            runtime.metrics,
        )
        await session.run()
        return None

    @app.get("/healthz")
    async def healthz() -> dict[str, object]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> tuple[dict[str, object], int]:
        problems = runtime.agent.problems() if runtime.agent else ["starting"]
        body: dict[str, object] = {"ready": not problems, "problems": problems}
        body["calls"] = len(runtime.store)
        return body, 200 if not problems else 503

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(runtime.metrics.registry), content_type=CONTENT_TYPE_LATEST)

    return app


def runtime_of(app: Quart) -> Runtime:
    """The :class:`Runtime` of an app made by :func:`create_app`."""
    runtime: Runtime = app.extensions["dialplan"]
    return runtime
