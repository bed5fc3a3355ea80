"""Counts in and out of every stage, each drop reason, and the stats picture."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


@dataclass
class StageCount:
    stage: str
    unit: str
    count_in: int
    count_out: int
    dropped: dict[str, int] = field(default_factory=dict)
    # Of `count_in`, those that went into an out unit with the one before them, lost to
    # nothing (the turns stage: the character's lines in a row, one reply, one sample);
    # apart from `dropped`, which readers sum as what the run lost.
    joined: int = 0


@dataclass
class FileReport:
    path: str
    format: str = ""
    encoding: str = ""
    lines: int = 0
    # Of those, the lines above where its format's lines start (a dump's notes above its
    # pairs): no line of them names a speaker, nor is meant to (`formats.header_lines`).
    header_lines: int = 0
    utterances: int = 0
    replaced_bytes: int = 0
    error: str | None = None  # the file was not used
    # It holds no dialogue, and nothing the run could name is missing for it (no macro
    # definition a .ks file's lines wait for): a Ren'Py options.rpy or a file of narration
    # alone, a TyranoScript title.ks or config.ks (`report.quiet_files`).
    quiet: bool = False
    warning: str | None = None  # the file was used; something in it was not
    # Its lines are not separated by line breaks (few lines for its size: `loaded_scripts`),
    # so a run with no speaker matched says that rather than blame the aliases.
    unbroken: bool = False
    language: str = ""  # its lines' language, from their start (`languages`); "" untold


@dataclass
class SpeakerCount:
    name: str
    lines: int
    role: str  # a Role value: which side its name matched, or "other"


@dataclass
class Stats:
    character: str = "the character"
    files: list[FileReport] = field(default_factory=list)
    speakers: list[SpeakerCount] = field(default_factory=list)
    stages: list[StageCount] = field(default_factory=list)
    roles: dict[str, int] = field(default_factory=dict)
    # Every character line of the input ends up kept (in a reply) or under exactly one reason.
    character_lines_in: int = 0
    character_lines_kept: int = 0
    character_lines_dropped: Counter[str] = field(default_factory=Counter)
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
        joined: int = 0,
    ) -> None:
        self.stages.append(
            StageCount(
                stage,
                unit,
                count_in,
                count_out,
                {k: v for k, v in sorted((dropped or {}).items()) if v},
                joined,
            )
        )

    def to_json(self) -> dict[str, Any]:
        lengths = sorted(self.reply_lengths)
        return {
            "character": self.character,
            "files": [asdict(f) for f in self.files],
            "speakers": [asdict(s) for s in self.speakers],
            "stages": [asdict(s) for s in self.stages],
            "roles": self.roles,
            "character_lines": {
                "in": self.character_lines_in,
                "kept": self.character_lines_kept,
                "dropped": dict(sorted(self.character_lines_dropped.items())),
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


# Fonts that have Chinese and Japanese glyphs, tried in order before the default one:
# the names the common packages and systems install them under (Linux distributions,
# Google Fonts, Adobe, Windows, macOS).
_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Noto Sans SC",
    "Noto Sans JP",
    "Noto Sans TC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Source Han Sans JP",
    "Source Han Sans",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "AR PL UKai CN",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Hiragino Sans",
    "Yu Gothic",
    "Meiryo",
    "IPAexGothic",
    "IPAGothic",
    "TakaoGothic",
    "Arial Unicode MS",
)

# A line the drawing child writes to stderr for prep's output (not an error).
_NOTE_PREFIX = "atri-note: "


def _compact(value: float, _: object = None) -> str:
    """12 → "12", 3400 → "3.4k", 1250000 → "1.2M": tick labels that never run together."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.0f}"


def _fonts() -> tuple[list[str], bool]:
    """Font families to use, and whether one of them can draw CJK text."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    cjk = [name for name in _CJK_FONTS if name in installed]
    return [*cjk, "DejaVu Sans"], bool(cjk)


def display_name(name: str, aliases: list[str], can_draw_cjk: bool) -> str:
    """The name as it can be drawn: with no CJK font, a Latin alias if there is one."""
    if can_draw_cjk or all(ord(ch) < 0x2E80 for ch in name):
        return name
    latin = [a for a in aliases if a.strip() and all(ord(ch) < 0x2E80 for ch in a)]
    return latin[0] if latin else "the character"


def missing_font_note(name: str, aliases: list[str], can_draw_cjk: bool) -> str | None:
    """One sentence for prep's output when the picture names "the character" because
    no CJK font is installed to draw her name; None when her name is drawn."""
    if display_name(name, aliases, can_draw_cjk) != "the character" or name == "the character":
        return None
    return (
        f'The stats picture says "the character" instead of {name}: no CJK font was found; '
        "install one (e.g. Noto Sans CJK SC: fonts-noto-cjk on Debian/Ubuntu) to draw the name."
    )


def plot_stats(stats: Stats, path: Path, aliases: list[str] | None = None) -> str | None:
    """Reply lengths, and what became of the character's lines (kept and each drop reason,
    with counts on the bars), as a PNG that stays readable from ten lines to millions.
    Returns a note for prep's output when her name could not be drawn (no CJK font)."""
    import matplotlib

    matplotlib.use("Agg")  # no display here or on servers
    import matplotlib.pyplot as plt

    families, can_draw_cjk = _fonts()
    with plt.rc_context({"font.family": families, "font.size": 11}):
        fig = stats_figure(stats, aliases)
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return missing_font_note(stats.character, aliases or [], can_draw_cjk)


def length_bins(lengths: list[int], most: int = 40) -> list[float]:
    """Histogram edges at whole lengths (k - 0.5), each bin holding the same number of
    whole lengths: edges between whole numbers would give bins of 2 and 3 lengths in
    turn, a sawtooth that is not in the data."""
    low, high = min(lengths), max(lengths)
    width = -(-(high - low + 1) // most)  # ceil: at most `most` bins
    count = -(-(high - low + 1) // width)
    return [low - 0.5 + width * i for i in range(count + 1)]


def _whole_lengths_axis(ax: Axes, low: float, high: float, least_span: int = 4) -> None:
    """Whole-number ticks only on the x axis, over at least `least_span` lengths: with one
    length in view a locator falls back to fractions (27.6 … 28.4), read "28 28 28 28"."""
    from matplotlib.ticker import MaxNLocator

    if high - low < least_span:
        middle = (low + high) / 2
        ax.set_xlim(middle - least_span / 2, middle + least_span / 2)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True, min_n_ticks=2))


def stats_figure(stats: Stats, aliases: list[str] | None = None) -> Figure:
    """The figure `plot_stats` saves (drawn with the fonts and backend it sets)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

    _, can_draw_cjk = _fonts()
    name = display_name(stats.character, aliases or [], can_draw_cjk)
    reasons = sorted(
        (kv for kv in stats.character_lines_dropped.items() if kv[1]), key=lambda kv: kv[1]
    )
    labels = [reason.replace("_", " ") for reason, _ in reasons] + ["kept"]
    values = [n for _, n in reasons] + [stats.character_lines_kept]
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(13, max(4.5, 1.2 + 0.45 * len(labels))), width_ratios=(1, 1.2)
    )
    background = stats.samples.get("background", 0)
    fig.suptitle(
        f"{name}: {stats.character_lines_kept:,} of {stats.character_lines_in:,} lines kept"
        f" in {stats.samples.get('train', 0):,} train"
        f"{f' ({background:,} from background)' if background else ''} and"
        f" {stats.samples.get('eval', 0):,} eval samples",
        fontsize=13,
    )
    if stats.reply_lengths:
        import numpy as np  # matplotlib's own dependency; a list of a million is slow

        edges = length_bins(stats.reply_lengths)
        counts, _, _ = left.hist(
            np.asarray(stats.reply_lengths), bins=edges, color="tab:blue", edgecolor="white"
        )
        _whole_lengths_axis(left, edges[0], edges[-1])
        filled = [c for c in counts if c > 0]
        if max(filled) >= 100 * min(filled):
            # Counts orders of magnitude apart: the tail of long replies (which
            # max_seq_length cuts) would be bars of no height beside the bulk.
            left.set_yscale("log")
            left.set_ylim(bottom=0.5)  # a bin of 1 stays a visible bar
    # The script's replies only, as the lines beside them: a background answer comes once
    # per question asking it, and would stand out as a spike of its own.
    left.set_title(f"Length of {name}'s replies in the script")
    left.set_xlabel("characters")
    left.set_ylabel("samples (log scale)" if left.get_yscale() == "log" else "samples")
    if not stats.reply_lengths:
        left.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    if left.get_yscale() == "linear":
        left.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    else:
        left.yaxis.set_minor_formatter(NullFormatter())
    for axis in (left.xaxis, left.yaxis):
        axis.set_major_formatter(FuncFormatter(_compact))
    colours = ["tab:red"] * len(reasons) + ["tab:green"]
    bars = right.barh(labels, values, color=colours)
    right.bar_label(bars, labels=[f"{v:,}" for v in values], padding=3)
    positive = [v for v in values if v > 0]
    if positive and max(positive) > 50 * min(positive):
        right.set_xscale("log")  # a reason of 3 lines stays visible beside 300 000
        # A fixed left edge, not ~0.8x the smallest count: every bar then starts at the
        # same place whatever the counts, and a reason of 2 lines is no stub.
        right.set_xlim(0.5, max(values) * 4)
        right.xaxis.set_minor_formatter(NullFormatter())
    else:
        right.set_xlim(right=max(values or [1]) * 1.18)
    if right.get_xscale() == "linear":
        # Whole lines only: 4 lines would otherwise be ticked 0, 0.5, … and labelled 0 0 1 …
        right.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    right.xaxis.set_major_formatter(FuncFormatter(_compact))
    right.set_title(f"{name}'s lines: kept, and dropped by reason")
    right.set_xlabel("lines")
    fig.tight_layout()
    return fig


# The child draws stats.png from what it reads on stdin; run with `python -c`.
_CHILD_CODE = "from dataprep.stats import _plot_child_main; _plot_child_main()"


class PlotFailed(RuntimeError):
    """The child drawing stats.png failed; the message is its last line of error."""


class PlotProcess:
    """stats.png drawn by a child process, so that importing matplotlib (a quarter of a
    second) and drawing overlap the pipeline and the writing instead of following them.

    Start it first; `draw` hands it the finished stats and returns at once; `wait`
    returns when the picture is written (PlotFailed if the child failed); `cancel`
    lets it go when there is nothing to draw.
    """

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[1])  # the folder `dataprep` is in
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (root, env.get("PYTHONPATH"))))
        self._process = subprocess.Popen(
            [sys.executable, "-c", _CHILD_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        self._sender: threading.Thread | None = None

    def draw(self, stats: Stats, path: Path, aliases: list[str] | None = None) -> None:
        payload = {
            "character": stats.character,
            "in": stats.character_lines_in,
            "kept": stats.character_lines_kept,
            "dropped": dict(stats.character_lines_dropped),
            "samples": stats.samples,
            "reply_lengths": stats.reply_lengths,
            "path": str(path),
            "aliases": aliases or [],
        }
        # Sent from a thread: the child reads only once its imports are done, and a
        # payload bigger than the pipe would hold the pipeline up until then.
        self._sender = threading.Thread(target=self._send, args=(json.dumps(payload).encode(),))
        self._sender.start()

    def _send(self, data: bytes) -> None:
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(data)
            self._process.stdin.close()
        except OSError:
            # The child died: BrokenPipeError on POSIX; ConnectionResetError, or OSError
            # EINVAL (as subprocess itself knows) on Windows pipes. `wait` says why.
            with contextlib.suppress(OSError):
                self._process.stdin.close()

    def wait(self) -> list[str]:
        """Return once the picture is written, with its notes for prep's output (see
        `plot_stats`); PlotFailed when the child failed."""
        assert self._process.stderr is not None
        if self._sender is not None:
            self._sender.join()
        try:
            error = self._process.stderr.read().decode(errors="replace")
        except OSError:
            error = ""
        self._process.stderr.close()
        status = self._process.wait()
        if status != 0:
            last = error.strip().splitlines()[-1:] or [
                f"the drawing process ended with status {status}"
            ]
            raise PlotFailed(last[0][-300:])
        lines = error.splitlines()
        return [line.removeprefix(_NOTE_PREFIX) for line in lines if line.startswith(_NOTE_PREFIX)]

    def cancel(self) -> None:
        """Stop the child if it is still running (nothing to draw, or the run failed)."""
        if self._sender is not None:
            self._sender.join()
        self._process.kill()  # no-op once it has exited
        self._process.wait()
        for pipe in (self._process.stdin, self._process.stderr):
            if pipe is not None:
                pipe.close()


def _plot_child_main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # imported while the parent is still working

    raw = sys.stdin.buffer.read()
    if not raw:
        return
    data = json.loads(raw)
    stats = Stats(
        character=data["character"],
        character_lines_in=data["in"],
        character_lines_kept=data["kept"],
        character_lines_dropped=Counter(data["dropped"]),
        samples=data["samples"],
        reply_lengths=data["reply_lengths"],
    )
    note = plot_stats(stats, Path(data["path"]), data["aliases"])
    if note:
        print(_NOTE_PREFIX + note, file=sys.stderr)
