"""The Quart application: the call WebSocket route, health, readiness and metrics.

Routes (``<prefix>`` defaults to ``/llm-websocket``):

* ``<prefix>[/<secret>][/<flow>]/<call_id>`` — the platform's WebSocket, one per call, served
  straight on ASGI (:mod:`engine.server.asgi`). When a secret is configured, a connection
  without the right one is refused with HTTP 403 before any call state is touched. Any query
  string is accepted and kept on the call.
* ``/healthz`` — the process is up. ``/readyz`` — the agent can take calls (503 with the
  reasons when it cannot: no flow loads, the default flow does not, the call log cannot be
  written), with each flow's state (``ok``, ``degraded``, ``broken``). ``/metrics`` —
  Prometheus text.

Each call's record goes to the call log when the call ends (:mod:`engine.server.recording`);
calls still known when the server stops are recorded as they are.
"""

from __future__ import annotations

import gc
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import openai
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Quart, Response

from engine.agent import Agent, CallInfo, Conversation, Resumable
from engine.flow import FlowAgent
from engine.llm import ChatModel, OpenAIChatModel, make_client, make_model
from engine.project import Project
from engine.records import CallLog
from engine.settings import Settings

from . import logs
from .asgi import AsgiSocket, CallRouter, Scope
from .hypercorn import set_compression
from .metrics import Metrics
from .recording import Recorder
from .session import Session
from .store import CallState, CallStore, MemoryCallStore

log = structlog.get_logger("dialplan.server")

AgentBuilder = Callable[[Settings, ChatModel | None], Agent]
"""Builds the process's agent once the event loop runs, with its model (``None``: no model)."""


@dataclass
class Runtime:
    """What one server process holds: settings, the agent, the call store and log, metrics."""

    settings: Settings
    build_agent: AgentBuilder
    store: CallStore
    call_log: CallLog
    recorder: Recorder
    metrics: Metrics = field(default_factory=Metrics)
    agent: Agent | None = None
    client: openai.AsyncOpenAI | None = None
    model: OpenAIChatModel | None = None


def project_agent(project: Project) -> AgentBuilder:
    """The agent of ``project`` (flows or the single prompt), checked now, built when serving.

    A broken prompt stops the start; a broken flow is reported (log and ``/readyz``) and never
    takes a call.
    """
    for error in project.setup_errors():
        log.error("server.setup_error", error=error)

    def build(settings: Settings, model: ChatModel | None) -> Agent:
        return project.agent(model)

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
    call_log = CallLog(settings)
    recorder = Recorder(call_log)
    store = store or MemoryCallStore(settings.call_grace)
    store.on_expire = recorder.ended  # past the grace period: the call is over
    runtime = Runtime(settings, build_agent, store, call_log, recorder)
    set_compression(settings.compression)
    app = Quart("dialplan")
    app.extensions["dialplan"] = runtime
    secret = settings.secret.get_secret_value().encode() if settings.secret else None

    @app.before_serving
    async def start() -> None:
        runtime.client = make_client(settings)
        if runtime.client is not None:
            runtime.model = make_model(settings, runtime.client)
        runtime.agent = runtime.build_agent(settings, runtime.model)
        await call_log.start()
        await runtime.store.start(revive)
        if isinstance(runtime.agent, FlowAgent):
            runtime.agent.registry.extensions.slot_types.warm_up()
        # Everything loaded so far lives as long as the process: keep it out of the cycle
        # collector's full passes, which otherwise stall every call at once under load.
        gc.collect()
        gc.freeze()
        for problem in runtime.agent.problems():
            log.warning("server.not_ready", problem=problem)
        if isinstance(runtime.agent, FlowAgent):
            for entry in runtime.agent.report():
                if entry["state"] != "ok":
                    log.warning(
                        f"flow.{entry['state']}", flow=entry["flow"], problems=entry["problems"]
                    )
        log.info(
            "server.started",
            prefix=settings.path_prefix or "/",
            secret=secret is not None,
            model=settings.model if runtime.client else None,
            records=call_log.database.where if call_log.database else None,
            webhook=call_log.webhook,
        )

    @app.after_serving
    async def stop() -> None:
        for state in runtime.store.calls():
            recorder.ended(state)  # nothing collected is lost when the server stops
        await call_log.stop()
        if runtime.model is not None:
            await runtime.model.aclose()
        if runtime.client is not None:
            await runtime.client.close()

    def new_state(call: CallInfo) -> CallState:
        assert runtime.agent is not None  # set before serving starts
        return CallState(call, runtime.agent.start(call))

    def revive(call: CallInfo, snapshot: Mapping[str, Any] | None) -> Conversation:
        agent = runtime.agent
        assert agent is not None  # set before serving starts
        if snapshot is not None and isinstance(agent, Resumable):
            return agent.resume(call, snapshot)
        return agent.start(call)

    async def call_socket(scope: Scope, socket: AsgiSocket) -> None:
        segments = scope["path"][len(settings.path_prefix) + 1 :].split("/")
        if secret is not None:
            given = segments.pop(0).encode() if len(segments) > 1 else b""
            if not hmac.compare_digest(given, secret):
                log.warning("call.refused", reason="wrong or missing secret")
                await socket.refuse(403, "forbidden")
                return
        if len(segments) not in (1, 2) or not all(segments):
            await socket.refuse(404, "not found")
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
        call = CallInfo(
            call_id=segments[-1],
            flow=segments[0] if len(segments) == 2 else None,
            query=dict(query),
        )
        assert runtime.agent is not None  # set before serving starts
        refusal = runtime.agent.accepts(call)
        if refusal is not None:
            log.warning("call.refused", reason=refusal)
            await socket.refuse(404, refusal)
            return
        session = Session(
            socket, call, runtime.store, new_state, settings, runtime.metrics, recorder
        )
        await session.run()

    # Quart calls `asgi_app` for every connection: the documented place for ASGI middleware.
    app.asgi_app = CallRouter(app.asgi_app, settings.path_prefix, call_socket)  # type: ignore[method-assign,assignment]

    @app.get("/healthz")
    async def healthz() -> dict[str, object]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> tuple[dict[str, object], int]:
        problems = runtime.agent.problems() if runtime.agent else ["starting"]
        if call_log.problem:
            problems = [*problems, call_log.problem]
        body: dict[str, object] = {"ready": not problems, "problems": problems}
        body["calls"] = len(runtime.store)
        if isinstance(runtime.agent, FlowAgent):
            body["flows"] = runtime.agent.report()
        return body, 200 if not problems else 503

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(runtime.metrics.registry), content_type=CONTENT_TYPE_LATEST)

    return app


def runtime_of(app: Quart) -> Runtime:
    """The :class:`Runtime` of an app made by :func:`create_app`."""
    runtime: Runtime = app.extensions["dialplan"]
    return runtime
