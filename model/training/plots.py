"""The loss curve PNG written into each adapter version."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def loss_points(log_history: Sequence[dict[str, Any]], key: str) -> list[tuple[int, float]]:
    """(step, value) pairs of one logged metric from Trainer's log history."""
    return [(int(e["step"]), float(e[key])) for e in log_history if key in e and "step" in e]


def plot_loss(log_history: Sequence[dict[str, Any]], path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display here; and never steal a GUI from the caller
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for key, label in (("loss", "train loss"), ("eval_loss", "held-out loss")):
        points = loss_points(log_history, key)
        if points:
            steps, values = zip(*points, strict=True)
            ax.plot(steps, values, marker="o" if len(points) < 30 else None, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title or "LoRA training")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
