"""Prometheus metrics of one app (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Request count, latency and upstream errors by venue, tool and status."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "cerbero_requests",
            "Requests served, by venue, tool and HTTP status.",
            ("venue", "tool", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "cerbero_request_duration_seconds",
            "Request latency in seconds, by venue and tool.",
            ("venue", "tool"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "cerbero_upstream_errors",
            "Tool calls that failed with an upstream error, by venue, tool and error code.",
            ("venue", "tool", "code"),
            registry=self.registry,
        )

        self.audit_failures = Counter(
            "cerbero_audit_failures",
            "Audit records that could not be written, by phase (intent, outcome, admin).",
            ("phase",),
            registry=self.registry,
        )

    def observe(self, venue: str, tool: str, status: int, seconds: float) -> None:
        """Count one request and record its latency."""
        self.requests.labels(venue, tool, str(status)).inc()
        self.latency.labels(venue, tool).observe(seconds)

    def render(self) -> bytes:
        """Return the exposition text."""
        return generate_latest(self.registry)
