"""The stats and loss pictures: histogram bins on whole lengths, whole-number ticks only,
a fixed left edge on a log axis, the loss curve's labels, more CJK font names (and a note
when her name cannot be drawn), and the manifest's train loss where the curve ends."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from dataprep.stats import PlotProcess, Stats, _fonts, plot_stats, stats_figure
from model.training.plots import plot_loss
from model.training.publishing import final_train_loss

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def _visible_labels(axis: Axis) -> list[str]:
    axis.axes.figure.canvas.draw()
    low, high = sorted(axis.get_view_interval())
    return [
        t.get_text()
        for t, at in zip(axis.get_ticklabels(), axis.get_majorticklocs(), strict=True)
        if low <= at <= high and t.get_text()
    ]


def _whole_and_distinct(labels: list[str]) -> None:
    assert len(labels) >= 2, labels
    assert len(labels) == len(set(labels)), labels
    assert all(label.lstrip("-").isdigit() for label in labels), labels


def _stats(lengths: list[int], dropped: dict[str, int] | None = None, kept: int = 0) -> Stats:
    stats = Stats(character="Eileen", character_lines_kept=kept or len(lengths))
    stats.character_lines_dropped = Counter(dropped or {})
    stats.character_lines_in = stats.character_lines_kept + sum(
        stats.character_lines_dropped.values()
    )
    stats.reply_lengths = lengths
    stats.samples = {"train": len(lengths), "eval": 0}
    return stats


def test_histogram_edges_fall_between_whole_lengths_with_no_false_sawtooth(
    tmp_path: Path,
) -> None:
    lengths = [n for n in range(10, 108) for _ in range(10)]  # flat: 10 replies of each
    left = stats_figure(_stats(lengths), ["Eileen"]).axes[0]
    bars = [bar for bar in left.patches if isinstance(bar, Rectangle)]
    edges = [bar.get_x() for bar in bars] + [bars[-1].get_x() + bars[-1].get_width()]
    assert all(abs(edge + 0.5 - round(edge + 0.5)) < 1e-9 for edge in edges), edges
    assert len({round(bar.get_width(), 9) for bar in bars}) == 1
    assert edges[0] == 9.5 and edges[-1] >= 107.5
    # Every bin holds the same number of whole lengths, so flat data gives flat bars
    # (the last bin may hold fewer lengths than the others).
    heights = {bar.get_height() for bar in bars[:-1]}
    assert len(heights) == 1, sorted(heights)
    plot_stats(_stats(lengths), tmp_path / "flat.png", ["Eileen"])
    assert (tmp_path / "flat.png").read_bytes()[:8] == PNG


def test_one_reply_length_is_ticked_at_distinct_whole_numbers() -> None:
    left = stats_figure(_stats([28, 28]), ["Eileen"]).axes[0]
    labels = _visible_labels(left.xaxis)
    _whole_and_distinct(labels)
    assert "28" in labels


def test_the_log_axis_of_drop_reasons_starts_at_a_fixed_edge() -> None:
    for dropped, kept in (({"interjection_only": 61, "too_long": 24}, 1415), ({"x": 2}, 150)):
        right = stats_figure(_stats([5, 6, 7], dropped, kept), ["Eileen"]).axes[1]
        assert right.get_xscale() == "log"
        assert right.get_xlim()[0] == 0.5


def test_histogram_counts_orders_of_magnitude_apart_go_on_a_log_axis(tmp_path: Path) -> None:
    stats = _stats([20] * 5000 + [400])
    left = stats_figure(stats, ["Eileen"]).axes[0]
    assert left.get_yscale() == "log"
    assert left.get_ylim()[0] == 0.5  # the bin of one reply is a visible bar
    plot_stats(stats, tmp_path / "tail.png", ["Eileen"])
    assert (tmp_path / "tail.png").read_bytes()[:8] == PNG


def _drawn_loss(
    history: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Axes:
    """The axes `plot_loss` drew, kept from being closed so that they can be read."""
    figures: list[Figure] = []
    monkeypatch.setattr(plt, "close", figures.append)
    plot_loss(history, tmp_path / "loss.png", title="LoRA adapter v1")
    assert (tmp_path / "loss.png").read_bytes()[:8] == PNG
    (figure,) = figures
    return figure.axes[0]


@pytest.mark.parametrize(
    "history",
    [
        [{"loss": 3.5, "step": 1}],
        [{"eval_loss": 3.9, "step": 0}, {"loss": 3.6, "step": 1}, {"eval_loss": 3.4, "step": 1}],
        [{"loss": 3.6, "step": 1}, {"loss": 3.5, "step": 2}],
        [{"eval_loss": 3.1, "step": 0}]
        + [{"loss": 3.0 - s / 10, "step": s} for s in (1, 5, 10, 15, 20)],
    ],
    ids=["one step", "one step held out", "two steps", "twenty steps"],
)
def test_loss_steps_are_ticked_at_distinct_whole_numbers(
    history: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ax = _drawn_loss(history, tmp_path, monkeypatch)
    labels = _visible_labels(ax.xaxis)
    _whole_and_distinct(labels)
    assert all(int(label) >= 0 for label in labels)


def test_loss_picture_says_what_it_shows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    history = [
        {"eval_loss": 3.9, "step": 0},
        {"loss": 3.6, "step": 1},
        {"eval_loss": 3.4, "step": 1},
    ]
    ax = _drawn_loss(history, tmp_path, monkeypatch)
    assert "cross-entropy" in ax.get_ylabel()
    legend = ax.get_legend()
    assert legend is not None
    texts = [t.get_text() for t in legend.get_texts()]
    assert any("base model before training" in t for t in texts), texts
    train, held_out = ax.get_lines()
    # Apart without colour: line style and marker differ too.
    assert train.get_linestyle() != held_out.get_linestyle()
    assert train.get_marker() != held_out.get_marker()


def test_loss_picture_without_a_held_out_set_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ax = _drawn_loss([{"loss": 3.6, "step": 1}, {"loss": 3.5, "step": 2}], tmp_path, monkeypatch)
    legend = ax.get_legend()
    assert legend is not None
    assert legend.get_title().get_text() == "no held-out set"


def test_the_manifests_train_loss_is_where_the_curve_ends() -> None:
    history: list[dict[str, Any]] = [
        {"loss": 2.6, "step": 10},
        {"loss": 2.23, "step": 15},
        {"eval_loss": 2.3, "step": 15},
        {"loss": 2.24, "step": 20},
    ]
    assert final_train_loss(history, fallback=9.0) == 2.24
    assert final_train_loss([], fallback=9.0) == 9.0


@pytest.mark.parametrize("family", ["Noto Sans SC", "Hiragino Sans GB", "IPAexGothic"])
def test_cjk_fonts_under_common_family_names_are_used(
    family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dejavu = [f for f in font_manager.fontManager.ttflist if f.name == "DejaVu Sans"]
    entry = font_manager.FontEntry(fname=dejavu[0].fname, name=family)
    monkeypatch.setattr(font_manager.fontManager, "ttflist", [*dejavu, entry])
    assert _fonts() == ([family, "DejaVu Sans"], True)


def test_a_name_not_drawn_for_want_of_a_cjk_font_is_told_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stats = _stats([3, 5])
    stats.character = "亚托莉"
    dejavu = [f for f in font_manager.fontManager.ttflist if f.name == "DejaVu Sans"]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", dejavu)
    note = plot_stats(stats, tmp_path / "here.png", ["亚托莉"])
    assert note is not None and "亚托莉" in note and "font" in note
    assert plot_stats(stats, tmp_path / "latin.png", ["亚托莉", "ATRI"]) is None


def test_the_drawing_child_hands_the_note_back(tmp_path: Path) -> None:
    if _fonts()[1]:
        pytest.skip("a CJK font is installed here: the name is drawn")
    stats = _stats([3, 5])
    stats.character = "亚托莉"
    child = PlotProcess()
    child.draw(stats, tmp_path / "child.png", ["亚托莉"])
    notes = child.wait()
    child.cancel()
    assert len(notes) == 1 and "亚托莉" in notes[0], notes
    assert (tmp_path / "child.png").read_bytes()[:8] == PNG
