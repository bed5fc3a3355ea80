"""What a run tells the user about itself: the tallies taken as lines stream past, the
stats' stage rows and speakers table filled in from them, and the sentences printed after
the tables (the notes on what was left out, and why nothing was written when nothing was).

The stats' shape and its picture live in stats.py; this module only fills them in.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from atri.config import DataprepSettings
from atri.terminal import counted
from dataprep.formats import ParseOptions
from dataprep.formats.renpy import translations as renpy_translations
from dataprep.formats.renpy.names import NOT_A_STRING_VALUE
from dataprep.languages import LANGUAGE_CODES
from dataprep.records import UNTRANSLATED, Role, Sample, scene_key
from dataprep.speakers import SpeakerMap, normalise_name
from dataprep.stats import FileReport, SpeakerCount, Stats

# Speakers named in the one-sentence hint when the lead or the character matched nothing.
_HINT_SPEAKERS = 5
# The variables most named when the lead's and the character's lines are lost to them.
_VARIABLES_NAMED = 5
# Tags named in the note on lines given to tags no file given defines.
_TAGS_NAMED = 5
# Ren'Py files without dialogue named in their one line; the rest are counted.
_QUIET_NAMED = 5
# Lines named in the warning on a file's say statements whose string is never closed.
_UNCLOSED_NAMED = 5


@dataclass
class Counts:
    """What went through the speakers and clean stages, tallied by speaker name as the
    lines stream past (one counter step a line) and summed by role at the end."""

    # Lines by speaker name as written; None is narration.
    heard: Counter[str | None] = field(default_factory=Counter)
    role_of: dict[str | None, Role] = field(default_factory=dict)
    # Lines empty after cleaning, by role.
    empty_by_role: Counter[Role] = field(default_factory=Counter)
    # Lines a parser marked unusable (Utterance.dropped), by role and reason.
    unusable: Counter[tuple[Role, str]] = field(default_factory=Counter)
    # The variables named in the lead's and the character's lines dropped for one.
    unresolved: Counter[str] = field(default_factory=Counter)
    # The tags no file given defines (`[saudio]`) that lines were given to, with how many.
    left_out_macros: Counter[str] = field(default_factory=Counter)
    narration_cleaned: bool = False
    # The names that say the lead's line is a thought (`夏生（心想）`), and his lines left
    # out as thoughts (`pipeline._without_thoughts`).
    thinking: set[str | None] = field(default_factory=set)
    thoughts: int = 0
    samples: int = 0
    # The scenes lines were read in, as (source, scene); and those samples were made in,
    # before the filter (`Sample.scene_key`).
    scenes: set[tuple[str, str]] = field(default_factory=set)
    sample_scenes: set[str] = field(default_factory=set)
    # Those where a line of the character's that followed one of the lead was only a sound.
    sounds_after_lead: set[str] = field(default_factory=set)
    # Her lines set aside before samples were made (too long a prompt, empty after
    # cleaning, unusable), by scene key and reason: why a scene may have no sample.
    dropped_in_scene: defaultdict[str, Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )

    @property
    def roles(self) -> Counter[Role]:
        by_role: Counter[Role] = Counter()
        for who, n in self.heard.items():
            by_role[self.role_of[who]] += n
        return by_role

    @property
    def speakers(self) -> Counter[str]:
        """Lines by speaker name, narration left out."""
        return Counter(
            {
                who: n
                for who, n in self.heard.items()
                if who is not None and self.role_of[who] is not Role.NARRATION
            }
        )

    @property
    def cleaned(self) -> int:
        roles = self.roles
        return sum(roles.values()) - (0 if self.narration_cleaned else roles[Role.NARRATION])

    @property
    def empty(self) -> int:
        return sum(self.empty_by_role.values())

    @property
    def character_lines(self) -> int:
        return self.roles[Role.CHARACTER]

    @property
    def character_empty(self) -> int:
        return self.empty_by_role[Role.CHARACTER]

    @property
    def unusable_reasons(self) -> Counter[str]:
        reasons: Counter[str] = Counter()
        for (_, reason), n in self.unusable.items():
            reasons[reason] += n
        return reasons

    @property
    def character_unusable(self) -> Counter[str]:
        return Counter(
            {reason: n for (role, reason), n in self.unusable.items() if role is Role.CHARACTER}
        )


def record_stages(
    stats: Stats,
    reports: list[FileReport],
    counts: Counts,
    turn_drops: Counter[str],
    filter_drops: Counter[str],
    kept: int,
) -> None:
    readable = [r for r in reports if r.error is None]
    stats.add_stage(
        "read",
        "files",
        len(reports),
        len(readable),
        Counter(_file_problem(r.error) for r in reports if r.error),
    )
    stats.add_stage(
        "extract", "lines → utterances", sum(r.lines for r in readable), sum(counts.roles.values())
    )
    utterances = sum(counts.roles.values())
    stats.roles = {role.value: n for role, n in sorted(counts.roles.items())}
    stats.add_stage(
        "speakers",
        "utterances → lead + character lines",
        utterances,
        counts.roles[Role.LEAD] + counts.roles[Role.CHARACTER],
        Counter(narration=counts.roles[Role.NARRATION], other_speakers=counts.roles[Role.OTHER]),
    )
    unusable = counts.unusable_reasons
    stats.add_stage(
        "clean text",
        # Other speakers' lines are cleaned too (they end exchanges), and narration in the
        # "stage" mode: said, the table's "in" here is not the speakers stage's "out".
        "all spoken lines" + (" and narration" if counts.narration_cleaned else ""),
        counts.cleaned,
        counts.cleaned - counts.empty - unusable.total() - counts.thoughts,
        Counter(empty_after_clean=counts.empty, **unusable, lead_thought=counts.thoughts),
    )
    stats.character_lines_in = counts.character_lines
    turns_in = counts.character_lines - counts.character_empty - counts.character_unusable.total()
    joined = _joined_lines(turns_in, turn_drops, counts.samples)
    stats.add_stage(
        "turns",
        f"{stats.character} lines → samples"
        + (f" ({joined} joined into replies)" if joined else ""),
        turns_in,
        counts.samples,
        turn_drops,
        joined,
    )
    stats.add_stage("filter", "samples", counts.samples, kept, filter_drops)


def _joined_lines(lines_in: int, turn_drops: Counter[str], samples: int) -> int:
    """The character's lines the turns stage joined to her line before, one reply
    (`TURN_JOINER`): each of her turns it does not drop is one sample however many lines
    it holds, so her lines in are its samples, its drops and these."""
    return lines_in - turn_drops.total() - samples


def _file_problem(error: str | None) -> str:
    text = error or ""
    if "no dialogue" in text:
        return "no dialogue"
    if "is empty" in text:
        return "empty"
    return "unreadable"


# The formats whose games hold files of no dialogue beside their story (Ren'Py's
# options.rpy and screens.rpy, TyranoScript's title.ks and config.ks), and the name of
# such a file in the line summing them up.
QUIET_FORMATS = {"renpy": ".rpy file", "kirikiri": ".ks file"}
# A .json beside the scripts that is no message list (an earlier run's dataset, a
# tool's settings): quiet when any file of any format was read.
_NO_SCRIPT = {"json": ".json file"}


def quiet_files(files: list[FileReport]) -> list[FileReport]:
    """The Ren'Py and KiriKiri files with no dialogue (`FileReport.quiet`: options.rpy,
    a file of narration alone, a TyranoScript title.ks), when another file of their format
    given has dialogue: every game has such files, and a "no dialogue found" with its
    format hint for each reads as if something were wrong. When no file of the format has
    dialogue, the hint may help, and each keeps its own sentence; so does a .ks file whose
    lines wait for macros no file given defines."""
    quiet: list[FileReport] = []
    for fmt in QUIET_FORMATS:
        same = [f for f in files if f.format == fmt]
        if any(f.error is None and f.utterances for f in same):
            quiet += [f for f in same if f.error is not None and f.quiet]
    if any(f.error is None and f.utterances for f in files):
        quiet += [f for f in files if f.format in _NO_SCRIPT and f.error is not None and f.quiet]
    return quiet


def without_dialogue_line(quiet: list[FileReport]) -> str | None:
    """The one line on the `quiet_files`, naming them, format by format."""
    said = []
    for fmt, kind in (QUIET_FORMATS | _NO_SCRIPT).items():
        names = distinct_names([Path(f.path) for f in quiet if f.format == fmt])
        if not names:
            continue
        named = ", ".join(names[:_QUIET_NAMED])
        more = len(names) - _QUIET_NAMED
        if more > 0:
            named += f" and {more} more"
        one = len(names) == 1
        if fmt in _NO_SCRIPT:
            what = "is no message list" if one else "are no message lists"
            said.append(f"{counted(len(names), kind)} {what}, so no script ({named}).")
        else:
            said.append(
                f"{counted(len(names), kind)} {'holds' if one else 'hold'} no dialogue ({named})."
            )
    return " ".join(said) or None


def distinct_names(paths: list[Path]) -> list[str]:
    """Each file's name, or where two share one (a game's screens.rpy and its
    tl/russian/screens.rpy), its path from the folder above all of those."""
    shared: dict[str, list[Path]] = {}
    for path in paths:
        shared.setdefault(path.name, []).append(path)
    named: dict[Path, str] = {}
    for same in shared.values():
        if len(same) == 1:
            continue
        common = Path(os.path.commonpath([p.parent for p in same]))
        for path in same:
            named[path] = path.relative_to(common).as_posix()
    return [named.get(path, path.name) for path in paths]


# The formats whose lines may be dropped as UNCLOSED_STRING, each named in a warning.
UNCLOSED_FORMATS = frozenset({"renpy", "csv"})


def unclosed_strings_warning(path: str, lines: list[int], fmt: str = "renpy") -> str:
    """The warning on a Ren'Py file's say statements on `lines` whose string is never
    closed (UNCLOSED_STRING), or a table's quoted cells: each line was left out, those
    below it were read."""
    named = ", ".join(map(str, lines[:_UNCLOSED_NAMED]))
    if len(lines) > _UNCLOSED_NAMED:
        named += f" and {len(lines) - _UNCLOSED_NAMED} more"
    if fmt == "csv":
        return (
            f"{path}: the quoted cell on line{'s' if len(lines) > 1 else ''} {named} is never"
            " closed (a stray quote mark, which took the rows below into one cell); that"
            f" line{'s were' if len(lines) > 1 else ' was'} left out, the rows below it read."
        )
    if len(lines) == 1:
        return (
            f"{path}: the string of the say statement on line {named} is never closed (a stray"
            " quote mark, a parse error to Ren'Py); that line was left out, the lines below"
            " it were read."
        )
    return (
        f"{path}: the strings of the say statements on lines {named} are never closed (stray"
        " quote marks, parse errors to Ren'Py); those lines were left out, the lines below"
        " them were read."
    )


def speaker_report(seen: Counter[str], speakers: SpeakerMap) -> list[SpeakerCount]:
    """Speakers by line count, names that compare equal and matched the same role counted
    as one (the most used spelling shown), each with the role its name matched."""
    # The role of a spelling as written: `Atri says` is hers, `Atri Says` a name. Grouped
    # by name alone, one row would give the lines of both to the role of the commoner.
    groups: dict[tuple[str, Role], Counter[str]] = {}
    for name, n in seen.items():
        groups.setdefault((normalise_name(name), speakers.role(name)), Counter())[name] = n
    report = [
        SpeakerCount(spellings.most_common(1)[0][0], spellings.total(), role.value)
        for (_, role), spellings in groups.items()
    ]
    return sorted(report, key=lambda s: (-s.lines, s.name))


def character_name(settings: DataprepSettings) -> str:
    """The character's name in messages and pictures: the first of their aliases."""
    return settings.character_aliases[0].strip()


@dataclass
class TranslationTally:
    """What a Ren'Py translation left out (`translation_placement.place_translations`): its blocks
    that are the original copied (`copied`), its stale blocks (`stale`: their identifier
    names no say statement, and their line has a translation of its own or is past its
    file's end), the original's say statements (`statements`, by file) that no
    translated line stands at (`missing`), and its blocks whose original file was not
    given (`unplaced`, by the file their comment names; "" where none does)."""

    copied: int = 0
    stale: int = 0
    statements: int = 0
    missing: Counter[Path] = field(default_factory=Counter)
    unplaced: Counter[str] = field(default_factory=Counter)


# Files named in the note on the original's lines with no translation; the rest counted.
_UNTRANSLATED_NAMED = 3


def notes(
    stats: Stats,
    counts: Counts,
    train: list[Sample],
    evaluation: list[Sample],
    settings: DataprepSettings,
    options: ParseOptions,
    translations: list[str],
    tally: TranslationTally | None = None,
) -> list[str]:
    """Every sentence on what the run left out of the files and why, in the order they are
    printed: which language's Ren'Py lines were read (`translations`: the languages the
    files hold, sorted; `tally`: what the translation left out), why no held-out file was
    written, which variables lost lines."""
    tally = tally or TranslationTally()
    said = [
        _language_note(options, translations, tally),
        _unplaced_note(options, tally),
        _copied_note(options, tally),
        _stale_note(tally),
        _held_out_note(stats, counts, train, evaluation, settings),
        _big_held_out_note(train, evaluation, settings.eval_ratio),
        _unresolved_note(counts.unresolved, options),
        _left_out_macros_note(counts.left_out_macros),
        _typed_leads_note(options),
        _webgal_variables_note(options),
        _webgal_computed_note(options),
        _mixed_languages_note(stats.files),
        # A run that failed says it in its one sentence (`problem`); one that wrote a few
        # samples from a file read mostly as narration says it here.
        _few_speakers_note(stats).strip() or None if train else None,
    ]
    return [sentence for sentence in said if sentence is not None]


def card_language_note(
    files: list[FileReport], card: str, offline_english: bool, guard_follows_card: bool
) -> str | None:
    """A sentence when every file read is in one language and the character card is
    used in another (`card`, a code as [persona] language gives it): the adapter then
    learns to answer in the script's language under a system prompt in the card's, and
    the worker's out-of-character guard judges her replies by the card's (when
    `guard_follows_card`: [ooc] language = "auto"). `offline_english`: "auto" chose
    English because the base is the offline default."""
    read = {f.language for f in files if f.error is None and f.language}
    if not card or len(read) != 1:
        return None  # several languages: `_mixed_languages_note` says so
    (language,) = read
    spoken = next((name for name, code in LANGUAGE_CODES.items() if code == card), "")
    if LANGUAGE_CODES.get(language, card) == card or not spoken:
        return None
    why = (
        '; on the offline default model "auto" is English, the only language it knows'
        if offline_english
        else ""
    )
    guard = (
        f', and the worker\'s out-of-character guard ([ooc] language = "auto") takes replies'
        f" in {language} for drift"
        if guard_follows_card
        else ""
    )
    return (
        f"The lines read are in {language}, but the character card is used in {spoken}"
        f' ([persona] language, "{card}"{why}): the adapter learns to answer in {language}'
        f" under a system prompt in {spoken}{guard}. Prepare a script in {spoken}, or use"
        f" the card in {language} (with a base model that speaks it)."
    )


def _mixed_languages_note(files: list[FileReport]) -> str | None:
    """The languages of the files read, when there are several: one game's scripts in
    several languages side by side (not as a Ren'Py `tl/` translation, of which one
    language is read) make samples in all of them."""
    by_language: dict[str, list[Path]] = {}
    for f in files:
        if f.error is None and f.language:
            by_language.setdefault(f.language, []).append(Path(f.path))
    if len(by_language) < 2:
        return None
    ranked = sorted(by_language.items(), key=lambda item: (-len(item[1]), item[0]))
    named = []
    for language, paths in ranked:
        names = distinct_names(paths)
        shown = ", ".join(names[:_QUIET_NAMED]) + (
            f" and {len(names) - _QUIET_NAMED} more" if len(names) > _QUIET_NAMED else ""
        )
        named.append(f"{counted(len(paths), 'file')} in {language} ({shown})")
    return (
        f"The files read are in {len(ranked)} languages: {'; '.join(named)}. The samples mix"
        " them: give the files of the language she is to speak."
    )


def _language_note(options: ParseOptions, found: list[str], tally: TranslationTally) -> str | None:
    """Which language's Ren'Py lines the dataset holds, when the files hold translations
    (`found`: their languages, sorted), and how many of the original's say statements
    have no translation, the files most of them are in."""
    if not found:
        return None
    used = options.renpy_language
    if used == renpy_translations.ORIGINAL:
        return (
            f"Ren'Py translations ({', '.join(found)}) were left out: the dataset holds the"
            ' original lines ([dataprep] renpy_language = "original").'
        )
    missing = tally.missing.total()
    left_out = ""
    if missing:
        most = tally.missing.most_common(_UNTRANSLATED_NAMED)
        named = ", ".join(f"{path.name} {n}" for path, n in most)
        more = len(tally.missing) - len(most)
        if more > 0:
            named += f" and {more} more file{'s' if more != 1 else ''}"
        have, were = ("has", "was") if missing == 1 else ("have", "were")
        left_out = (
            f"; {missing} of the original's {tally.statements} say statements {have} no {used}"
            f" translation and {were} left out ({named})"
        )
    return (
        f"Ren'Py translations found ({', '.join(found)}): the dataset holds the {used} lines,"
        f' not the original ones{left_out}; [dataprep] renpy_language = "original" reads'
        " those."
    )


def _unplaced_note(options: ParseOptions, tally: TranslationTally) -> str | None:
    """A sentence when translate blocks were read without the original script they
    translate (only `game/tl/<language>` given, as Chinese patches ship): its menus and
    if/else branches are unknown, so their choices' lines were read one after another."""
    blocks = tally.unplaced.total()
    if not blocks:
        return None
    files = sorted(name for name in tally.unplaced if name)
    shown = ", ".join(files[:_UNTRANSLATED_NAMED]) + (
        f" and {len(files) - _UNTRANSLATED_NAMED} more" if len(files) > _UNTRANSLATED_NAMED else ""
    )
    named = f" ({shown}, named by the blocks' comments)" if files else ""
    one = len(files) == 1
    return (
        f"{counted(blocks, 'translate block')} of the Ren'Py {options.renpy_language}"
        f" translation {'was' if blocks == 1 else 'were'} read without the original"
        f" script{'' if one else 's'}{named}, which {'was' if one else 'were'} not given: its"
        " menus and if/else branches are unknown, so those lines are read in file order, one"
        " choice's lines running on into the next one's; give those files too (the game"
        " folder beside tl/), or accept mixed branches."
    )


def _copied_note(options: ParseOptions, tally: TranslationTally) -> str | None:
    """How many translate blocks were left out as the original copied."""
    if not tally.copied:
        return None
    blocks = counted(tally.copied, "translate block")
    hold = "holds" if tally.copied == 1 else "hold"
    return (
        f"{blocks} of the Ren'Py {options.renpy_language} translation still {hold} the"
        " original's line as Ren'Py's template fills it in (not translated yet): left out"
        f" of the dataset, and counted as {UNTRANSLATED}."
    )


def _stale_note(tally: TranslationTally) -> str | None:
    """How many stale translate blocks were left out."""
    if not tally.stale:
        return None
    blocks = counted(tally.stale, "stale translate block")
    were = "was" if tally.stale == 1 else "were"
    return (
        f"{blocks} of the Ren'Py translation (an identifier naming no say statement given,"
        f" so the game never shows them) {were} left out: each one's line has a translation"
        " of its own, or is past the end of its file."
    )


def _held_out_note(
    stats: Stats,
    counts: Counts,
    train: list[Sample],
    evaluation: list[Sample],
    settings: DataprepSettings,
) -> str | None:
    """Why the split wrote no held-out file when one was asked for: the script has one
    scene (scene_markers may find more), or its other scenes kept no sample."""
    if not (train and not evaluation and settings.eval_ratio > 0):
        return None
    kept = stats.scenes.get("train", 0)
    found = len(counts.scenes)
    head = "No held-out (eval) file was written"
    whole = "the split keeps a scene whole on one side"
    without = "set [dataprep] eval_ratio = 0 to train without one."
    if found <= kept:
        return (
            f"{head}: all samples come from {counted(kept, 'scene')}, and {whole}; add scene"
            f" breaks the script has to [dataprep] scene_markers, or {without}"
        )
    filtered = len(counts.sample_scenes) - kept
    empty = found - len(counts.sample_scenes)
    why = []
    if filtered:
        reasons = ", ".join(f"{k} = {v}" for k, v in _filter_drops(stats).most_common() if v)
        why.append(f"{filtered} lost every sample to the filter: {reasons}")
    # Her lines there were set aside before samples were built: no filter row shows them.
    only_sounds = len(counts.sounds_after_lead - counts.sample_scenes)
    if only_sounds:
        why.append(
            f"{only_sounds} had only sounds from {stats.character} after the lead's lines"
            " (dropped as interjection_only)"
        )
    no_sample = {scene_key(*where) for where in counts.scenes} - counts.sample_scenes
    dropped = [
        counts.dropped_in_scene[scene]
        for scene in sorted(no_sample - counts.sounds_after_lead)
        if scene in counts.dropped_in_scene
    ]
    if dropped:
        reasons = ", ".join(f"{k} = {v}" for k, v in sum(dropped, Counter()).most_common())
        why.append(
            f"{len(dropped)} had lines of {stats.character} dropped before any sample ({reasons})"
        )
    if empty - only_sounds - len(dropped):
        why.append(
            f"{empty - only_sounds - len(dropped)} had no line of {stats.character}"
            " following one of the lead"
        )
    return (
        f"{head}: the script has {found} scenes, but samples were kept from only {kept}"
        f" ({'; '.join(why)}), and {whole}; {without}"
    )


def _big_held_out_note(train: list[Sample], evaluation: list[Sample], ratio: float) -> str | None:
    """The share held out when it is far over eval_ratio: no scene was small enough, so
    the split held out the smallest (two files of one scene each, 35 and 32 samples,
    held out 32 with eval_ratio 0.1)."""
    total = len(evaluation) + sum(1 for s in train if not s.from_background)
    if not evaluation or len(evaluation) <= _FAR_OVER * ratio * total:
        return None
    scenes = len({s.scene_key for s in evaluation})
    return (
        f"{len(evaluation)} of the {total} samples ({len(evaluation) / total:.0%})"
        f" {'is' if len(evaluation) == 1 else 'are'} held out for evaluation, in {counted(scenes, 'scene')}: no scene was small enough for"
        f" eval_ratio {ratio:g}, and the split keeps a scene whole on one side. Add scene"
        " breaks the script has to [dataprep] scene_markers to cut its scenes smaller, or set"
        " [dataprep] eval_ratio = 0 to train on every sample."
    )


# A held-out share this many times eval_ratio is named.
_FAR_OVER = 2


def _filter_drops(stats: Stats) -> Counter[str]:
    return next((Counter(s.dropped) for s in stats.stages if s.stage == "filter"), Counter())


def _unresolved_note(shown: Counter[str], options: ParseOptions) -> str | None:
    """Which variables lost the lead's and the character's lines (`shown`: the variables
    those lines name, known ones too), and why each has no value: the user can settle one
    with a `define` or by giving the file that sets it."""
    unresolved = Counter({v: n for v, n in shown.items() if v not in options.renpy_variables})
    if not unresolved:
        return None
    named = []
    for var, lines in unresolved.most_common(_VARIABLES_NAMED):
        values = options.renpy_unsettled.get(var)
        why = _given(values) if values else "no file given sets it to a string"
        named.append(f"[{var}] in {lines} line{'s' if lines != 1 else ''} ({why})")
    more = len(unresolved) - len(named)
    kirikiri = bool(_KIRIKIRI_VARIABLE.match(unresolved.most_common(1)[0][0]))
    return (
        "Lines showing a variable with no single known value were dropped: "
        + "; ".join(named)
        + (f"; and {more} other variable{'s' if more != 1 else ''}" if more > 0 else "")
        + f". {_SETTLED_BY[kirikiri]}"
    )


def _left_out_macros_note(tags: Counter[str]) -> str | None:
    """Which tags no .ks file given defines lost the lines they were given (KiriKiri's
    `@saudio t=アトリ front="「…」"`): the file defining them reads those lines."""
    if not tags:
        return None
    named = "; ".join(f"{tag} in {counted(n, 'line')}" for tag, n in tags.most_common(_TAGS_NAMED))
    more = len(tags) - _TAGS_NAMED
    return (
        "Lines given to tags no .ks file given defines were dropped (macro_left_out),"
        f" each ending its exchange: {named}"
        + (f"; and {counted(more, 'other tag')}" if more > 0 else "")
        + ". If they are macros showing the line, give the .ks file that defines them too"
        " (usually first.ks or macro.ks)."
    )


def _typed_leads_note(options: ParseOptions) -> str | None:
    """Which names the player types were all taken as the lead, none being a lead alias."""
    typed = options.renpy_typed_leads
    if not typed:
        return None
    named = ", ".join(f"[{var}]" for var in typed)
    return (
        f"The player types {len(typed)} names ({named}); none is one of [dataprep]"
        " lead_aliases nor offers one, so all were taken as the lead: adding the lead's"
        " variable or its name to lead_aliases makes only that one the lead, the others"
        " names shown with their value."
    )


def _webgal_variables_note(options: ParseOptions) -> str | None:
    """Which WebGAL variables were shown (`{heroine}:…`) where no setVar read before them
    gives a string: their speakers keep the name as written, their lines are a name slot."""
    if not options.webgal_unresolved:
        return None
    named, first = _variables_named(options.webgal_unresolved)
    return (
        "WebGAL variables shown where no setVar read before them gives a string were left as"
        f" written: {named}. Give the scene that sets them (setVar:{first}=…;, often in start.txt), or add"
        f" {{{first}}} to [dataprep] character_aliases or lead_aliases to name a speaker so"
        " written."
    )


def _webgal_computed_note(options: ParseOptions) -> str | None:
    """Which WebGAL variables were shown (`理智值：{sanity}`) where the setVar before them
    gave a number or an expression: a value the game changes as it is played, which no
    alias names and no scene gives as a string."""
    if not options.webgal_computed:
        return None
    named, first = _variables_named(options.webgal_computed)
    return (
        f"WebGAL variables that setVar gave a number or an expression (setVar:{first}=…;)"
        f" were shown: {named}. Such a value changes as the game is played and is no name: no alias or scene"
        f" gives it words, and the lines showing it ({{{first}}} as written) were dropped"
        " (unresolved_variable)."
    )


def _variables_named(shown: Mapping[str, int]) -> tuple[str, str]:
    """`{a} in 3 lines; {b} in 1 line; and 2 other variables` for the variables shown most
    (variable → lines showing it), and the one shown most."""
    most = Counter(shown).most_common()
    named = [f"{{{var}}} in {counted(n, 'line')}" for var, n in most[:_VARIABLES_NAMED]]
    more = len(most) - len(named)
    others = f"; and {counted(more, 'other variable')}" if more > 0 else ""
    return "; ".join(named) + others, most[0][0]


# A value shown in a note at most this long: a game may set a name variable to a paragraph.
_VALUE_SHOWN = 30
_VALUES_SHOWN = 3


def _given(values: Sequence[str]) -> str:
    """`given "Jack" and "Jill"`: the values a file gives a variable, each cut short."""
    shown = [
        v if v == NOT_A_STRING_VALUE else f'"{_cut(v, _VALUE_SHOWN)}"'
        for v in values[:_VALUES_SHOWN]
    ]
    more = len(values) - len(shown)
    return "given " + " and ".join(shown) + (f" and {more} more" if more > 0 else "")


def _cut(value: str, most: int) -> str:
    return value if len(value) <= most else value[: most - 1] + "…"


# A KiriKiri/TyranoScript game variable (`[emb exp="f.name"]`): settled by the .ks file
# that gives it a string, not by a Ren'Py `define`.
_KIRIKIRI_VARIABLE = re.compile(r"(?:sf|tf|f)\.")
_SETTLED_BY = {
    False: "A `define` with its value in a file given settles one.",
    True: 'Giving the .ks file that sets it (`f.name = "…"`, `[edit name=f.name initial=…]`) '
    "settles one.",
}


def problem(
    stats: Stats,
    train: list[Sample],
    files: list[FileReport],
    translations_left_out: Sequence[str] = (),
) -> str | None:
    """One sentence on why there is nothing to write, or None when there is.
    `translations_left_out`: the languages of the Ren'Py translations the run left out
    (renpy_language "original")."""
    if train:
        return None
    if not any(f.error is None for f in files):
        return "No file could be used (see the messages above); nothing was written."
    if translations_left_out and not stats.speakers:
        # Only game/tl given: its lines are all translations, and no speaker is "none".
        return (
            "Every line read is in a Ren'Py translation, which [dataprep] renpy_language ="
            ' "original" leaves out: give the game folder (the script files beside tl/), or'
            f" set renpy_language to {' or '.join(repr(t) for t in translations_left_out)}."
        )
    roles = {s.role for s in stats.speakers}
    for role, key, who in (
        (Role.CHARACTER.value, "character_aliases", f"the character ({stats.character})"),
        (Role.LEAD.value, "lead_aliases", "the lead"),
    ):
        if role not in roles and (unbroken := _unbroken_files(files)):
            # Its lines read as one: the aliases may well be right.
            return (
                f"No speaker matched {who}, as {unbroken} not split into lines (see the"
                " warning above): put a line break after each of its lines before changing"
                f" [dataprep] {key}."
            )
        if role not in roles:
            return (
                f"No speaker matched {who} in [dataprep] {key}; the most frequent speakers are"
                f" {_most_frequent(stats.speakers)}: add the right names to [dataprep] {key}."
                + _dump_layout_note(stats.speakers)
                + _renpy_variables_note(stats)
                + _few_speakers_note(stats)
            )
    if stats.character_lines_in and not any(
        s.stage == "filter" and s.count_in for s in stats.stages
    ):
        return (
            f"No line of {stats.character} follows a line of the lead in the same scene, so"
            " there is no exchange to learn from; check [dataprep] lead_aliases and"
            " scene_markers."
        )
    return (
        "Every sample was filtered out (see the filter row above); loosen [dataprep]"
        " min_reply_chars, max_reply_chars or the duplicate filters."
    )


def _unbroken_files(files: list[FileReport]) -> str:
    """'X is' / 'X and Y are' for the files used whose lines are not separated by line
    breaks (`FileReport.unbroken`), "" when none is."""
    names = distinct_names([Path(f.path) for f in files if f.error is None and f.unbroken])
    if not names:
        return ""
    named = ", ".join(names[:_QUIET_NAMED])
    if len(names) > _QUIET_NAMED:
        named += f" and {len(names) - _QUIET_NAMED} more"
    return f"{named} {'is' if len(names) == 1 else 'are'}"


# Below this share of the lines read naming a speaker, the file's shape is more likely
# unread than the aliases wrong: a tool's dump giving `@名前` on the line above the text
# read 2 speaker lines of 59,912.
_FEW_SPEAKER_LINES = 0.02
# A game's own script files; anything else is a dump, whose speaker shape may be unread
# (a .txt dump of `@名前` lines reads as KiriKiri tags).
_GAME_SUFFIXES = (".rpy", ".ks", ".tjs")


_LETTER = re.compile(r"[^\W\d_]")


def _few_speakers_note(stats: Stats) -> str:
    """A sentence for a run whose lines hardly ever named a speaker, else ""."""
    read = sum(s.count_in for s in stats.stages if s.stage == "extract")
    # Not the lines above where a file's format starts (a dump's notes above its pairs):
    # the parser read them as a header, so they say nothing of its speakers' shape.
    read -= sum(f.header_lines for f in stats.files if f.error is None)
    # A "name" of punctuation alone (`;`, `` ` `` before an ONScripter line) names nobody.
    named = sum(s.lines for s in stats.speakers if _LETTER.search(s.name))
    if read < 100 or named > read * _FEW_SPEAKER_LINES:
        return ""
    head = f" Only {named:,} of the {read:,} lines read named a speaker"
    if all(f.path.lower().endswith(_GAME_SUFFIXES) for f in stats.files if f.error is None):
        # A game's own script says who speaks wherever anyone does: this one is narration.
        return f"{head}: the files given are mostly narration."
    return (
        f"{head}: the script may name its speakers in a shape not read here, which"
        " [dataprep] custom_regex can read (a regex with groups speaker and text; with a"
        r" \n in it, a name on the line above its words)."
    )


# A dump's mark and line number left in a "speaker" (`○000012○亚托莉`, `[0x00000100]香奈`,
# `<0001>名前`): a symbol, a number of 3 or more digits (hex, a letter tag), a symbol.
_DUMP_MARK = re.compile(r"[^\w\s]\s*(?:0x)?[A-Za-z]{0,4}[0-9][0-9A-Fa-f]{2,}[A-Za-z]?\s*[^\w\s]")


def _dump_layout_note(speakers: list[SpeakerCount]) -> str:
    """A sentence for top speakers that are mostly a dump's marks and numbers, else ""."""
    top = speakers[:_HINT_SPEAKERS]
    marked = sum(1 for s in top if _DUMP_MARK.search(s.name))
    if not top or marked * 2 <= len(top):
        return ""
    return (
        " Those names hold a mark and a line number: the file looks like a bilingual"
        " translation dump in a layout not read as one (see dataprep/README.md, Bilingual"
        " translation dumps); --format regex with [dataprep] custom_regex can read its lines."
    )


# A speaker shown by the variable a say statement names (`e "Hello."`): what the reader
# gives when no `define e = Character(...)` was in the files read.
_RENPY_VARIABLE = re.compile(r"[a-z_][a-z0-9_]{0,15}")


def _renpy_variables_note(stats: Stats) -> str:
    """A sentence for a Ren'Py run whose top speakers are variable names, else "": their
    `define`s are in a file not given (characters.rpy, options.rpy)."""
    top = stats.speakers[:_HINT_SPEAKERS]
    ren_py = any(f.format == "renpy" and f.error is None for f in stats.files)
    # Most of them, not all: one literal name among them (`"Sylvie" "Hi!"`) hid the hint.
    variables = sum(1 for s in top if _RENPY_VARIABLE.fullmatch(s.name))
    if not ren_py or not top or variables * 2 <= len(top):
        return ""
    return (
        " Those look like Ren'Py character variables whose `define` is in a file not given"
        " (characters.rpy, options.rpy): give the game folder itself, every .rpy file in it."
    )


def _most_frequent(speakers: list[SpeakerCount]) -> str:
    named = [
        f"{s.name} ({s.lines} line{'' if s.lines == 1 else 's'})" for s in speakers[:_HINT_SPEAKERS]
    ]
    return ", ".join(named) if named else "none (no line had a speaker)"
