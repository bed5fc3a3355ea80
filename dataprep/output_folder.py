"""Putting the files of a run into the output folder safely: all are written into a
staging folder beside it and moved in only when complete, the earlier outputs put back
when a move fails or Ctrl-C stops it, so the folder never holds half a run or a mix of
two. A run killed outright (SIGKILL, a power cut) while moving leaves a list of what it
was moving: the next run puts the earlier outputs back from it before it reads anything.
Also where stats.png is drawn when the scripts are big (a child process, while the stages
run).

What each file holds is written by writers.py (datasets) and stats.py (stats.png).
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from atri.config import DataprepSettings
from atri.files import dead_leftovers, owned, owned_prefix, write_text_atomic
from atri.interrupt import interruptions_held
from atri.locks import exclusive_folder
from dataprep.errors import DataprepError
from dataprep.gc_pause import gc_paused
from dataprep.records import Sample
from dataprep.sources import collect_scripts
from dataprep.stats import PlotFailed, PlotProcess, Stats, plot_stats
from dataprep.writers import (
    DATASET_INFO,
    OutputNames,
    dataset_stem,
    merged_dataset_info,
    output_names,
    read_dataset_info,
    write_datasets,
    write_json,
)

# What runs before stats took the character's name wrote (one character's per folder).
LEGACY_STATS_JSON = "stats.json"
LEGACY_STATS_PNG = "stats.png"
# Scripts this big (in bytes, all files together) take longer than importing matplotlib:
# stats.png is then drawn by a child process while the pipeline runs (see PlotProcess).
PLOT_CHILD_BYTES = 4 << 20
# The folder inside staging that holds the earlier outputs while the new ones move in.
_EARLIER = ".earlier"
# In staging, written before the first move: the names of the new files being moved in.
_MOVING = ".moving.json"
# A write that failed for want of space: the disk is full, or the user's quota is.
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)

log = logging.getLogger(__name__)


def _staging_prefix(out: Path) -> str:
    """Staging folders are `.<out>.tmp-<pid>-<random>` beside `out`: the process id tells
    the next run whether the one that made it still runs."""
    return f".{out.name}.tmp-"


# A staging folder inside `out`, where `out` is a disk of its own (a mount point: a
# second disk, a Docker volume), which no file can be moved into from beside it (EXDEV).
# Hidden, and no name `atri prep` writes or `atri train` reads: neither takes it for output.
_INSIDE_PREFIX = ".atri-prep.tmp-"


def check_output_folder(out: Path) -> None:
    """DataprepError, before any work, when `out` or a folder above it is a file."""
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                raise DataprepError(
                    f"{path} is a file, not a folder; give --out a folder for the dataset."
                )
            return


def check_not_anothers(out: Path, settings: DataprepSettings, character: str) -> None:
    """DataprepError, before any work, when `out` holds another character's dataset under
    the file names this run writes: two heroines named in Chinese or Japanese only both
    write `character_*`, and the second replaced the first's with no word."""
    stem = dataset_stem(settings.character_aliases)
    stats = out / OutputNames(stem).stats("json")
    try:
        earlier = json.loads(stats.read_text(encoding="utf-8")).get("character")
    except (OSError, ValueError, AttributeError):
        return  # none there, or not one a run wrote: nothing of someone else's to keep
    if not isinstance(earlier, str) or earlier.strip().casefold() == character.casefold():
        return
    raise DataprepError(
        f"{out} already holds {earlier}'s dataset under the file names this run writes "
        f"({stem}_*.json): give {character} a folder of their own (--out, or [train] "
        "dataset), or first an alias in Latin letters, which names the files; if those "
        "files are an earlier run for them under another name, delete them first."
    )


def plotter_for(scripts: list[Path]) -> PlotProcess | None:
    """A child process to draw stats.png while the stages run, when the scripts are big
    enough to be worth it (and a Python can be started); else None."""
    return _start_plotter() if _script_bytes(scripts) >= PLOT_CHILD_BYTES else None


def _start_plotter() -> PlotProcess | None:
    try:
        return PlotProcess()
    except OSError:
        return None  # no Python to start (an embedded interpreter): draw it here instead


def _script_bytes(scripts: list[Path]) -> int:
    total = 0
    for path in collect_scripts(scripts):
        try:
            total += path.stat().st_size
        except OSError:
            continue  # reading it will say why
    return total


def write_output_folder(
    out: Path,
    stats: Stats,
    train: list[Sample],
    evaluation: list[Sample],
    settings: DataprepSettings,
    system_prompt: str,
    plotter: PlotProcess | None,
) -> list[str]:
    """Write every file of the run into a temporary folder beside `out`, then move them
    into `out` (see `replace_outputs`); a file that cannot be written is a DataprepError
    naming it, with `out` left as it was. Returns sentences for the user: a stats picture
    that could not be drawn (see `write_outputs`)."""

    def write(staging: Path, notes: list[str]) -> None:
        write_outputs(
            staging, stats, train, evaluation, settings, system_prompt, plotter, notes, out
        )

    stem = dataset_stem(settings.character_aliases)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        inside = out.is_dir() and os.path.ismount(out)
        with _staging_folder(out, inside) as staging:
            return _write_and_move_in(staging, out, write, stem)
    except OSError as exc:  # making the staging folder
        raise DataprepError(_cannot_write(out, exc)) from None


def _staging_folder(out: Path, inside: bool) -> contextlib.AbstractContextManager[Path]:
    """A new staging folder beside `out`, or inside it (see `_INSIDE_PREFIX`)."""
    folder, prefix = (out, _INSIDE_PREFIX) if inside else (out.parent, _staging_prefix(out))
    return owned(lambda: Path(tempfile.mkdtemp(prefix=owned_prefix(prefix), dir=folder)))


def _write_and_move_in(
    staging: Path, out: Path, write: Callable[[Path, list[str]], None], stem: str
) -> list[str]:
    notes: list[str] = []
    try:
        with gc_paused():
            write(staging, notes)
        try:
            late = replace_outputs(staging, out, stem)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # `out` is on another mount than its parent that `ismount` did not see (a
            # bind mount of the same disk): the files, copied into it, move in from there.
            late = _move_in_from_inside(staging, out, stem)
        if late:
            notes.append(
                "Ctrl-C came after the new files were in place, as the earlier ones were"
                " being deleted: the run had finished."
            )
    except OSError as exc:
        raise DataprepError(_write_error(exc, staging, out)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return notes


def _move_in_from_inside(staged: Path, out: Path, stem: str) -> bool:
    """`replace_outputs` from a staging folder inside `out` holding a copy of the files
    of `staged` (a failed replace put `out` back as it was)."""
    with _staging_folder(out, inside=True) as inner:
        try:
            for path in staged.iterdir():
                if path.is_file() and not path.name.startswith("."):  # not the journal
                    shutil.copyfile(path, inner / path.name)
            return replace_outputs(inner, out, stem)
        except OSError as exc:
            raise DataprepError(_write_error(exc, inner, out)) from None
        finally:
            shutil.rmtree(inner, ignore_errors=True)


def write_outputs(
    out: Path,
    stats: Stats,
    train: list[Sample],
    evaluation: list[Sample],
    settings: DataprepSettings,
    system_prompt: str,
    plotter: PlotProcess | None = None,
    notes: list[str] | None = None,
    earlier: Path | None = None,
) -> list[Path]:
    """Write every file into `out` (which must exist); returns the paths written.

    With a `plotter`, stats.png is drawn by it while the datasets are written, and is
    complete when this returns. A picture that fails to draw fails nothing else: the
    picture in `earlier` (the output folder `out` stages for) is kept in its place, or
    it is left out, and a sentence saying so goes to `notes`. dataset_info.json keeps the
    other datasets' entries of `earlier_info` (the output folder's dataset_info.json)."""
    stem = dataset_stem(settings.character_aliases)
    names = OutputNames(stem)
    stats_json, stats_png = out / names.stats("json"), out / names.stats("png")
    if plotter is not None:
        plotter.draw(stats, stats_png)
    written = write_datasets(
        out,
        train,
        evaluation,
        system_prompt,
        list(settings.output_formats),
        stem,
    )
    write_json(stats_json, stats.to_json())
    try:
        if plotter is None:
            note = plot_stats(stats, stats_png)
            drawn_notes = [note] if note else []
        else:
            drawn_notes = plotter.wait()
    except Exception as exc:  # the picture only: a font, matplotlib, a dead child process
        stats_png.unlink(missing_ok=True)  # never half a picture
        # Moving the new files in removes the earlier picture: it stays, as the new one.
        kept = earlier is not None and _kept_as(earlier / stats_png.name, stats_png)
        if notes is not None:
            notes.append(
                f"{stats_png.name} was not drawn ({_not_drawn_reason(exc)}); the datasets "
                f"and {stats_json.name} are written"
                + (
                    f"; the earlier {stats_png.name}, of the earlier data, is kept."
                    if kept
                    else "."
                )
            )
        return [*written, stats_json, stats_png] if kept else [*written, stats_json]
    if notes is not None:
        notes.extend(drawn_notes)  # her name not drawn for want of a CJK font
    return [*written, stats_json, stats_png]


def _not_drawn_reason(exc: Exception) -> str:
    """Why the picture was not drawn, as the user reads it: a full disk in words (the
    child drawing it says so only in its error's last line, "OSError: [Errno 28] …")."""
    why = str(exc) if isinstance(exc, PlotFailed) else f"{type(exc).__name__}: {exc}"
    code = exc.errno if isinstance(exc, OSError) else None
    if code is None and (found := re.search(r"\[Errno (\d+)\]", why)):
        code = int(found[1])
    if code in _DISK_FULL:
        return "the disk is full"
    return why


def _kept_as(picture: Path, staged: Path) -> bool:
    """Put the earlier `picture` at `staged`: a hard link, which takes no space on a disk
    that just ran out of it, else a copy; False when there is none or neither works."""
    if not picture.is_file():
        return False
    try:
        os.link(picture, staged)
        return True
    except OSError:
        pass  # another disk, or one without hard links: a copy
    try:
        shutil.copyfile(picture, staged)
        return True
    except OSError:
        staged.unlink(missing_ok=True)  # never half a picture
        return False


def replace_outputs(staging: Path, out: Path, stem: str) -> bool:
    """Move each file of `staging` into `out`, dataset_info.json last, and remove earlier
    outputs of this character that this run did not write (an eval file when the new run
    has no held-out set), so that `out` never mixes two runs. Other files stay.

    The earlier outputs are first moved aside into `staging`; when a move fails (OSError)
    or is interrupted (Ctrl-C), they are put back and the new files taken out, so `out` is
    as it was. The names being moved in are written down first, for a run killed outright
    (see `recover_interrupted`). True when a Ctrl-C came only once the new files were all
    in place (the run is done)."""
    out.mkdir(parents=True, exist_ok=True)
    # One `atri prep` at a time moves files into `out` (a lock on the folder, released
    # with the process if it dies): two runs for two characters read dataset_info.json
    # at their start, and the one to finish last dropped the other's entries.
    with exclusive_folder(out):
        _register_in_current_info(staging, out, stem)
        return _replace(staging, out, stem)


def _register_in_current_info(staging: Path, out: Path, stem: str) -> None:
    """The staged dataset_info.json (this character's entries) with the other entries of
    the one in `out` as it is now, under the lock: read any earlier, it could miss
    what another run added meanwhile."""
    staged = staging / DATASET_INFO
    if not staged.is_file():
        return
    ours = json.loads(staged.read_text(encoding="utf-8"))
    write_json(staged, merged_dataset_info(read_dataset_info(out / DATASET_INFO), ours, stem))


def _replace(staging: Path, out: Path, stem: str) -> bool:
    new = sorted(staging.iterdir(), key=lambda p: p.name == DATASET_INFO)
    ours = [*output_names(stem), *_legacy_stats(out, staging)]
    earlier = [n for n in ours if (out / n).is_file()]
    journal = {"earlier": earlier, "new": [p.name for p in new]}
    write_text_atomic(staging / _MOVING, json.dumps(journal))
    aside = staging / _EARLIER
    aside.mkdir()
    moved_aside: list[str] = []
    placed: list[str] = []
    # Ctrl-C is looked at after the moves and before the earlier files are deleted, not
    # let in between: come while the earlier files were deleted, it reported a run
    # stopped whose new files were in place and whose earlier ones were gone.
    with interruptions_held(deliver_interrupt=False) as held:
        try:
            for old in earlier:
                (out / old).replace(aside / old)
                moved_aside.append(old)
            for path in new:
                path.replace(out / path.name)
                placed.append(path.name)
            if held.pressed:  # Ctrl-C, or a SIGTERM `prepare` turns into one
                raise KeyboardInterrupt
        except BaseException:  # Ctrl-C too: the finally that follows deletes `staging`
            _put_back(out, aside, placed, moved_aside)
            raise
        shutil.rmtree(aside, ignore_errors=True)
    return bool(held.pressed)  # came as the earlier files were deleted


_ATRI_NAMES = frozenset(DataprepSettings().character_aliases)


def _legacy_stats(out: Path, staging: Path) -> list[str]:
    """stats.json and stats.png of an earlier run, when they are this character's (their
    character is the one this run's stats name): replaced by `<stem>_stats.*`."""
    try:
        earlier = json.loads((out / LEGACY_STATS_JSON).read_text(encoding="utf-8"))
        ours = json.loads(next(staging.glob("*_stats.json")).read_text(encoding="utf-8"))
    except (OSError, ValueError, StopIteration):
        return []
    if not isinstance(earlier, dict):
        return []
    if "character" in earlier:
        if earlier["character"] != ours.get("character"):
            return []
    # Releases before the "character" key prepared ATRI alone (their `atri_lines` says so).
    elif "atri_lines" not in earlier or ours.get("character") not in _ATRI_NAMES:
        return []
    return [LEGACY_STATS_JSON, LEGACY_STATS_PNG]


def recover_interrupted(out: Path) -> None:
    """Undo what a run killed outright left half done beside `out`: a staging folder of a
    process that is gone. Killed while moving its files in (dataset_info.json, the last,
    still in staging), the earlier outputs it had moved aside go back and the new files it
    had placed come out; killed before moving or after the last move, `out` is whole and
    only the staging folder goes."""
    # A staging folder of a process still running is another `atri prep` writing now.
    # (Each is held while the loop works on it: chained, never listed first.)
    leftovers = itertools.chain(
        dead_leftovers(out.parent, _staging_prefix(out)), dead_leftovers(out, _INSIDE_PREFIX)
    )
    for staging in leftovers:
        if not staging.is_dir():
            continue
        try:
            journal = json.loads((staging / _MOVING).read_text(encoding="utf-8"))
            earlier, new = list(journal["earlier"]), list(journal["new"])
        except (OSError, ValueError, TypeError, KeyError):
            earlier, new = [], []  # killed before its first move: `out` was never touched
        if any((staging / name).is_file() for name in new):
            log.warning(
                "%s: put back the earlier dataset files that an `atri prep` killed while "
                "moving its files in had moved aside.",
                out,
            )
            placed = [n for n in new if not (staging / n).exists()]
            _put_back(out, staging / _EARLIER, placed, earlier)
        shutil.rmtree(staging, ignore_errors=True)


def _put_back(out: Path, aside: Path, placed: list[str], moved_aside: list[str]) -> None:
    """Undo a replace that failed half way, as far as the folder lets us."""
    for name in placed:
        if name not in moved_aside:
            (out / name).unlink(missing_ok=True)
    for name in moved_aside:
        try:
            (aside / name).replace(out / name)
        except OSError:
            continue  # the error that brought us here is the one to report


def _write_error(exc: OSError, staging: Path, out: Path) -> str:
    """One sentence for a file that could not be written (disk full, no permission, a
    name too long), naming it where the user will look for it: in `out`, not staging."""
    path = Path(exc.filename) if exc.filename else out
    if path.is_relative_to(staging):
        relative = path.relative_to(staging)
        path = out / (
            relative.relative_to(_EARLIER) if relative.is_relative_to(_EARLIER) else relative
        )
    return _cannot_write(path, exc)


def _cannot_write(path: Path, exc: OSError) -> str:
    if exc.errno in _DISK_FULL:
        return (
            f"{path}: cannot be written: its disk is full ({exc.strerror}); free some "
            "space, then run `atri prep` again."
        )
    return f"{path}: cannot be written ({exc.strerror or exc})."
