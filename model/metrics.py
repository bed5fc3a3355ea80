"""Prometheus metrics of one worker: requests, latency, batches, tokens, OOC, reloads.

Each `WorkerMetrics` owns its CollectorRegistry, so two services in one process (tests,
benchmarks) never share or clash on counters; `/metrics` renders that registry.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST as PROMETHEUS_CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from model.protocol import ReloadResult, Reply

__all__ = ["PROMETHEUS_CONTENT_TYPE", "WorkerMetrics"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "atri_requests",
            "Chat requests answered, by API and reply status.",
            ["api", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "atri_request_latency_seconds",
            "Time from a request's arrival to its reply.",
            ["api"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "atri_batch_size",
            "Requests generated together in one engine call.",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.generated_tokens = Counter(
            "atri_generated_tokens", "New tokens generated (rate() gives tokens/s).", registry=r
        )
        self.tokens_per_second = Gauge(
            "atri_tokens_per_second", "New tokens per second of the last batch.", registry=r
        )
        self.ooc_regenerations = Counter(
            "atri_ooc_regenerations",
            "Replies regenerated because they broke character or came out empty.",
            registry=r,
        )
        self.reloads = Counter(
            "atri_reloads",
            "Adapter reloads and rollbacks, by kind and outcome.",
            ["kind", "result"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "atri_queue_depth", "Requests waiting for the batcher.", registry=r
        )

    def watch_queue(self, depth: Callable[[], int]) -> None:
        """Read the queue depth at scrape time instead of tracking every put and get."""
        self.queue_depth.set_function(lambda: float(depth()))

    def observe_reply(self, reply: Reply, api: str = "chat") -> None:
        self.requests.labels(api=api, status=reply.status).inc()
        self.latency.labels(api=api).observe(reply.latency_ms / 1000)

    def observe_batch(self, size: int, new_tokens: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.generated_tokens.inc(new_tokens)
        if seconds > 0:
            self.tokens_per_second.set(new_tokens / seconds)

    def observe_reload(self, result: ReloadResult, kind: str = "reload") -> None:
        self.reloads.labels(kind=kind, result="ok" if result.ok else "failed").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
