"""`atri prep`: run the pipeline with a progress bar and print what was kept and why."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from atri.config import Settings
from dataprep.errors import DataprepError
from dataprep.formats import FORMAT_NAMES
from dataprep.pipeline import PrepResult, prepare
from dataprep.sources import collect_scripts
from dataprep.stats import Stats

# Stages after the per-file ones, each one step of the bar.
_AFTER_FILES = ("speakers", "clean", "turns", "filter", "split", "write")


def run_prep(
    settings: Settings,
    scripts: list[Path],
    out: Path,
    fmt: str | None,
    system_prompt: str,
    console: Console,
) -> int:
    """Exit code 0 when a dataset was written, 1 when nothing usable came out, 2 on bad usage."""
    if fmt is not None and fmt not in FORMAT_NAMES and fmt != "auto":
        console.print(
            f"[red]--format {fmt}: unknown format; expected one of {', '.join(FORMAT_NAMES)}."
        )
        return 2
    chosen = None if fmt in (None, "auto") else fmt
    cfg = settings.dataprep
    background = settings.path(cfg.background) if cfg.background else None
    files = collect_scripts(scripts)
    if not files:
        console.print(
            "[red]No script files found in "
            f"{', '.join(map(str, scripts))}; expected .txt, .ks, .rpy, .docx or .list files."
        )
        return 1
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("reading scripts", total=len(files) + len(_AFTER_FILES))

        def step(name: str, done: int) -> None:
            bar.update(task, advance=done, description=Path(name).name if "/" in name else name)

        try:
            result = prepare(
                cfg,
                files,
                out,
                system_prompt=system_prompt,
                fmt=chosen,
                background_path=background,
                progress=step,
            )
        except DataprepError as exc:
            console.print(f"[red]{exc}")
            return 1
    for error in result.errors:
        console.print(f"[yellow]skipped:[/] {error}")
    console.print(stats_table(result.stats))
    console.print(_summary(result, out))
    return 0 if result.train else 1


def stats_table(stats: Stats) -> Table:
    table = Table(title="atri prep", show_lines=False)
    table.add_column("stage")
    table.add_column("unit")
    table.add_column("in", justify="right")
    table.add_column("out", justify="right")
    table.add_column("dropped (reason = count)")
    for stage in stats.stages:
        reasons = ", ".join(f"{k} = {v}" for k, v in stage.dropped.items() if v)
        table.add_row(stage.stage, stage.unit, str(stage.count_in), str(stage.count_out), reasons)
    dropped = ", ".join(f"{k} = {v}" for k, v in sorted(stats.atri_lines_dropped.items()) if v)
    table.add_row(
        "ATRI lines",
        "lines",
        str(stats.atri_lines_in),
        str(stats.atri_lines_kept),
        dropped,
        style="bold",
    )
    return table


def _summary(result: PrepResult, out: Path) -> str:
    s = result.stats.samples
    return (
        f"{s.get('train', 0)} train samples ({s.get('background', 0)} from background), "
        f"{s.get('eval', 0)} eval samples in {result.stats.scenes.get('eval', 0)} held-out scenes; "
        f"written to {out}"
    )
