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
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    train = loss_points(log_history, "loss")
    held_out = loss_points(log_history, "eval_loss")
    # Line style and marker as well as colour, so the two read apart in greyscale too.
    # The held-out point at step 0 is the base model before any training (the
    # manifest's base_eval_loss): the line the adapter has to come down from.
    held_out_label = "held-out loss"
    if held_out and held_out[0][0] == 0:
        held_out_label += " (step 0: base model before training)"
    steps: list[int] = []
    for points, label, style, marker in (
        (train, "train loss", "-", "o"),
        (held_out, held_out_label, "--", "s"),
    ):
        if points:
            xs, values = zip(*points, strict=True)
            steps += xs
            ax.plot(
                xs,
                values,
                linestyle=style,
                marker=marker if len(points) < 30 else None,
                label=label,
            )
    ax.set_xlabel("step")
    ax.set_ylabel("loss (per-token cross-entropy, nats)")
    ax.set_title(title or "LoRA training")
    ax.grid(alpha=0.3)
    if steps and max(steps) - min(steps) < 2:
        # One or two steps: a locator would tick 0.96 … 1.04 or 1.0, 1.2 …; steps are whole.
        ax.set_xlim(max(min(steps) - 1, -0.5), max(steps) + 1)  # no step -1
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10], min_n_ticks=2))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(title=None if held_out else "no held-out set")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
