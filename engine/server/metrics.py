"""Prometheus metrics of one server (one registry per app, so tests can run several).

With several worker processes each keeps its own counts, and a scrape reaches one of them. So
``dialplan serve --workers N`` runs Prometheus's multiprocess mode: it points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder for that start (removed when it stops), every
worker writes its values there, and ``/metrics`` on any worker adds them all up.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    """The counters the server keeps; exposed on ``/metrics``."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROCESS_DIR))
        # In multiprocess mode values live in files, read back by the collector; registering
        # the metrics as well would count every value of this worker twice.
        self.registry = CollectorRegistry(auto_describe=True)
        r = None if self.multiprocess else self.registry
        self.connections = Counter(
            "dialplan_connections", "WebSocket connections accepted", ["kind"], registry=r
        )
        self.refused = Counter(
            "dialplan_connections_refused",
            "WebSocket connections refused, by HTTP status and reason",
            ["status", "reason"],
            registry=r,
        )
        self.calls = Counter(
            "dialplan_calls", "Calls ended (recorded), by flow and outcome", ["flow", "outcome"],
            registry=r,
        )  # fmt: skip
        self.calls_active = Gauge(
            "dialplan_calls_active",
            "Calls with an open socket",
            registry=r,
            multiprocess_mode="livesum",
        )
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
        if self.multiprocess:
            # prometheus_client leaves this one untyped.
            multiprocess.MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]

    def exposition(self) -> bytes:
        """The Prometheus text of every worker (multiprocess) or of this process."""
        return generate_latest(self.registry)
