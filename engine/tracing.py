"""Traces of calls (OpenTelemetry): a span per turn, with the model request and actions in it.

On only where the ``otel`` extra is installed (``pip install 'dialplan[otel]'``: the API,
the SDK and the OTLP exporter) and ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or its traces variant)
names a collector; the exporter reads the rest of the standard ``OTEL_*`` variables itself
(headers, service name, sampling). Otherwise nothing is imported and every span here is a
no-op that costs one branch, so a server without the extra runs exactly as before.

What is traced, following OpenTelemetry's semantic conventions where they exist:

* ``dialplan.turn`` (internal): one request of the platform and the agent's answer. Its
  attributes say the state before and after, how the caller was understood (the kinds and
  names of what was understood and by what: ``slot full_name by parser``; never a value,
  which is the caller's personal data), whether the model was asked, the first-speech
  latency and how the turn ended.
* ``chat <model>`` (client): the model request, with the ``gen_ai.*`` attributes of the
  GenAI conventions (operation, provider, request model and settings, token usage, finish).
* ``execute_tool <action>`` (internal): an action the flow ran (``gen_ai.tool.name``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import structlog

log = structlog.get_logger("dialplan.tracing")

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
TRACER = "dialplan"

AttributeValue = str | bool | int | float | Sequence[str]


class Span(Protocol):
    """What the code here does with a span (OpenTelemetry's, or :class:`NoSpan`)."""

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Set one attribute."""

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        """Set several attributes."""

    def end(self) -> None:
        """End the span (spans started with :func:`start` only)."""


class NoSpan:
    """The span of a server that traces nothing: every method does nothing."""

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Nothing to set."""

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        """Nothing to set."""

    def end(self) -> None:
        """Nothing to end."""


NO_SPAN = NoSpan()
_tracer: Any = None
"""OpenTelemetry's tracer once tracing is on (``None``: off)."""


def enabled() -> bool:
    """Whether spans are recorded."""
    return _tracer is not None


def use(provider: Any) -> None:
    """Trace into ``provider`` (an SDK ``TracerProvider``; ``None``: stop tracing).

    Tests hand one with an in-memory exporter; :func:`from_environment` one that exports.
    """
    global _tracer
    _tracer = provider.get_tracer(TRACER) if provider is not None else None


def from_environment(environ: Mapping[str, str] = os.environ) -> bool:
    """Turn tracing on if an OTLP endpoint is set and the ``otel`` extra is installed.

    Returns whether it is on. Called once per server process, when it starts.
    """
    if not any(environ.get(name) for name in ENDPOINT_VARIABLES):
        return False
    try:  # the otel extra: only now, only with an endpoint
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        log.warning(
            "tracing.unavailable",
            problem=f"OTEL_EXPORTER_OTLP_ENDPOINT is set but {exc.name} is not installed",
            fix="pip install 'dialplan[otel]'",
        )
        return False
    resource = Resource.create({"service.name": environ.get("OTEL_SERVICE_NAME", "dialplan")})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    use(provider)
    log.info("tracing.on")
    return True


@contextmanager
def span(
    name: str, attributes: Mapping[str, AttributeValue] | None = None, *, client: bool = False
) -> Iterator[Span]:
    """A span that is current inside the ``with`` (its children nest under it).

    Never across a ``yield`` of an async generator: a span made current there would be left
    in its consumer's context. Use :func:`start` for those.
    """
    if _tracer is None:
        yield NO_SPAN
        return
    with _tracer.start_as_current_span(name, kind=_kind(client), attributes=attributes) as found:
        yield found


def start(
    name: str, attributes: Mapping[str, AttributeValue] | None = None, *, client: bool = False
) -> Span:
    """A span under the current one, not made current; end it with ``span.end()``."""
    if _tracer is None:
        return NO_SPAN
    started: Span = _tracer.start_span(name, kind=_kind(client), attributes=attributes)
    return started


def failed(found: Span, error: BaseException) -> None:
    """Mark ``found`` as failed by ``error`` (``error.type``, the span's status)."""
    if _tracer is None:
        return
    from opentelemetry.trace import Status, StatusCode

    found.set_attribute("error.type", type(error).__qualname__)
    setter = getattr(found, "set_status", None)
    if setter is not None:
        setter(Status(StatusCode.ERROR, str(error)[:200]))


def _kind(client: bool) -> Any:
    from opentelemetry.trace import SpanKind

    return SpanKind.CLIENT if client else SpanKind.INTERNAL
