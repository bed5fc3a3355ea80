"""Where a Ren'Py translation's lines go: which language is read (`renpy_language`), and
each translated line put at the say statement it translates, in the original's file and
order, as the game shows it (`place_translations`); what the translation left out is
counted in a `TranslationTally`."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dataprep.errors import DataprepError
from dataprep.formats import ParseOptions
from dataprep.formats import renpy as renpy_format
from dataprep.formats.renpy import say_ids as renpy_say_ids
from dataprep.formats.renpy import translations as renpy_translations
from dataprep.languages import SAMPLE_CHARS, sample_language
from dataprep.loaded_scripts import LoadedScript
from dataprep.records import UNTRANSLATED, Utterance
from dataprep.report import TranslationTally


def renpy_language(setting: str, scripts: list[LoadedScript]) -> str:
    """The language whose Ren'Py lines are read ("original" for the untranslated ones),
    from [dataprep] renpy_language and the translations the files hold; DataprepError
    when "auto" finds several languages, a named one is not there (or has string
    translations only), or the language's files translate no line (an empty template)."""
    found = translated_languages(scripts)
    if setting == "auto":
        if len(found) > 1:
            raise DataprepError(
                f"The Ren'Py files hold translations in {len(found)} languages"
                f" ({', '.join(found)}); set [dataprep] renpy_language to one of them, or to"
                f' "{renpy_translations.ORIGINAL}" for the untranslated lines.'
            )
        chosen = found[0] if found else renpy_translations.ORIGINAL
    elif setting != renpy_translations.ORIGINAL and setting not in found:
        if any(setting in renpy_translations.string_languages(s.text) for s in scripts):
            raise DataprepError(
                f'[dataprep] renpy_language is "{setting}", but its game/tl/{setting} files'
                f" hold only string translations (`translate {setting} strings`: menus,"
                " interface), no translated dialogue; set the key to"
                f' "{renpy_translations.ORIGINAL}" for the original lines.'
            )
        held = f"translations in {', '.join(found)} only" if found else "no translations"
        raise DataprepError(
            f'[dataprep] renpy_language is "{setting}", but the Ren\'Py files given hold'
            f' {held}; give its game/tl/{setting} folder, or set the key to "auto".'
        )
    else:
        chosen = setting
    if chosen != renpy_translations.ORIGINAL and not any(
        renpy_translations.has_translated_text(s.text, chosen)
        for s in scripts
        if chosen in s.languages
    ):
        # An empty template: every block's line "", read as no line at all.
        raise DataprepError(
            f"The Ren'Py {chosen} translation files hold no translated lines (an empty"
            f' template: every translated string is ""); set [dataprep] renpy_language to'
            f' "{renpy_translations.ORIGINAL}" for the original lines.'
        )
    return chosen


def translated_languages(scripts: Iterable[LoadedScript]) -> list[str]:
    """The languages of the Ren'Py translations the files hold, sorted."""
    return sorted(set().union(*(s.languages for s in scripts)))


def unclosed_strings(batch: list[Utterance], source: str) -> list[int]:
    """The lines of `source` in `batch` that are say statements whose string is never
    closed (not a translation file's lines put in their original's place: they are named
    at their own lines, in their own file's warning)."""
    return [
        u.line
        for u in batch
        if u.dropped == renpy_format.UNCLOSED_STRING and u.source == source and u.read_from is None
    ]


@dataclass
class _Placed:
    """The chosen language's translated Ren'Py lines, put where the say statements they
    translate are: `at` original file → its line → the lines translating the statement
    there; `read` translation file → (its lines left where they are, because the file
    they translate was not given, and how many lines it held in all); `spoken` whether
    any of a translation file's lines has a speaker; `unclosed` a translation file's own
    lines that are say statements never closing their string, wherever they were put;
    `language` the language of a translation file's lines read (`sample_language`), which
    are counted as its own wherever they were put."""

    at: dict[Path, dict[int, list[Utterance]]] = field(default_factory=dict)
    read: dict[Path, tuple[list[Utterance], int]] = field(default_factory=dict)
    spoken: dict[Path, bool] = field(default_factory=dict)
    unclosed: dict[Path, list[int]] = field(default_factory=dict)
    language: dict[Path, str] = field(default_factory=dict)


def place_translations(
    scripts: list[LoadedScript], options: ParseOptions, tally: TranslationTally | None = None
) -> _Placed:
    """Read the chosen language's translation files first, and put each translated line
    at the say statement it translates (the `# game/script.rpy:12` above its `translate`
    block), in a file given: the game shows it there, in the original's order, between
    the lines its Python says; read file by file, every translated line would come after
    all of those. A line whose original file is not given stays in its own file's order.
    `tally` counts what was left out (`TranslationTally`)."""
    placed = _Placed()
    language = options.renpy_language
    if language is None or language == renpy_translations.ORIGINAL:
        return placed
    tally = TranslationTally() if tally is None else tally
    renpy = [s for s in scripts if s.fmt == "renpy"]
    # Each translation file's dialogue blocks, read once: where its lines go, and which
    # identifiers it names (`_say_identifiers`).
    blocks = {
        s.path: renpy_translations.translation_origins(s.text)
        for s in renpy
        if language in s.languages
    }
    if not any(blocks.values()):
        return placed
    # Each file's path, as its parts from the root, to find the one a comment names
    # (`game/script.rpy`, from the game's base folder).
    parts = {s.path: s.path.resolve().parts for s in renpy}
    lines_of = _Lines({s.path: s.text for s in renpy})
    # Each say statement's translation identifier → its file and line, as Ren'Py matches
    # a translation to it.
    named = {origin.identifier for found in blocks.values() for origin in found}
    identified = _say_identifiers(renpy, named)
    read: list[tuple[LoadedScript, list[Utterance], list[_Block]]] = []
    for script in renpy:
        origins = blocks.get(script.path)
        if not origins:
            continue
        try:
            said = renpy_format.parse(script.text, str(script.path), options)
        except DataprepError:
            continue  # read again in its turn, which reports it
        placed.unclosed[script.path] = unclosed_strings(said, str(script.path))
        found = [_block(o, script.path, identified, parts, lines_of) for o in origins]
        read.append((script, said, found))
    shown = _shown_blocks([b for _, _, found in read for b in found], lines_of, tally)
    for script, said, found in read:
        firsts = [b.origin.first for b in found]
        left: list[Utterance] = []
        unshown = 0
        sample: list[str] = []  # the first lines read, to tell their language
        sampled = 0
        for line in said:
            at = bisect_right(firsts, line.line) - 1
            block = found[at] if at >= 0 and line.line <= found[at].origin.last else None
            if block is not None and id(block) not in shown:
                unshown += 1  # a stale block Ren'Py never shows (`_shown_blocks`)
                continue
            if block is not None and block.copied:
                # The original copied, as Ren'Py's template pre-fills it: not the language's
                # line. The original's own is not read instead: a player of this language
                # sees the original's text there, but a dataset of the language holds none
                # of the original's; counted, it ends the exchange as a missing one does.
                line.dropped = UNTRANSLATED
            elif sampled < SAMPLE_CHARS:
                sample.append(line.text)
                sampled += len(line.text)
            target = None if block is None else block.target
            if target is None:
                left.append(line)
                continue
            original, number = target
            line.read_from = (line.source, line.line)
            line.source, line.line = str(original), number
            placed.at.setdefault(original, {}).setdefault(number, []).append(line)
        placed.read[script.path] = (left, len(said) - unshown)
        placed.spoken[script.path] = any(u.speaker is not None for u in said)
        placed.language[script.path] = sample_language("\n".join(sample))
    # Without the original a block translates, its menus and branches are unknown.
    tally.unplaced.update(
        b.origin.file for _, _, found in read for b in found if b.says and b.target is None
    )
    # An `extend` is read into the line before it, so no line stands at its statement:
    # the block shown for it is its translation.
    translated = {
        b.target for _, _, found in read for b in found if b.says and id(b) in shown and b.target
    }
    _count_untranslated(identified, placed, translated, set(blocks), tally)
    return placed


class _Lines:
    """Each Ren'Py file's lines, split once when first asked for."""

    def __init__(self, texts: dict[Path, str]) -> None:
        self._texts = texts
        self._lines: dict[Path, list[str]] = {}

    def __call__(self, path: Path) -> list[str]:
        found = self._lines.get(path)
        if found is None:
            found = self._lines[path] = self._texts[path].splitlines()
        return found


@dataclass(eq=False)
class _Block:
    """A translation file's dialogue block: the say statement it translates (`target`:
    its file and line; None where that file is not given), whether it was found by the
    block's identifier (else by the comment above it), whether its statements are the
    original copied, and whether they hold a string that is not empty (`says`)."""

    origin: renpy_translations.Origin
    target: tuple[Path, int] | None
    by_identifier: bool
    copied: bool
    says: bool


def _block(
    origin: renpy_translations.Origin,
    translation: Path,
    identified: dict[str, tuple[Path, int]],
    parts: dict[Path, tuple[str, ...]],
    lines_of: _Lines,
) -> _Block:
    # The identifier decides, as in the game; the comment above the block when no file
    # given has a statement of that identifier (the comment's line is stale once the
    # script is edited; a block may have no comment at all).
    target = identified.get(origin.identifier)
    by_identifier = target is not None and target[0] != translation
    if not by_identifier:
        original = _original_file(origin.file, translation, parts)
        target = None if original is None else (original, origin.line)
    code, comments = renpy_translations.block_code(lines_of(translation), origin)
    if not comments and target is not None:
        # No comment to compare with: the original's statement, where it is one line.
        lines = lines_of(target[0])
        comments = [lines[target[1] - 1].strip()] if 0 < target[1] <= len(lines) else []
    return _Block(
        origin,
        target,
        by_identifier,
        renpy_translations.copied_original(code, comments),
        renpy_translations.holds_text(code),
    )


def _shown_blocks(blocks: list[_Block], lines_of: _Lines, tally: TranslationTally) -> set[int]:
    """The blocks whose lines are read (by `id`): each found by its identifier, as Ren'Py
    shows it; a stale one (its identifier names no say statement given, so Ren'Py never
    shows it) only where its comment's line has no translation found by identifier and
    is within its file, the last of those naming one line (Ren'Py writes a block for an
    edited line below the older ones). Without a file to put it in, a block is read in
    its own file's order. The stale blocks left out are counted."""
    by_identifier = {b.target for b in blocks if b.by_identifier}
    stale: dict[tuple[Path, int], _Block] = {}
    shown: set[int] = set()
    for block in blocks:
        target = block.target
        if block.by_identifier or target is None:
            shown.add(id(block))
        elif target not in by_identifier and target[1] <= len(lines_of(target[0])):
            stale[target] = block
    shown.update(id(b) for b in stale.values())
    tally.stale += len(blocks) - len(shown)
    tally.copied += sum(1 for b in blocks if b.copied and id(b) in shown)
    return shown


def _count_untranslated(
    identified: dict[str, tuple[Path, int]],
    placed: _Placed,
    translated: set[tuple[Path, int]],
    translations: set[Path],
    tally: TranslationTally,
) -> None:
    """Count, by file, the original's say statements no translated line was put at and
    no block shown with text translates (`translated`)."""
    statements = {t for t in identified.values() if t[0] not in translations}
    for path, line in statements:
        if line not in placed.at.get(path, {}) and (path, line) not in translated:
            tally.missing[path] += 1
    tally.statements += len(statements)


def _say_identifiers(scripts: list[LoadedScript], named: set[str]) -> dict[str, tuple[Path, int]]:
    """The translation identifier of each say statement in the Ren'Py files → its file
    and line (`renpy_say_ids.say_identifiers`); the first file's, where two give one. Ren'Py
    8.5.1 stopped hashing a voice statement into the identifier of the say statement below
    it, and 8.3 began writing a `__name` in a string as `_m1_<file>__name`: the game's
    translation files show which version made them, by the identifiers they name
    (`named`)."""
    schemes: tuple[dict[str, tuple[Path, int]], ...] = ({}, {}, {})
    for script in scripts:
        for found, identifiers in zip(
            schemes,
            renpy_say_ids.say_identifier_schemes(script.text, script.path.name),
            strict=True,
        ):
            for identifier, line in identifiers.items():
                found.setdefault(identifier, (script.path, line))
    # The one naming most of the translation's blocks; the oldest one on a tie.
    return max(schemes, key=lambda found: len(named.intersection(found)))


def _original_file(
    named: str, translation: Path, parts: dict[Path, tuple[str, ...]]
) -> Path | None:
    """The file given whose path ends with `named` (as a translate block's comment writes
    it), other than the translation file itself; None when none does."""
    wanted = tuple(p for p in named.replace("\\", "/").split("/") if p)
    for path, whole in parts.items():
        if path != translation and whole[-len(wanted) :] == wanted:
            return path
    return None


def other_language(script: LoadedScript, options: ParseOptions) -> bool:
    """Whether a Ren'Py file's lines are in a language other than the one read: a
    translation file when the original is read, the original (or another language's
    file) when a translation is."""
    language = options.renpy_language
    if language is None:
        return False
    if language == renpy_translations.ORIGINAL:
        return bool(script.languages) or is_translation_file(script)
    return language not in script.languages


def is_translation_file(script: LoadedScript) -> bool:
    """Whether a Ren'Py file is part of a translation: it holds `translate <lang> …:`
    blocks (a game's tl/<lang>/common.rpy holds `translate <lang> strings:` only, its
    `# game/script.rpy:9` comments no lines), or lies in a `tl/<lang>/` folder."""
    # `tl`, then a language's folder, then the file (or folders holding it).
    in_tl = "tl" in script.path.parts[:-2]
    return in_tl or bool(renpy_translations.block_languages(script.text))
