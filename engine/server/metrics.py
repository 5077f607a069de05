"""Prometheus metrics of one server (one registry per app, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """The counters the server keeps; exposed on ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.connections = Counter(
            "dialplan_connections", "WebSocket connections accepted", ["kind"], registry=r
        )
        self.calls_active = Gauge("dialplan_calls_active", "Calls with an open socket", registry=r)
        self.responses = Counter(
            "dialplan_responses", "Responses by how they ended", ["outcome"], registry=r
        )
        self.llm_failures = Counter(
            "dialplan_llm_failures", "Model requests that failed or timed out", ["kind"], registry=r
        )
        self.frames_rejected = Counter(
            "dialplan_frames_rejected", "Inbound frames that could not be used", registry=r
        )
        self.stale_dropped = Counter(
            "dialplan_stale_chunks_dropped", "Chunks of superseded responses not sent", registry=r
        )
        self.first_speech = Histogram(
            "dialplan_first_speech_seconds",
            "From reading a request to queueing its first words",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0),
            registry=r,
        )
