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
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import openai
import structlog
from hypercorn.config import Config as HypercornConfig
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Quart, Response, websocket

from . import logs, slots
from ._hypercorn import set_compression
from ._quart import DirectASGIWebsocketConnection, DirectWebsocket
from .actions import ActionRunner
from .agent import Agent, CallInfo
from .errors import DialplanError
from .flows import FlowAgent, FlowRegistry
from .llm import make_client, make_model
from .loader import flow_files
from .metrics import Metrics
from .prompt_agent import PromptAgent, prompt_agent_spec
from .prompts import make_environment
from .session import Session
from .settings import Settings
from .store import CallState, CallStore, MemoryCallStore
from .voice import VOICE_FILTERS

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


def agent_builder(settings: Settings) -> AgentBuilder:
    """The agent ``settings`` ask for: flows (when there are any) or the single prompt.

    Flows and templates are loaded and checked here, before the server starts. A broken prompt
    stops the start; a broken flow is reported (log and ``/readyz``) and never takes a call.
    """
    if _agent_kind(settings) == "prompt":
        return prompt_agent_builder(settings)
    return flow_agent_builder(settings)


def _agent_kind(settings: Settings) -> str:
    for module in settings.plugins:
        importlib.import_module(module)  # registers the module's actions
    if settings.agent != "auto":
        return settings.agent
    has_flows = settings.flows_dir.is_dir() and bool(flow_files([settings.flows_dir]))
    return "flow" if has_flows else "prompt"


def setup_errors(settings: Settings) -> list[str]:
    """What would keep the configured agent from working: broken prompts or flow files."""
    try:
        if _agent_kind(settings) == "prompt":
            prompt_agent_builder(settings)
            return []
    except DialplanError as exc:
        return [str(exc)]
    env = make_environment(settings.prompts_dir, VOICE_FILTERS)
    registry = FlowRegistry(settings.flows_dir, env, settings.prompts_dir)
    return [str(error) for error in registry.load_all()]


def flow_agent_builder(settings: Settings) -> AgentBuilder:
    """Flows from ``settings.flows_dir``; see :func:`agent_builder`."""
    env = make_environment(settings.prompts_dir, VOICE_FILTERS)
    registry = FlowRegistry(settings.flows_dir, env, settings.prompts_dir)
    for error in registry.load_all():
        log.error("flow.invalid", error=str(error))

    def build(settings: Settings, client: openai.AsyncOpenAI | None) -> Agent:
        model = make_model(settings, client) if client else None
        return FlowAgent(registry, model, settings.flow, ActionRunner)

    return build


def prompt_agent_builder(settings: Settings) -> AgentBuilder:
    """The single system prompt of ``settings.prompt``; see :func:`agent_builder`."""
    env = make_environment(settings.prompts_dir, VOICE_FILTERS)
    spec = prompt_agent_spec(
        env, settings.prompt, settings.greeting, settings.reminder_line, settings.fallback_line
    )

    def build(settings: Settings, client: openai.AsyncOpenAI | None) -> Agent:
        return PromptAgent(spec, make_model(settings, client) if client else None)

    return build


def create_app(
    settings: Settings | None = None,
    build_agent: AgentBuilder | None = None,
    store: CallStore | None = None,
) -> Quart:
    """The dialplan ASGI app (usable directly as ``hypercorn 'engine.server:create_app()'``)."""
    settings = settings or Settings()
    logs.configure(settings.log_level, settings.log_format)
    runtime = Runtime(
        settings,
        build_agent or agent_builder(settings),
        store or MemoryCallStore(settings.call_grace),
    )
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
            slots.warm_up()
        # Everything loaded so far lives as long as the process: keep it out of the cycle
        # collector's full passes, which otherwise stall every call at once under load.
        gc.collect()
        gc.freeze()
        problems = runtime.agent.problems()
        for problem in problems:
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


def hypercorn_config(settings: Settings) -> HypercornConfig:
    """A hypercorn configuration serving ``settings`` (bind address, frame size limit)."""
    config = HypercornConfig()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.websocket_max_message_size = settings.max_frame_bytes
    config.graceful_timeout = 5.0
    config.loglevel = settings.log_level
    # A logger (not a stream) makes hypercorn log through ours instead of adding its own
    # stderr handler next to it, which printed every line twice.
    config.errorlog = logging.getLogger("hypercorn.error")
    return config


def runtime_of(app: Quart) -> Runtime:
    """The :class:`Runtime` of an app made by :func:`create_app`."""
    runtime: Runtime = app.extensions["dialplan"]
    return runtime
