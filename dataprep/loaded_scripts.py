"""The script files of a run, read and decoded (`load_scripts`): each one's text, format
and report, and what gathering the parse options learns of it (`LoadedScript`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from atri.config import DataprepSettings
from dataprep.encoding import replaced_lines
from dataprep.errors import DataprepError
from dataprep.formats import detect_format, detect_format_at, header_lines
from dataprep.progress import Progress, no_progress
from dataprep.sources import collect_scripts, read_script
from dataprep.stats import FileReport


@dataclass
class LoadedScript:
    path: Path
    text: str
    fmt: str
    report: FileReport
    # Languages of the Ren'Py `translate` dialogue blocks the file holds.
    languages: frozenset[str] = frozenset()
    # It defines characters (Ren'Py `Character`, TyranoScript `chara_new`): found while
    # the parse options are gathered, so a file with no lines of its own is not a failure.
    makes_characters: bool = False
    # Its encoding was guessed from its bytes (`Decoded.guessed`): the run names it.
    guessed_encoding: bool = False
    # Read as Unicode despite the forced [dataprep] encoding (`Decoded.instead_of`).
    unforced_encoding: bool = False


def load_scripts(
    scripts: list[Path],
    settings: DataprepSettings,
    fmt: str | None,
    progress: Progress = no_progress,
) -> tuple[list[LoadedScript], list[FileReport]]:
    """Read and decode every file; a bad one gets its error in its report, the rest go on."""
    chosen = fmt or (settings.format if settings.format != "auto" else None)
    loaded: list[LoadedScript] = []
    reports: list[FileReport] = []
    for path in collect_scripts(scripts):
        report = FileReport(path=str(path))
        reports.append(report)
        try:
            decoded = read_script(path, settings.encoding)
        except DataprepError as exc:
            report.error = str(exc)
            progress(str(path), 1)
            continue
        text = decoded.text
        report.encoding = decoded.encoding
        report.lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
        if not text or text.isspace():  # not text.strip(): no copy of a 20 MB text
            report.error = f"{path}: the file is empty; expected a game script."
            progress(str(path), 1)
            continue
        if decoded.replaced_bytes:
            report.replaced_bytes = decoded.replaced_bytes
            report.warning = (
                f"{path}: {decoded.replaced_bytes} byte(s) could not be read as"
                f" {decoded.encoding} and became �, on {replaced_lines(text)} of"
                f" {report.lines} lines, the first on line {decoded.first_replaced_line};"
                " the rest of the file was read."
            )
        elif decoded.superset_of:
            report.warning = (
                f"{path}: read as {decoded.encoding}, not as [dataprep] encoding"
                f' "{decoded.superset_of}", which cannot read {decoded.forced_unreadable} of its'
                f" bytes that {decoded.encoding}, its Windows superset, reads; set [dataprep]"
                f' encoding = "{decoded.encoding}".'
            )
        elif decoded.other_encoding:
            report.warning = (
                f"{path}: {decoded.other_lines} of its {report.lines} lines are not"
                f" {decoded.encoding} and were read as {decoded.other_encoding} (a file joined"
                " from two encodings); if they look garbled, save the file in one encoding."
            )
        json_file = path.suffix.lower() == ".json"
        if not json_file and (unbroken := unbroken_note(str(path), text, report.lines)):
            report.unbroken = True
            report.warning = f"{report.warning} {unbroken}" if report.warning else unbroken
        # A .json file is a message list, RPG Maker event data or no script at all,
        # whatever format is forced for the text files beside it (a folder's
        # dataset_info.json is never a dump).
        start = 0  # where the lines its format was told from start
        if json_file:
            report.format = detect_format(text, path.name)
        elif chosen:
            report.format = chosen
        else:
            report.format, _, start = detect_format_at(text, path.name, bool(settings.custom_regex))
        report.header_lines = header_lines(text, report.format, start)
        script = LoadedScript(
            path,
            text,
            report.format,
            report,
            guessed_encoding=decoded.guessed,
            unforced_encoding=decoded.instead_of is not None,
        )
        loaded.append(script)
    return loaded, reports


# Characters a line above which, on average, a file's lines are not separated by line
# breaks (a 12 MB dump on one line): a script's lines, a novel's paragraphs are far shorter.
_LINE_CHARS_MOST = 2000
_ESCAPED_BREAK = "\\n"  # `\n` written out, as some export tools end lines


def unbroken_note(path: str, text: str, lines: int) -> str | None:
    """A sentence on a file whose lines are not separated by line breaks (a long text on
    a line or two, or one line holding `\\n` written out), else None: each of its lines is
    read as one, the speaker at its start saying all the rest."""
    escaped = lines <= 1 and text.count(_ESCAPED_BREAK) >= 2
    if not escaped and len(text) <= lines * _LINE_CHARS_MOST:
        return None
    said = (
        f"{path}: is {lines} line{'s' if lines != 1 else ''} of {len(text):,} characters:"
        " its lines are not separated by line breaks, so all of a line is read as said by"
        " the speaker at its start; save it with a line break after each line"
    )
    if escaped:
        said += r" (it holds \n written out as two characters: replace those with line breaks)"
    return f"{said}."
