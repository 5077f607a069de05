"""Prometheus metrics of one server (one registry per app, so tests can run several).

With several worker processes each keeps its own counts, and a scrape reaches one of them. So
``dialplan serve --workers N`` runs Prometheus's multiprocess mode: it points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder for that start (removed when it stops), every
worker writes its values there, and ``/metrics`` on any worker adds them all up.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

if TYPE_CHECKING:
    from engine.records import CallFacts

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
        # By flow version too (and a rollout's arm: "stable", "candidate", or "" without one),
        # so two versions of a flow can be compared side by side on live traffic.
        per_version = ["flow", "version", "arm"]
        self.calls = Counter(
            "dialplan_calls",
            "Calls ended (recorded), by flow, flow version, rollout arm and outcome",
            [*per_version, "outcome"],
            registry=r,
        )
        self.call_turns = Histogram(
            "dialplan_call_turns",
            "Turns the caller was answered in, per call ended",
            per_version,
            buckets=(1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 50),
            registry=r,
        )
        self.call_seconds = Histogram(
            "dialplan_call_duration_seconds",
            "Length of the calls ended",
            per_version,
            buckets=(10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200),
            registry=r,
        )
        self.call_model_requests = Counter(
            "dialplan_call_model_requests",
            "Model requests made by the calls ended",
            per_version,
            registry=r,
        )
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

    def call_ended(self, facts: CallFacts, outcome: str) -> None:
        """Count a call that ended, by its flow version and rollout arm."""
        flow = facts.summary.flow or facts.call.flow or ""
        labels = (flow, facts.summary.flow_version or "", str((facts.rollout or {}).get("arm", "")))
        self.calls.labels(*labels, outcome).inc()
        answered = [t for t in facts.turns if t.kind != "greeting" and t.outcome != "superseded"]
        self.call_turns.labels(*labels).observe(len(answered))
        if facts.ended_at is not None:
            self.call_seconds.labels(*labels).observe(max(facts.ended_at - facts.started_at, 0.0))
        requests = sum(int((t.model or {}).get("requests") or 0) for t in facts.turns)
        if requests:
            self.call_model_requests.labels(*labels).inc(requests)

    def exposition(self) -> bytes:
        """The Prometheus text of every worker (multiprocess) or of this process."""
        return generate_latest(self.registry)
