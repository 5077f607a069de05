"""The Quart application: the call WebSocket route, health, readiness and metrics.

Routes (``<prefix>`` defaults to ``/llm-websocket``):

* ``<prefix>[/<secret>][/<flow>]/<call_id>`` — the platform's WebSocket, one per call, served
  straight on ASGI (:mod:`engine.server.asgi`). When a secret is configured, a connection
  without the right one is refused with HTTP 403 before any call state is touched. Any query
  string is accepted and kept on the call.
* ``/healthz`` — the process is up. ``/readyz`` — the agent can take calls (503 with the
  reasons when it cannot: no flow loads, the default flow does not, too many call records
  wait for the call log, the server is stopping), with each flow's state (``ok``,
  ``degraded``, ``broken``), the call store's (a shared store that cannot be reached is
  ``degraded``: calls go on from memory) and the call log's (records whose write failed wait
  and are written later). ``/metrics`` — Prometheus text (whole across workers, see
  :mod:`engine.server.metrics`).
* ``POST /webhook`` — the platform's call events, signed; ``POST /webhook/inbound`` — the
  flow and variables of an inbound call (:mod:`engine.phone`).

Each call's record goes to the call log when the call ends (:mod:`engine.server.recording`).
When the server stops, calls are handed off (:mod:`engine.server.lifecycle`); with the memory
store they cannot go on anywhere else, so they are recorded as they are.

With ``DIALPLAN_CONSOLE_TOKEN`` set, the web console (:mod:`engine.console`) is mounted at
``/console`` and every session publishes its call to the console's live feed
(:mod:`engine.server.live`); without it there is no ``/console`` and nothing is published.
"""

from __future__ import annotations

import gc
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import structlog
from prometheus_client import CONTENT_TYPE_LATEST
from quart import Quart, Response

from engine import tracing
from engine.agent import Agent, CallInfo, Conversation, Resumable
from engine.console import LiveFeed, MemoryLiveFeed
from engine.flow import FlowAgent
from engine.flow.meaning import warm_up as warm_up_meaning
from engine.llm import ChatModel, model_configured
from engine.phone import PlatformHooks
from engine.project import Project
from engine.protocol import call_id_problem
from engine.records import CallLog
from engine.rollout.agent import RolloutAgent
from engine.settings import MIN_SECRET, Settings

from . import logs
from .admission import foreign_page, unprotected
from .asgi import AsgiSocket, CallRouter, Scope
from .hypercorn import set_compression
from .lifecycle import Calls
from .live import LivePublisher
from .metrics import Metrics
from .proxies import ForwardedHeaders
from .recording import Recorder
from .session import Session
from .stalls import StallWatch
from .store import CallState, CallStore, MemoryCallStore
from .versions import VersionKeeper

if TYPE_CHECKING:
    import openai

    from engine.flow.source import FlowSource
    from engine.llm import OpenAIChatModel

    from .redis_feed import RedisLiveFeed

log = structlog.get_logger("dialplan.server")

MAX_BODY_BYTES = 1024 * 1024
"""The largest body any HTTP request may carry (the platform's webhooks, the console's forms):
a bigger one is answered 413 before it is read, or as soon as it passes the cap. Quart's own
cap is 16 MiB, read whole before a webhook's signature could be checked. Call frames are
WebSocket messages, bounded by ``DIALPLAN_MAX_FRAME_BYTES`` instead."""

GC_THRESHOLDS = (7000, 20, 20)
"""The cycle collector's thresholds in a server process (Python's: 700, 10, 10)."""

AgentBuilder = Callable[[Settings, ChatModel | None], Agent]
"""Builds the process's agent once the event loop runs, with its model (``None``: no model)."""


@dataclass
class Runtime:
    """What one server process holds: settings, the agent, the calls, their store and log."""

    settings: Settings
    build_agent: AgentBuilder
    store: CallStore
    call_log: CallLog
    recorder: Recorder
    calls: Calls
    metrics: Metrics
    agent: Agent | None = None
    client: openai.AsyncOpenAI | None = None
    model: OpenAIChatModel | None = None
    platform: PlatformHooks | None = None
    feed: LiveFeed | None = None
    """The console's live feed (``None`` without the console)."""
    shared_feed: RedisLiveFeed | None = None
    """The same feed when it is shared through Redis (it has background work to start)."""
    stalls: StallWatch | None = None
    """Logs the loop's pauses, when ``DIALPLAN_STALL_MS`` asks for it."""


def project_agent(project: Project) -> AgentBuilder:
    """The agent of ``project`` (flows or the single prompt), checked now, built when serving.

    A broken prompt stops the start; a broken flow is reported (log and ``/readyz``) and never
    takes a call.
    """
    for error in project.setup_errors():
        log.error("server.setup_error", error=error)

    def build(settings: Settings, model: ChatModel | None) -> Agent:
        return project.agent(model, versions=_stored_versions(settings))

    return build


def _stored_versions(settings: Settings) -> Callable[[str], FlowSource | None] | None:
    """Finds a flow version the call log keeps (a rollout's candidate may be one)."""
    if not settings.database_url:
        return None
    url = settings.database_url

    def find(version: str) -> FlowSource | None:
        # Once per candidate version and process: a point read, when the rollout first
        # serves it (at start, or after the project file named it).
        from engine.records import Database, FlowVersions

        database = Database(url)
        try:
            database.migrate()
            return FlowVersions(database).get(version)
        except Exception as exc:  # the call log is down: the candidate waits, calls go stable
            log.warning("rollout.version_unreadable", version=version, error=str(exc))
            return None
        finally:
            database.close()

    return find


def open_store(settings: Settings) -> CallStore:
    """The call store ``DIALPLAN_STORE`` names: ``memory``, or a Redis URL.

    Raises :class:`~engine.server.redis_store.StoreError` for anything else.
    """
    if settings.store in ("", "memory"):
        return MemoryCallStore(settings.call_grace)
    from .redis_store import RedisCallStore  # redis is loaded only by a server that uses it

    return RedisCallStore(settings.store, settings.call_grace, settings.store_timeout)


def create_app(
    settings: Settings | None = None,
    build_agent: AgentBuilder | None = None,
    store: CallStore | None = None,
    feed: LiveFeed | None = None,
) -> Quart:
    """The dialplan ASGI app (usable directly as ``hypercorn 'engine.server:create_app()'``).

    ``store`` holds the calls' state (default: the one ``DIALPLAN_STORE`` names); ``feed`` is
    the console's live feed (default: this process's memory), used only when the console is on.
    """
    settings = settings or Settings()
    logs.configure(settings.log_level, settings.log_format)
    if build_agent is None:
        build_agent = project_agent(Project.from_settings(settings))
    call_log = CallLog(settings)
    metrics = Metrics()
    recorder = Recorder(call_log, metrics)
    store = store if store is not None else open_store(settings)
    console = settings.console_token is not None
    if console and feed is None:
        feed = _live_feed(settings, store)
    live = LivePublisher(feed) if console and feed is not None else None
    store.on_expire = _expired(recorder, live)  # past the grace period: the call is over
    calls = Calls(store, settings.idle_timeout, settings.drain_timeout)
    runtime = Runtime(
        settings,
        build_agent,
        store,
        call_log,
        recorder,
        calls,
        metrics,
        feed=feed if live else None,
        shared_feed=_shared(feed) if live else None,
    )
    set_compression(settings.compression)
    app = Quart("dialplan")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["dialplan"] = runtime
    secret = settings.secret.get_secret_value().encode() if settings.secret else None
    if live is not None and feed is not None:
        # The console's pages, templates and drawings are loaded only when it is on.
        from engine.console import ConsoleContext, console_blueprint

        context = ConsoleContext(settings, feed, lambda: runtime.agent, call_log.database)
        app.register_blueprint(console_blueprint(context))

    def flow_names() -> list[str] | None:
        agent = runtime.agent
        return agent.registry.names() if isinstance(agent, FlowAgent) else None

    runtime.platform = platform = PlatformHooks(settings, call_log, flow_names)
    app.register_blueprint(platform.blueprint)
    keeper = VersionKeeper(call_log)

    @app.before_serving
    async def start() -> None:
        tracing.from_environment()  # traces only with the otel extra and an OTLP endpoint
        if model_configured(settings):
            # The openai package (hundreds of modules, 14 MiB) is loaded only for a model.
            from engine.llm import make_client, make_model

            runtime.client = make_client(settings)
            if runtime.client is not None:
                runtime.model = make_model(settings, runtime.client)
        runtime.agent = runtime.build_agent(settings, runtime.model)
        await call_log.start()
        if isinstance(runtime.agent, FlowAgent):
            # Every version served is kept in the call log, to run again after an edit.
            runtime.agent.registry.compiled.append(keeper)
            for flow in runtime.agent.registry:
                keeper(flow)
        if isinstance(runtime.agent, RolloutAgent):
            recorder.rollout_of = runtime.agent.rollout_of
            for flow in runtime.agent.candidates():
                keeper(flow)
        await platform.start()
        await runtime.store.start(revive)
        if runtime.shared_feed is not None:
            await runtime.shared_feed.start()
        calls.start()
        if isinstance(runtime.agent, FlowAgent):
            runtime.agent.registry.extensions.slot_types.warm_up()
            warm_up_meaning()
        # Everything loaded so far lives as long as the process: keep it out of the cycle
        # collector's full passes, which otherwise stall every call at once under load.
        gc.collect()
        gc.freeze()
        # A call's state leaves no cycle behind, so what the collector finds is little, but its
        # passes cost every call a pause: at 1,000 calls the default thresholds (700, 10, 10)
        # ran 850 passes a minute, a full one of 160,000 objects mid-call that found nothing.
        gc.set_threshold(*GC_THRESHOLDS)
        if settings.stall_ms > 0:
            runtime.stalls = StallWatch(settings.stall_ms / 1000)
            runtime.stalls.start()
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
            console=live is not None,
            model=settings.model if runtime.client else None,
            records=call_log.database.where if call_log.database else None,
            webhook=call_log.webhook,
            store=store.health()["kind"],
        )
        if unprotected(settings):
            # Said loudly at every start: a secret path is the only lock the platform's
            # connection can carry (it sends no header and no signature).
            log.warning(
                "server.unprotected",
                host=settings.host,
                problem="no DIALPLAN_SECRET: anyone who reaches this address and finds the URL "
                "can drive calls and their actions",
                fix=f"set DIALPLAN_SECRET ({MIN_SECRET} characters or more) and put it in the "
                "platform's Custom LLM URL",
            )

    @app.after_serving
    async def stop() -> None:
        if runtime.stalls is not None:
            runtime.stalls.stop()
        await calls.stop()
        if not store.shared:
            for state in store.calls():
                recorder.ended(state)  # nothing collected is lost when the server stops
                if live is not None:
                    live.ended(state)
        if runtime.shared_feed is not None:
            await runtime.shared_feed.stop()  # its last snapshots; it closes its own client
        await store.stop()  # a shared store keeps the calls for whoever takes them next
        if feed is not None:
            feed.close()
        await platform.stop()
        await keeper.drain()
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

    async def refuse(socket: AsgiSocket, status: int, reason: str, text: str) -> None:
        metrics.refused.labels(str(status), reason).inc()
        await socket.refuse(status, text)

    async def call_socket(scope: Scope, socket: AsgiSocket) -> None:
        try:
            call = accepted(scope)
        except Refused as refused:
            log.warning("call.refused", status=refused.status, reason=refused.text)
            await refuse(socket, refused.status, refused.reason, refused.text)
            return
        except Exception:  # nothing a request holds may take the server down
            log.exception("call.refused", status=500)
            await refuse(socket, 500, "error", "internal error")
            return
        session = Session(socket, call, store, new_state, settings, metrics, recorder, live)
        calls.add(session)
        try:
            await session.run()
        finally:
            calls.discard(session)

    def accepted(scope: Scope) -> CallInfo:
        """The call a WebSocket request is for (raises :class:`Refused` if it is not taken)."""
        if calls.draining:
            raise Refused(503, "draining", "the server is stopping")
        segments = scope["path"][len(settings.path_prefix) + 1 :].split("/")
        if secret is not None:
            given = segments.pop(0).encode() if len(segments) > 1 else b""
            if not hmac.compare_digest(given, secret):
                raise Refused(403, "secret", "wrong or missing secret")
        if len(segments) not in (1, 2) or not all(segments):
            raise Refused(404, "path", "not found")
        problem = call_id_problem(segments[-1])
        if problem is not None:  # a call no record could hold (a NUL byte, too long)
            raise Refused(400, "call_id", problem)
        page = foreign_page(scope.get("headers") or (), console=live is not None)
        if page is not None:
            log.warning("call.refused_page", origin=page[:200])
            raise Refused(403, "origin", "web pages of other sites may not open calls")
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
        call = CallInfo(
            call_id=segments[-1],
            flow=segments[0] if len(segments) == 2 else None,
            query=dict(query),
        )
        if runtime.agent is None:
            raise Refused(503, "starting", "the server is starting")
        refusal = runtime.agent.accepts(call)
        if refusal is not None:
            raise Refused(404, "flow", refusal)
        return call

    # Quart calls `asgi_app` for every connection: the documented place for ASGI middleware.
    app.asgi_app = CallRouter(app.asgi_app, settings.path_prefix, call_socket)  # type: ignore[method-assign,assignment]
    if settings.trusted_proxies:  # the original request's client and scheme, for everything
        app.asgi_app = ForwardedHeaders(app.asgi_app, settings.trusted_proxies)  # type: ignore[method-assign,assignment]

    @app.get("/healthz")
    async def healthz() -> dict[str, object]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> tuple[dict[str, object], int]:
        problems = runtime.agent.problems() if runtime.agent else ["starting"]
        if call_log.problem:
            problems = [*problems, call_log.problem]
        if calls.draining:
            problems = [*problems, "the server is stopping"]
        body: dict[str, object] = {"ready": not problems, "problems": problems}
        body["calls"] = len(store)
        # A shared store that cannot be reached is no reason to take no calls: they go on
        # from memory and are saved once it answers.
        body["store"] = store.health()
        # Records that cannot be written wait and are written later: no reason to take no
        # calls, unless too many wait (then ``call_log.problem`` says so).
        body["records"] = call_log.health()
        if isinstance(runtime.agent, FlowAgent):
            body["flows"] = runtime.agent.report()
        return body, 200 if not problems else 503

    @app.get("/metrics")
    async def metrics_page() -> Response:
        return Response(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)

    return app


def _live_feed(settings: Settings, store: CallStore) -> LiveFeed:
    """The console's live feed: shared through Redis beside a shared store, else this process's.

    With calls in Redis any worker of any host may serve a call, and any one the page: the
    feed must be where they all are (:mod:`engine.server.redis_feed`).
    """
    if not store.shared:
        return MemoryLiveFeed()
    from .redis_feed import RedisLiveFeed  # redis is loaded only by a server that uses it
    from .redis_store import RedisCallStore

    if isinstance(store, RedisCallStore):
        link = store.link  # the feed's own connections: a save never waits behind the console
        return RedisLiveFeed(link.client(), link.instance, settings.store_timeout)
    return MemoryLiveFeed()


def _shared(feed: LiveFeed | None) -> RedisLiveFeed | None:
    """``feed`` if it is shared through Redis (then its module is loaded already)."""
    if feed is None or isinstance(feed, MemoryLiveFeed):
        return None
    from .redis_feed import RedisLiveFeed

    return feed if isinstance(feed, RedisLiveFeed) else None


def _expired(recorder: Recorder, live: LivePublisher | None) -> Callable[[CallState], None]:
    """What happens when a call's state expires: its record, and its end on the console."""
    if live is None:
        return recorder.ended

    def expired(state: CallState) -> None:
        recorder.ended(state)
        live.ended(state)

    return expired


class Refused(Exception):
    """A call WebSocket that is answered with an HTTP error instead of being accepted."""

    def __init__(self, status: int, reason: str, text: str) -> None:
        super().__init__(text)
        self.status, self.reason, self.text = status, reason, text


async def drain(app: Quart) -> None:
    """Stop taking calls and hand every call off (see :mod:`engine.server.lifecycle`)."""
    await runtime_of(app).calls.drain()


def runtime_of(app: Quart) -> Runtime:
    """The :class:`Runtime` of an app made by :func:`create_app`."""
    runtime: Runtime = app.extensions["dialplan"]
    return runtime
