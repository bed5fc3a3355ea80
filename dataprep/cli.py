"""`atri prep`: run the pipeline with a progress bar and print what was kept and why.

Every sentence that carries a file name, a speaker's name or a config key (`[dataprep]`)
is printed as plain text, never as rich markup, so no word in it is eaten.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from atri.config import Settings
from atri.terminal import counted
from dataprep.errors import DataprepError
from dataprep.formats import FORMAT_NAMES
from dataprep.pipeline import PrepResult, prepare
from dataprep.records import Role
from dataprep.report import card_language_note
from dataprep.sources import SCRIPT_SUFFIXES, collect_scripts
from dataprep.stats import Stats
from dataprep.writers import OutputNames, dataset_stem

# Stages after the per-file ones, each one step of the bar.
_AFTER_FILES = ("speakers", "clean", "turns", "filter", "split", "write")
# Speakers listed in the speakers table; the rest are summed in one row.
SHOWN_SPEAKERS = 12
# Where a path's folders end, on Windows and elsewhere.
_FOLDERS = re.compile(r"[\\/]")
_ROLE_LABEL = {Role.LEAD.value: "lead", Role.CHARACTER.value: "character"}


def run_prep(
    settings: Settings,
    scripts: list[Path],
    out: Path,
    fmt: str | None,
    system_prompt: str,
    console: Console,
    train_command: str = "atri train",
    card_language: str = "",
    errors: Console | None = None,
) -> int:
    """Exit code 0 when a dataset was written, 1 when nothing usable came out (the output
    folder is then left as it was), 2 on bad usage. The sentence of a run that failed goes
    to `errors` (the CLI's stderr: a summary redirected to a file must not swallow it),
    the report to `console`."""
    errors = errors or console
    if fmt is not None and fmt not in FORMAT_NAMES and fmt != "auto":
        _say(
            errors,
            f"--format {fmt}: unknown format; expected one of {', '.join(FORMAT_NAMES)}.",
            "red",
        )
        return 2
    chosen = None if fmt in (None, "auto") else fmt
    cfg = settings.dataprep
    background = settings.path(cfg.background) if cfg.background else None
    missing = [path for path in scripts if not os.path.lexists(path)]
    if missing and len(missing) < len(scripts):
        # A chapter's name mistyped among others: read without it, the dataset that
        # replaced the earlier one lacked that chapter, with status 0.
        named = ", ".join(map(str, missing))
        _say(
            errors,
            f"{named}: not found; check the path{'s' if len(missing) > 1 else ''} (the other"
            f" scripts were not read either). Nothing was written to {out}.",
            "red",
        )
        return 1
    files = collect_scripts(scripts)
    if not files:
        _say(
            errors,
            f"No script files found in {', '.join(map(str, scripts))}; expected"
            f" {_suffixes_named()} files (or ONScripter's nscript.dat)."
            f" Nothing was written to {out}.",
            "red",
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
            bar.update(task, advance=done, description=escape(progress_label(name)))

        try:
            result = prepare(
                cfg,
                files,
                out,
                system_prompt=system_prompt,
                fmt=chosen,
                background_path=background,
                progress=step,
                card_language=card_language,
            )
        except DataprepError as exc:
            _say(errors, f"{exc} Nothing was written to {out}.", "red")
            return 1
    for error in result.errors:
        console.print(Text("skipped: ", style="yellow") + Text(error))
    if result.without_dialogue is not None:
        _say(console, result.without_dialogue, "dim")
    for warning in result.warnings:
        console.print(Text("warning: ", style="yellow") + Text(warning))
    if result.stats.speakers:  # an empty table says nothing the sentences don't
        console.print(speakers_table(result.stats))
    console.print(stats_table(result.stats))
    for note in [*result.notes, *_card_language_notes(result, settings, card_language)]:
        _say(console, note, "yellow")
    if result.problem is not None:
        _say(errors, f"{result.problem} {out} was left as it was.", "red")
        if not settings.config_file and "[dataprep]" in result.problem:
            _say(errors, NO_CONFIG_READ, "yellow")
        return 1
    # Not wrapped by rich: its newlines would cut the command in it, even inside a quoted
    # path, for whoever pastes it; the terminal wraps it for the eye alone.
    console.print(Text(_summary(result, out, settings, train_command)), soft_wrap=True)
    return 0


# Run outside the folder of the user's config.toml, prep reads ATRI's built-in settings:
# "add the right names to [dataprep] character_aliases" then names no file to add them to.
NO_CONFIG_READ = (
    "No config file was read (no config.toml in this folder, no --config or ATRI_CONFIG): "
    "these are the built-in settings, ATRI's. Give your config with --config, or run atri "
    "in its folder."
)


def progress_label(name: str) -> str:
    """What the progress bar shows for a step: a file's name without its folders (split
    at `\\` as well as `/`: a Windows path has no `/`), or a stage's name as it is."""
    return _FOLDERS.split(name)[-1] or name


def _say(console: Console, sentence: str, style: str | None) -> None:
    console.print(Text(sentence, style=style or ""))


def speakers_table(stats: Stats) -> Table:
    """The speakers seen, most lines first, and which side each name matched."""
    table = Table(title="speakers seen", show_lines=False)
    table.add_column("speaker")
    table.add_column("lines", justify="right")
    table.add_column("matched")
    for speaker in stats.speakers[:SHOWN_SPEAKERS]:
        role = _ROLE_LABEL.get(speaker.role, "")
        table.add_row(Text(speaker.name), str(speaker.lines), role, style="bold" if role else "")
    rest = stats.speakers[SHOWN_SPEAKERS:]
    if rest:
        matched = [s for s in rest if s.role in _ROLE_LABEL]
        table.add_row(
            f"{len(rest)} more",
            str(sum(s.lines for s in rest)),
            ", ".join(f"{s.name} ({_ROLE_LABEL[s.role]})" for s in matched),
        )
    return table


def stats_table(stats: Stats) -> Table:
    table = Table(title="atri prep", show_lines=False)
    table.add_column("stage")
    table.add_column("unit")
    table.add_column("in", justify="right")
    table.add_column("out", justify="right")
    table.add_column("dropped (reason = count)")
    for stage in stats.stages:
        reasons = ", ".join(f"{k} = {v}" for k, v in stage.dropped.items() if v)
        table.add_row(
            stage.stage, Text(stage.unit), str(stage.count_in), str(stage.count_out), reasons
        )
    dropped = ", ".join(f"{k} = {v}" for k, v in sorted(stats.character_lines_dropped.items()) if v)
    table.add_row(
        Text(f"{stats.character} lines"),
        "lines",
        str(stats.character_lines_in),
        str(stats.character_lines_kept),
        dropped,
        style="bold",
    )
    return table


def _card_language_notes(result: PrepResult, settings: Settings, card: str) -> list[str]:
    """`card_language_note` for a run that wrote samples: whether the card's language
    `card` was "auto"'s English for the offline default model is known here."""
    if result.problem is not None:
        return []
    offline_english = settings.persona.language == "auto" and settings.model.runs_offline_default
    note = card_language_note(
        result.stats.files, card, offline_english and card == "en", settings.ooc.language == "auto"
    )
    return [] if note is None else [note]


def _summary(result: PrepResult, out: Path, settings: Settings, train_command: str) -> str:
    """What was written where, and the command that trains on it when `atri train`'s
    default dataset is another file (`train_command`: with `--config` where it must be)."""
    s = result.stats.samples
    sentence = (
        f"{counted(s.get('train', 0), 'train sample')} ({s.get('background', 0)} from "
        f"background), {counted(s.get('eval', 0), 'eval sample')} in "
        f"{counted(result.stats.scenes.get('eval', 0), 'held-out scene')}; written to {out}."
    )
    cfg = settings.dataprep
    if "sharegpt" in cfg.output_formats:
        train_file = out / OutputNames(dataset_stem(cfg.character_aliases)).file(
            "sharegpt", "train"
        )
        if settings.path(settings.train.dataset).resolve() != train_file.resolve():
            sentence += (
                f" Train on it with: {train_command} --dataset {shlex.quote(str(train_file))}"
            )
    return sentence


def _suffixes_named() -> str:
    """`.ast, .bkscr, … or .txt`: the extensions a folder is searched for."""
    *most, last = sorted(SCRIPT_SUFFIXES)
    return f"{', '.join(most)} or {last}"
