"""`atri adapters …`: the adapter versions in `[model] adapters_dir`: list them with their
size and status, prune the old ones, adopt one `atri train` did not write (a peft folder
trained with LLaMA-Factory, axolotl or unsloth)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from atri.cli_common import (
    Commands,
    ask_first,
    atri_command,
    config_after_group,
    configured_settings,
    console,
    fail,
)
from atri.config import Settings
from atri.terminal import counted

if TYPE_CHECKING:
    from rich.console import JustifyMethod
    from rich.table import Table

    from model.adapters.inventory import PrunePlan, VersionOnDisk, WorkerView
    from model.adapters.validation import ConfiguredBase
    from model.adapters.versions import CharacterId

adapters_app = Commands(
    help="Adapter versions in \\[model] adapters_dir: list and prune them, adopt one "
    "trained elsewhere.",
    no_args_is_help=True,
)
adapters_app.callback()(config_after_group)


@adapters_app.command("adopt")
def adapters_adopt(
    folder: Annotated[
        Path, typer.Argument(help="a peft adapter folder (adapter_config.json + safetensors)")
    ],
    version: Annotated[
        str | None,
        typer.Option(
            "--version", help="the version's name, YYYYMMDD-HHMMSS (default: the time now)"
        ),
    ] = None,
) -> None:
    """Make a peft adapter trained elsewhere a version, checked as the reload job checks one.

    FOLDER holds adapter_config.json and adapter_model.safetensors (LLaMA-Factory,
    axolotl, unsloth): it is checked against \\[model] base, then copied in with a
    manifest.json recording that base."""
    from model.adapters.adopt import adopt_adapter

    settings = configured_settings()
    adopted = adopt_adapter(settings, folder, version)
    for line in adopted_lines(settings, adopted.source, adopted.folder):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def adopted_lines(settings: Settings, source: Path, folder: Path) -> list[str]:
    """What was adopted, and when a running worker serves it."""
    base = settings.model.base.strip() or "the offline default"
    command = settings.bot.command_name  # what the bots' members type
    done = (
        f"Adopted {source} as adapter version {folder.name}: {folder} (checked against "
        f"[model] base {base}; its datasets, training settings and character are unknown, "
        "so a worker serves it under its character card)."
    )
    if settings.reload.enabled:
        return [
            done,
            "A running worker picks it up at its next look (every "
            f"{settings.reload.interval_seconds} s), or at once on `/{command}-admin reload` "
            f"(QQ: `/{command} reload`).",
        ]
    return [
        done,
        f"A running worker switches to it on `/{command}-admin reload` (QQ: `/{command} reload`); "
        "with [reload] enabled it would pick it up by itself.",
    ]


def _print(line: str) -> None:
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def _adapters_dir(settings: Settings) -> Path:
    """`[model] adapters_dir`; naming a file is one sentence, as for `atri train`."""
    from model.adapters.reload import check_adapters_folder

    folder = settings.path(settings.model.adapters_dir)
    check_adapters_folder(folder)
    return folder


def _character(settings: Settings) -> CharacterId:
    """Whom the configured worker serves (the card's name and aliases): its reload job
    passes over versions trained as anyone else."""
    from model.adapters.versions import CharacterId
    from model.character.persona import configured_persona

    persona = configured_persona(settings)
    return CharacterId.of(persona.name, persona.aliases)


def _base(settings: Settings) -> ConfiguredBase:
    """The base the configured worker runs: its reload job refuses versions trained on
    another."""
    from model.adapters.validation import ConfiguredBase

    return ConfiguredBase.of(settings)


def _no_versions(folder: Path) -> str:
    where = f"{folder} does not exist yet" if not folder.exists() else f"{folder} holds none"
    return (
        f"No adapter versions: {where}; `atri train` (or `atri adapters adopt`) writes them "
        "there ([model] adapters_dir)."
    )


# The listing's columns: (header, justify, may wrap). Only the words wrap (between
# words), so a status folds rather than a number or a name being cut; a terminal too
# narrow for even that gets one line per version (`table_fits`).
COLUMNS: tuple[tuple[str, JustifyMethod, bool], ...] = (
    ("version", "left", False),
    ("age", "right", False),
    ("size", "right", False),
    ("base", "left", False),
    ("character", "left", True),
    ("train", "right", False),
    ("held-out", "right", False),
    ("gguf", "left", False),
    ("status", "left", True),
)
NEWEST_MEANS = '"newest" is the version a worker started now would load'
# Refusals whose word in the status column does not say what to fix: their sentence is
# printed below the table.
_REASON_SHOWN = {"bad manifest", "bad config"}


@adapters_app.command("list")
def adapters_list() -> None:
    """Show the versions in \\[model] adapters_dir, newest first, with their size.

    Status: live (what the worker at \\[worker] url, or host and port,
    serves; "newest", the one a worker would load, when none answers),
    rollback (kept loaded by that worker, \\[reload] keep_previous),
    other character (trained as another than \\[persona] card's, which
    that worker passes over), other base (trained on another than \\[model]
    base, which that worker refuses; the base column names each version's),
    refused (the reload job's own checks of its
    files fail, or under \\[reload] require_eval it has no evaluation; a word
    says which, and a line below names the files a folder copied in part
    lacks). A version made after the live one but named before it,
    which no worker takes, is named below the table. The checkpoints in
    .runs/ are one line below it."""
    from model.adapters.inventory import (
        ask_worker,
        hidden_by_name_notes,
        runs_bytes,
        size_text,
        versions_on_disk,
    )
    from model.adapters.versions import misnamed_hint, misnamed_versions

    settings = configured_settings()
    folder = _adapters_dir(settings)
    versions = versions_on_disk(
        folder, _character(settings), settings.reload.require_eval, base=_base(settings)
    )
    runs = runs_bytes(folder)
    if not versions:
        _print(_no_versions(folder))
    else:
        worker = ask_worker(settings, versions)
        rows = _version_rows(versions, worker)
        if table_fits(rows, console.width):
            console.print(_versions_table(rows))
        else:
            widths = _line_widths(rows)
            for cells in rows:
                _print(one_line(cells, widths))
        total = sum(v.size for v in versions)
        _print(f"{counted(len(versions), 'version')}, {size_text(total)} in {folder}.")
        _print(_worker_line(worker))
        notes = _legend(versions, worker, _base(settings)) + hidden_by_name_notes(versions, worker)
        # What a folder copied in part lacks, and what is wrong with a manifest or
        # config: their status words alone did not say.
        notes += [v.reason for v in versions if v.missing or v.refused in _REASON_SHOWN]
        for line in notes:
            _print(line)
    if runs is not None:
        _print(_runs_line(folder, size_text(runs), settings))
    if misnamed := misnamed_versions(folder):
        _print(misnamed_hint(folder, misnamed))


def _runs_line(folder: Path, size: str, settings: Settings) -> str:
    """What `.runs/` holds: the command that continues each interrupted run, with the
    flags its run.json records (a bare `--resume` of a run started with flags is
    refused: other settings), and whether a run is being trained into it now."""
    from model.adapters.versions import RUNS_DIR
    from model.training.run_folder import TRASH_PREFIX, being_trained, recorded_flags

    runs = folder / RUNS_DIR
    commands: list[str] = []
    training_now = False
    for run in sorted(p for p in runs.iterdir() if p.is_dir()):
        if run.name.startswith(TRASH_PREFIX):
            continue  # being deleted
        if being_trained(run):
            training_now = True
            continue
        command = f"`{atri_command('train', '--resume', *recorded_flags(run, settings))}`"
        commands += [command] if command not in commands else []
    now = "of a run being trained now"
    if training_now and not commands:
        return f"{runs}: {size} of checkpoints {now} (not versions; removed when it finishes)."
    also = f", and {now}" if training_now else ""
    resume = " or ".join(commands) or f"`{atri_command('train', '--resume')}`"
    return (
        f"{runs}: {size} of checkpoints for {resume}{also} (not versions; removed when their "
        "run finishes)."
    )


def _legend(
    versions: list[VersionOnDisk], worker: WorkerView, base: ConfiguredBase | None = None
) -> list[str]:
    """What the rarer statuses mean, when the table shows them (a line for a status no row
    has read as a row missing)."""
    from model.adapters.inventory import live_or_newest, status_of

    newest = live_or_newest(versions, worker)
    shown = {status_of(v, worker, newest) for v in versions}
    lines = []
    if "rollback" in shown and worker.kept_guessed:
        lines.append(
            "rollback: what a rollback goes back to, the [reload] keep_previous newest "
            "before the live version (the worker names those it keeps loaded only to a "
            "caller holding ATRI_ADMIN_TOKEN)."
        )
    elif "rollback" in shown:
        lines.append(
            "rollback: kept loaded by the worker beside the live version ([reload] "
            "keep_previous), so a rollback to it is instant."
        )
    if any(v.anothers for v in versions):
        lines.append(
            "other character: trained as another character than [persona] card's; a worker "
            "serving this one passes it over, and prune leaves it (give each character its "
            "own [model] adapters_dir)."
        )
    if any(v.other_base for v in versions):
        configured = f" ({base.name})" if base else ""
        lines.append(
            f"other base: trained on another base model than [model] base{configured}; a "
            "worker on this one refuses it, and prune leaves it for a worker on that base."
        )
    if "refused by the worker" in shown:
        lines.append(
            "refused by the worker: its last reload found it broken once loaded (its "
            "weights, its smoke test); prune keeps it only when newer than those it keeps."
        )
    if "rolled back" in shown:
        lines.append(
            "rolled back: an admin rolled back from it; no worker takes it again until a "
            "newer version comes or it is reloaded by name."
        )
    if any(v.refused for v in versions):
        lines.append(
            "refused: the reload job's checks of its files fail (the word says which), so "
            "no worker serves it; `atri adapters prune` removes those older than the "
            "versions it keeps."
        )
    return lines


def _version_rows(versions: list[VersionOnDisk], worker: WorkerView) -> list[list[str]]:
    """Each version's cells, in the order of COLUMNS."""
    from model.adapters.inventory import base_label, live_or_newest, size_text, status_of

    newest = live_or_newest(versions, worker)
    now = dt.datetime.now(dt.UTC)
    return [
        [
            v.name,
            age_text(now - published_at(v)),
            size_text(v.size),
            base_label(v.base) if v.base else "-",
            v.character or "-",
            _loss(v.loss("train_loss")),
            _loss(v.loss("eval_loss")),
            "yes" if v.has_gguf else "no",
            status_of(v, worker, newest),
        ]
        for v in versions
    ]


def published_at(version: VersionOnDisk) -> dt.datetime:
    """When a version was made, for its age: its name, or its manifest's created_at where
    the name lies ahead of that (it continued a name set by a clock ahead of this one's)."""
    made = version.made
    return made if made is not None and made < version.published else version.published


def _min_widths(rows: list[list[str]]) -> list[int]:
    """The narrowest each column may be: its widest cell, or for a column that wraps its
    longest word. A version name is never cut: cut, "20261205-083500-2" reads as another
    version, "20261205-083500"."""
    from rich.cells import cell_len

    widths = []
    for index, (header, _, wraps) in enumerate(COLUMNS):
        cells = [header, *(cells[index] for cells in rows)]
        pieces = [word for cell in cells for word in cell.split()] if wraps else cells
        widths.append(max(cell_len(piece) for piece in pieces))
    return widths


def table_fits(rows: list[list[str]], width: int) -> bool:
    """Whether the table fits `width` columns with no cell cut: two spaces between its
    columns, none at its edges."""
    return sum(_min_widths(rows)) + 2 * (len(COLUMNS) - 1) <= width


def one_line(cells: list[str], widths: tuple[int, int, int] = (0, 0, 0)) -> str:
    """A version on a terminal too narrow for the table: name, status, size, age, the
    first three padded to `widths` so that they line up."""
    name, age, size, *_, status = cells
    fields = (name.ljust(widths[0]), status.ljust(widths[1]), size.rjust(widths[2]), age)
    return "  ".join(cell for cell in fields if cell)


def _line_widths(rows: list[list[str]]) -> tuple[int, int, int]:
    """The widest name, status and size, for `one_line`."""
    return (
        max(len(cells[0]) for cells in rows),
        max(len(cells[-1]) for cells in rows),
        max(len(cells[2]) for cells in rows),
    )


def _versions_table(rows: list[list[str]]) -> Table:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, show_edge=False)
    for (header, justify, wraps), narrowest in zip(COLUMNS, _min_widths(rows), strict=True):
        table.add_column(
            header, justify=justify, no_wrap=not wraps, overflow="fold", min_width=narrowest
        )
    for cells in rows:
        # Text: a manifest's character name is never read as rich markup.
        table.add_row(*(Text(cell) for cell in cells))
    return table


def age_text(age: dt.timedelta) -> str:
    """How long ago a version was published, in the largest unit that fits ("5 min ago",
    "3 h ago", "12 d ago"): its name already holds the exact time (UTC)."""
    seconds = age.total_seconds()
    if seconds < 0:
        return "future"  # named by a clock set ahead
    if seconds < 60:
        return "now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "now"


def _loss(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _worker_line(worker: WorkerView, meaning: str = NEWEST_MEANS) -> str:
    """Where "live" comes from: the worker that answered, or why none did (then what
    that means, `meaning`)."""
    if not worker.answered:
        where = f" at {worker.url}" if worker.url else ""
        return f"No worker answered{where} ({worker.why}): {meaning}."
    serving = f"version {worker.live}" if worker.live else "the base model"
    return f"The worker at {worker.url} serves {serving}."


@adapters_app.command("prune")
def adapters_prune(
    keep: Annotated[
        str | None,
        typer.Option(
            "--keep", metavar="N", help="how many of the newest good versions to keep (1 or more)"
        ),
    ] = None,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="remove them without asking (needed without a terminal)"),
    ] = False,
) -> None:
    """Remove all but the newest N versions that pass the reload job's checks.

    Refused versions older than those go too. Never removed: the version the
    worker at \\[worker] url (or host and port) serves, those it keeps loaded
    for a rollback (\\[reload] keep_previous), the one \\[model] adapter names
    (a worker starts with it), another character's versions, those trained on
    another base than \\[model] base (a worker on that base serves them), one made after
    the newest kept but named before it, a link and the version it points
    to, anything that is not a version folder. Each version is moved into a hidden .tmp-… folder before it is
    deleted, so a worker looking at that moment never sees one half deleted."""
    from model.adapters.inventory import (
        ask_worker,
        prune_plan,
        remove_versions,
        size_text,
        versions_on_disk,
    )
    from model.adapters.versions import remove_stale_temps

    count = _versions_to_keep(keep)
    settings = configured_settings()
    folder = _adapters_dir(settings)
    # A prune (or a build) killed outright left its hidden folder, versions and all: run
    # again to free space, prune said it freed some while that stayed.
    for left in remove_stale_temps(folder):
        _print(f"Removed {left.name}, left in {folder} by a prune or build that was stopped.")
    versions = versions_on_disk(folder, _character(settings), base=_base(settings))
    if not versions:
        _print(_no_versions(folder))
        return
    worker = ask_worker(settings, versions)
    plan = prune_plan(versions, count, worker, _start_up_version(settings, folder))
    for line in _plan_lines(plan, worker):
        _print(line)
    if not plan.remove:
        return
    if not yes:
        ask_first(
            f"Remove {counted(len(plan.remove), 'version')}?",
            "Nothing removed: without --yes, prune asks before it removes anything, and no "
            "one can answer here (stdin is not a terminal); add --yes to remove them.",
            "Nothing removed.",
        )
    remove_versions(folder, plan.remove)
    _print(f"Removed {counted(len(plan.remove), 'version')}, {size_text(plan.freed)} freed.")


def _start_up_version(settings: Settings, folder: Path) -> str:
    """The version in `folder` that `[model] adapter` names (through a link too), which
    a worker loads as it starts and refuses to start without; "" for none."""
    if not settings.model.adapter.strip():
        return ""
    try:
        adapter = settings.path(settings.model.adapter).resolve()
        return adapter.name if adapter.parent == folder.resolve() else ""
    except (OSError, RuntimeError):  # a link loop: no version of the folder
        return ""


def _versions_to_keep(given: str | None) -> int:
    """--keep as a number of versions, 1 or more; anything else is one sentence."""
    if given is None:
        fail("Say how many of the newest versions to keep: `atri adapters prune --keep N`.", 2)
    try:
        count = int(given or "")
    except ValueError:
        count = 0
    if count < 1:
        fail(
            f"--keep {given}: give a whole number of versions to keep, 1 or more (the newest "
            "always stays, for a worker to load).",
            2,
        )
    return count


def _unasked(worker: WorkerView) -> str:
    """What a prune that asked no worker means, and what to do: a worker not running at
    its configured address is started; one elsewhere is named by [worker] url."""
    where = (
        "start it, or set [worker] url if it runs elsewhere"
        if worker.silent
        else "set [worker] url to the worker's address for prune to ask it"
    )
    return f"no version is kept as one a worker serves or holds for a rollback ({where})"


def _plan_lines(plan: PrunePlan, worker: WorkerView) -> list[str]:
    """What prune keeps and removes, and the space it frees, one line each."""
    from model.adapters.inventory import size_text

    if not plan.keep:
        return [
            "Nothing removed: no version passes the reload job's checks (see `atri adapters "
            "list`), so there is no newest good version to keep."
        ]
    lines = [_worker_line(worker, _unasked(worker))]
    names = ", ".join(v.name for v in plan.keep)
    kept = len(plan.keep)  # fewer than asked when fewer pass
    newest = "newest good version" if kept == 1 else f"{kept} newest good versions"
    lines.append(f"Keeping the {newest}: {names}.")
    lines += [f"Keeping {v.name}: {why}." for v, why in plan.spared]
    if not plan.remove:
        lines.append("Nothing to remove.")
        return lines
    for v in plan.remove:
        refused = f" (refused: {v.refused})" if v.refused else ""
        lines.append(f"To remove: {v.name}{refused}, {size_text(v.size)}.")
    if any(v.refused for v in plan.remove):
        lines.append(
            "Refused versions older than those kept go too: the reload job never serves them."
        )
    lines.append(f"{size_text(plan.freed)} to free in {counted(len(plan.remove), 'version')}.")
    return lines
