"""`atri_tokens_per_second`: every request's tokens together, over the recent busy time."""

from __future__ import annotations

import pytest

from model.metrics import RecentThroughput, WorkerMetrics


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def meter(window: float = 60.0) -> tuple[RecentThroughput, Clock]:
    clock = Clock()
    return RecentThroughput(window, clock), clock


def test_rows_decoding_together_add_up() -> None:
    throughput, _ = meter()
    # Eight rows side by side, each 100 tokens in 10 s: 80 tokens/s, not one row's 10.
    for _ in range(8):
        throughput.add(100, 990.0, 1000.0)
    assert throughput.rate() == pytest.approx(80.0)


def test_idle_time_does_not_dilute_and_a_quiet_window_reads_zero() -> None:
    throughput, clock = meter()
    throughput.add(50, 950.0, 955.0)  # 10 tokens/s for 5 s
    throughput.add(100, 990.0, 1000.0)  # 10 tokens/s for 10 s, after 35 s of nothing
    assert throughput.rate() == pytest.approx(10.0)
    clock.now = 1000.0 + 61
    assert throughput.rate() == 0.0


def test_overlapping_and_clipped_generations() -> None:
    throughput, _ = meter(window=10.0)
    # Started 10 s before the window: only its last 5 s (50 of 100 tokens) count.
    throughput.add(100, 985.0, 995.0)
    # Overlaps it by 2 s: busy time is the union (993..1000 adds 5 s), 7 tokens/s.
    throughput.add(70, 993.0, 1000.0)
    assert throughput.rate() == pytest.approx((50 + 70) / 10.0)


def test_the_gauge_reads_the_meter_at_scrape_time() -> None:
    metrics = WorkerMetrics()
    assert "atri_tokens_per_second 0.0" in metrics.render().decode()
    metrics.throughput.clock = lambda: 1.0
    for _ in range(4):
        metrics.observe_generated(30, 0.0, 1.0)
    text = metrics.render().decode()
    assert "atri_tokens_per_second 120.0" in text
    assert "atri_generated_tokens_total 120.0" in text
