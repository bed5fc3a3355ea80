"""The stats picture's right panel (her lines: kept, and dropped by reason) counts whole
lines: with small counts its x axis was ticked at halves, labelled "0 0 1 2 2 2 3 4"."""

from __future__ import annotations

from collections import Counter

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from dataprep.stats import Stats, stats_figure


def _tick_labels(stats: Stats) -> list[str]:
    fig = stats_figure(stats, ["Eileen"])
    try:
        fig.canvas.draw()
        right = fig.axes[1]
        low, high = right.get_xlim()
        return [
            t.get_text()
            for t, at in zip(right.get_xticklabels(), right.get_xticks(), strict=True)
            if low <= at <= high
        ]
    finally:
        plt.close(fig)


def test_small_counts_are_ticked_at_whole_lines_only() -> None:
    stats = Stats(character="Eileen", character_lines_in=5, character_lines_kept=3)
    stats.character_lines_dropped = Counter(no_lead_before=1, untranslated=1)
    stats.reply_lengths = [3, 5, 8, 13]
    labels = _tick_labels(stats)
    assert len(labels) > 1
    assert len(labels) == len(set(labels)), labels
    assert all(int(label) >= 0 for label in labels)


def test_counts_far_apart_keep_the_log_scale() -> None:
    stats = Stats(character="Eileen", character_lines_in=3003, character_lines_kept=3000)
    stats.character_lines_dropped = Counter(duplicate=3)
    fig = stats_figure(stats, ["Eileen"])
    try:
        assert fig.axes[1].get_xscale() == "log"
    finally:
        plt.close(fig)
