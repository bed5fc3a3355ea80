"""Counts in and out of every stage, each drop reason, and the stats picture."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class StageCount:
    stage: str
    unit: str
    count_in: int
    count_out: int
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass
class FileReport:
    path: str
    format: str = ""
    encoding: str = ""
    lines: int = 0
    utterances: int = 0
    error: str | None = None


@dataclass
class Stats:
    files: list[FileReport] = field(default_factory=list)
    stages: list[StageCount] = field(default_factory=list)
    roles: dict[str, int] = field(default_factory=dict)
    # Every ATRI line of the input ends up kept (in a reply) or under exactly one reason.
    atri_lines_in: int = 0
    atri_lines_kept: int = 0
    atri_lines_dropped: Counter[str] = field(default_factory=Counter)
    samples: dict[str, int] = field(default_factory=dict)
    scenes: dict[str, int] = field(default_factory=dict)
    reply_lengths: list[int] = field(default_factory=list)

    def add_stage(
        self,
        stage: str,
        unit: str,
        count_in: int,
        count_out: int,
        dropped: Counter[str] | None = None,
    ) -> None:
        self.stages.append(
            StageCount(
                stage,
                unit,
                count_in,
                count_out,
                {k: v for k, v in sorted((dropped or {}).items()) if v},
            )
        )

    def to_json(self) -> dict[str, Any]:
        lengths = sorted(self.reply_lengths)
        return {
            "files": [asdict(f) for f in self.files],
            "stages": [asdict(s) for s in self.stages],
            "roles": self.roles,
            "atri_lines": {
                "in": self.atri_lines_in,
                "kept": self.atri_lines_kept,
                "dropped": dict(sorted(self.atri_lines_dropped.items())),
            },
            "samples": self.samples,
            "scenes": self.scenes,
            "reply_length": {
                "count": len(lengths),
                "min": lengths[0] if lengths else 0,
                "median": lengths[len(lengths) // 2] if lengths else 0,
                "max": lengths[-1] if lengths else 0,
            },
        }


def plot_stats(stats: Stats, path: Path) -> None:
    """Reply-length histogram and drop reasons of ATRI lines, side by side, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display here or on servers
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    if stats.reply_lengths:
        left.hist(stats.reply_lengths, bins=min(40, max(5, len(set(stats.reply_lengths)))))
    left.set_title("Reply length (characters)")
    left.set_xlabel("characters")
    left.set_ylabel("samples")
    reasons = sorted(stats.atri_lines_dropped.items(), key=lambda kv: kv[1])
    labels = [name for name, _ in reasons] + ["kept"]
    values = [n for _, n in reasons] + [stats.atri_lines_kept]
    right.barh(labels, values, color=["tab:red"] * len(reasons) + ["tab:green"])
    right.set_title("ATRI lines: kept and drop reasons")
    right.set_xlabel("lines")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
