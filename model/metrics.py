"""Prometheus metrics of one worker: requests, latency, batches, tokens, rows in flight,
OOC, reloads, memory write failures, the live adapter, the process (start time, memory,
CPU), and the background summarizer's counts.

Each `WorkerMetrics` owns its CollectorRegistry, so two services in one process (tests,
benchmarks) never share or clash on counters; `/metrics` renders that registry.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import NamedTuple

from prometheus_client import CONTENT_TYPE_LATEST as PROMETHEUS_CONTENT_TYPE
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from model.protocol import ReloadResult, Reply

__all__ = [
    "PROMETHEUS_CONTENT_TYPE",
    "AdapterInfo",
    "SummaryCounts",
    "TokenTotals",
    "WorkerMetrics",
]

# The time `atri_tokens_per_second` looks back over.
THROUGHPUT_WINDOW_SECONDS = 60.0
# Replies of a model on CPU take seconds to minutes; the top bound is past the worker's
# request_timeout_seconds (`latency_buckets`), so no reply made lands in +Inf only.
LATENCY_BUCKETS = (0.5, 1, 2.5, 5, 10, 20, 30, 60, 90, 120, 180, 300, 600)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
APIS = ("chat", "openai")
# Every status `atri_requests_total` counts: Reply.status's, and "cancelled".
REQUEST_STATUSES = (
    "ok",
    "busy",
    "error",
    "rate_limited",
    "refused",
    "heard",
    "recalled",
    "cancelled",
)
RELOAD_KINDS = ("reload", "rollback")
RELOAD_RESULTS = ("ok", "failed")
# What a failed memory write cost: an exchange not remembered, a room line not kept, an
# edit not applied, old lines or messages not deleted, a command (reset, forget) refused.
WRITE_FAILURES = ("reply", "room_line", "edit", "retention", "command")


def latency_buckets(timeout_seconds: float) -> tuple[float, ...]:
    """LATENCY_BUCKETS, topped past `timeout_seconds` when that is beyond them: a reply
    may end a little past its deadline (its memory write is let finish)."""
    if timeout_seconds < LATENCY_BUCKETS[-1]:
        return LATENCY_BUCKETS
    return (*LATENCY_BUCKETS, 2 * timeout_seconds)


class WorkerMetrics:
    def __init__(self, request_timeout_seconds: float = 120.0) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "atri_requests",
            "Requests the service decided, by API and status: replies (ok, busy, error,"
            " rate_limited, refused), room lines kept unanswered (heard), messages taken"
            ' back before their reply (recalled), and status="cancelled": its caller left'
            " before the reply, which was not made.",
            ["api", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "atri_request_latency_seconds",
            "Time from a request's arrival to its reply, for replies the model made"
            ' (status="ok"): refusals and busy replies are counted in atri_requests_total.',
            ["api"],
            buckets=latency_buckets(request_timeout_seconds),
            registry=r,
        )
        self.batch_size = Histogram(
            "atri_batch_size",
            "Requests generated together: one engine call's, or with an engine that batches"
            " continuously, those in flight once a new call's have joined them.",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        # The engine's own counts where watched (`watch_engine`): they include the
        # tokens of rows cut by their deadline, whose end the batcher never sees.
        self.observed_tokens = 0
        self._token_counts: Callable[[], TokenTotals] = lambda: TokenTotals(self.observed_tokens, 0)
        r.register(TokenTotalCounters(lambda: self._token_counts()))
        self.throughput = RecentThroughput(THROUGHPUT_WINDOW_SECONDS)
        self.tokens_per_second = Gauge(
            "atri_tokens_per_second",
            "New tokens per second of generating, all requests together, over the last"
            " minute (0 when nothing was generated in it).",
            registry=r,
        )
        self.tokens_per_second.set_function(self.throughput.rate)
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
        self.rows_in_flight = Gauge(
            "atri_rows_in_flight",
            "Rows a continuously batching engine is reading or generating (0 for an"
            " engine that runs a batch at a time).",
            registry=r,
        )
        self.memory_write_failures = Counter(
            "atri_memory_write_failures",
            "Memory writes that failed (a damaged file, a full disk, a locked database),"
            " by what was not written.",
            ["what"],
            registry=r,
        )
        # Known label sets at 0 from the start: a series' first sample is the baseline of
        # rate() and increase(), so one born at 1 hides the first failure.
        for api in APIS:
            for status in REQUEST_STATUSES:
                self.requests.labels(api=api, status=status)
        for kind in RELOAD_KINDS:
            for result in RELOAD_RESULTS:
                self.reloads.labels(kind=kind, result=result)
        for what in WRITE_FAILURES:
            self.memory_write_failures.labels(what=what)
        # process_start_time_seconds (restarts), resident memory, CPU: read from /proc,
        # so on a platform without it the collector yields nothing.
        ProcessCollector(registry=r)

    def watch_queue(self, depth: Callable[[], int]) -> None:
        """Read the queue depth at scrape time instead of tracking every put and get."""
        self.queue_depth.set_function(lambda: float(depth()))

    def watch_rows_in_flight(self, rows: Callable[[], int]) -> None:
        self.rows_in_flight.set_function(lambda: float(rows()))

    def watch_engine(self, counts: Callable[[], TokenTotals]) -> None:
        """Export the engine's own token counts (shown in /status), read at scrape time."""
        self._token_counts = counts

    def watch_adapter(self, info: Callable[[], AdapterInfo]) -> None:
        """`atri_adapter_info`: the live adapter, read at scrape time, so only it is there."""
        self.registry.register(AdapterInfoCollector(info))

    def watch_summaries(self, counts: Callable[[], SummaryCounts]) -> None:
        """Export the summarizer's own counts, read at scrape time: they are kept (and
        shown in /status) by the summarizer, so no second tally can drift from them."""
        self.registry.register(SummaryCounters(counts))

    def observe_reply(self, reply: Reply, api: str = "chat") -> None:
        self.requests.labels(api=api, status=reply.status).inc()
        if reply.status == "ok":
            # Only answers: instant refusals would improve p95 the more users are
            # turned away, and a timed-out "busy" is no answer's latency.
            self.latency.labels(api=api).observe(reply.latency_ms / 1000)

    def observe_write_failure(self, what: str) -> None:
        """A memory write that failed; `what` is one of WRITE_FAILURES."""
        self.memory_write_failures.labels(what=what).inc()

    def observe_cancelled(self, api: str = "chat") -> None:
        """A request given up before its reply (a /v1 client that disconnected): counted
        beside the replies' statuses; it had no reply, so no latency is observed."""
        self.requests.labels(api=api, status="cancelled").inc()

    def observe_batch(self, rows: int) -> None:
        self.batch_size.observe(rows)

    def observe_generated(self, new_tokens: int, started: float, ended: float) -> None:
        self.observed_tokens += new_tokens
        self.throughput.add(new_tokens, started, ended)

    def observe_reload(self, result: ReloadResult, kind: str = "reload") -> None:
        self.reloads.labels(kind=kind, result="ok" if result.ok else "failed").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class TokenTotals(NamedTuple):
    """Tokens since start: generated (rate() gives tokens/s) and prompt tokens read."""

    generated: int
    prompt: int


class TokenTotalCounters(Collector):
    def __init__(self, counts: Callable[[], TokenTotals]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[CounterMetricFamily]:
        generated, prompt = self.counts()
        yield CounterMetricFamily(
            "atri_generated_tokens",
            "New tokens generated, also those of rows cut by their deadline (rate() gives"
            " tokens/s).",
            value=generated,
        )
        yield CounterMetricFamily(
            "atri_prompt_tokens",
            "Prompt tokens read by the engine (those reused from its prefix cache too).",
            value=prompt,
        )


class AdapterInfo(NamedTuple):
    version: str  # "" for the base model alone
    engine: str
    base: str


class AdapterInfoCollector(Collector):
    def __init__(self, info: Callable[[], AdapterInfo]) -> None:
        self.info = info

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "atri_adapter_info",
            'The live adapter version ("" for the base model alone), the engine and the'
            " base model; always 1.",
            labels=list(AdapterInfo._fields),
        )
        family.add_metric(list(self.info()), 1)
        yield family


class SummaryCounts(NamedTuple):
    """The background summarizer's counts since start (`model.summaries.Summarizer`)."""

    written: int
    overdue: int
    compactions: int
    not_summaries: int
    failed: int


# Each count's metric name and help, in SummaryCounts' order.
SUMMARY_METRICS = (
    ("atri_summaries_written", "Conversation summaries stored."),
    (
        "atri_summaries_overdue",
        "Summary generations put between two batches of replies after waiting"
        " summary_max_wait_seconds for the replies to pause.",
    ),
    (
        "atri_summary_compactions",
        "Summaries grown past summary_max_tokens and rewritten as one.",
    ),
    (
        "atri_summary_answers_not_taken",
        "Model answers refused as summaries: the person's own statements were kept"
        " instead, or, for a refused rewrite, the summary's newest lines (older facts lost).",
    ),
    (
        "atri_summary_failures",
        "Summaries not written because the model or the memory's database failed.",
    ),
)


class SummaryCounters(Collector):
    """The summarizer's counts as Prometheus counters, read when /metrics is rendered."""

    def __init__(self, counts: Callable[[], SummaryCounts]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[CounterMetricFamily]:
        for (name, documentation), value in zip(SUMMARY_METRICS, self.counts(), strict=True):
            yield CounterMetricFamily(name, documentation, value=value)


class RecentThroughput:
    """New tokens per second over the last `window` seconds, counting only the time in
    which something was being generated: rows decoding together add up (eight rows at
    10 tokens/s each are 80), and an idle minute does not dilute a busy one.

    Each generation's tokens are spread evenly over its own time, so one that started
    before the window counts with the part inside it. A generation still running is
    counted when it ends.
    """

    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._spans: deque[tuple[float, float, int]] = deque()  # (start, end, tokens)

    def add(self, tokens: int, started: float, ended: float) -> None:
        self._spans.append((started, max(started, ended), tokens))
        self._forget(self.clock() - self.window)

    def rate(self) -> float:
        now = self.clock()
        since = now - self.window
        self._forget(since)
        tokens = 0.0
        busy = 0.0
        busy_until = since
        # Ended in order of arrival, which is close to, but not exactly, start order.
        for start, end, count in sorted(self._spans):
            lo = max(start, since)
            if end <= lo:
                continue  # took no time in the window (or none at all)
            tokens += count * (end - lo) / (end - start)
            busy += max(0.0, end - max(lo, busy_until))
            busy_until = max(busy_until, end)
        return tokens / busy if busy > 0 else 0.0

    def _forget(self, since: float) -> None:
        """Spans that ended before `since`; they are dropped in arrival order, which is
        end order, so the deque stays short whatever the traffic."""
        while self._spans and self._spans[0][1] < since:
            self._spans.popleft()
