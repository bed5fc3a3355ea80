"""The whole of `atri prep` as data → data stages, with file I/O only at the two ends.

read → extract → speakers → clean text → turns (noise, {{user}}) → filter → split →
background → write. Lines stream from the parser through every stage up to the filter,
so only the kept samples are ever held at once; `prepare` runs them all and writes the
files in one pass. Each stage is importable on its own for tests.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from atri.config import DataprepSettings
from dataprep import background as bg
from dataprep.clean import (
    USER_PLACEHOLDER,
    FilterRules,
    clean_text,
    iter_filter,
    opencc_t2s,
    placeholder_replacer,
)
from dataprep.errors import DataprepError
from dataprep.formats import PARSERS, ParseOptions, compile_markers, detect_format
from dataprep.formats import kirikiri as kirikiri_format
from dataprep.formats import plain as plain_format
from dataprep.formats import renpy as renpy_format
from dataprep.formats.common import UNRESOLVED_VARIABLE
from dataprep.formats.renpy import NOT_A_STRING_VALUE
from dataprep.gc_pause import gc_paused
from dataprep.records import Role, Sample, Utterance
from dataprep.sources import collect_scripts, read_script
from dataprep.speakers import SpeakerMap, normalise_name
from dataprep.split import split_by_scene
from dataprep.stats import FileReport, PlotProcess, SpeakerCount, Stats, plot_stats
from dataprep.turns import TurnRules, iter_samples
from dataprep.writers import (
    DATASET_INFO,
    dataset_stem,
    output_names,
    read_dataset_info,
    write_datasets,
    write_json,
)

STATS_JSON = "stats.json"
STATS_PNG = "stats.png"
_EXPECTED = {
    "plain": "lines like 名字：台词, 【名字】「台词」, [名字]台词 or Name: text",
    "kirikiri": "KAG lines with [nm t=…], #名 or 【名】 speakers and [p]/[l] waits",
    "renpy": 'Ren\'Py lines like e "text" with define e = Character("Name")',
    "voice_list": "lines like path|speaker|lang|text",
    "regex": "lines matching [dataprep] custom_regex",
}
# How much of a file another parser reads to see whether --format would help.
_TRY_CHARS = 64 * 1024
# Scripts this big (in bytes, all files together) take longer than importing matplotlib:
# stats.png is then drawn by a child process while the pipeline runs (see PlotProcess).
PLOT_CHILD_BYTES = 4 << 20
# Speakers named in the one-sentence hint when the lead or the character matched nothing.
_HINT_SPEAKERS = 5
# The folder inside staging that holds the earlier outputs while the new ones move in.
_EARLIER = ".earlier"
# The roles whose lines make the dataset, and the variables most named when they are lost.
_DIALOGUE_ROLES = frozenset({Role.LEAD, Role.CHARACTER})
_VARIABLES_NAMED = 5

# Called with (stage or file name, units done) so the CLI can move a progress bar.
Progress = Callable[[str, int], None]


@dataclass
class PrepResult:
    train: list[Sample]
    evaluation: list[Sample]
    stats: Stats
    files: list[FileReport] = field(default_factory=list)
    # Sentences the user should read: what was left out of the files and why.
    notes: list[str] = field(default_factory=list)
    # Why nothing was written, when nothing was (the output folder is left as it was).
    problem: str | None = None

    @property
    def errors(self) -> list[str]:
        return [f.error for f in self.files if f.error]

    @property
    def warnings(self) -> list[str]:
        return [f.warning for f in self.files if f.warning]


@dataclass
class _Script:
    path: Path
    text: str
    fmt: str
    report: FileReport
    # Languages of the Ren'Py `translate` dialogue blocks the file holds.
    languages: frozenset[str] = frozenset()
    # It defines characters (Ren'Py `Character`, TyranoScript `chara_new`): found while
    # the parse options are gathered, so a file with no lines of its own is not a failure.
    makes_characters: bool = False


def _noop(_: str, __: int) -> None:
    return None


def load_scripts(
    scripts: list[Path], settings: DataprepSettings, fmt: str | None, progress: Progress = _noop
) -> tuple[list[_Script], list[FileReport]]:
    """Read and decode every file; a bad one gets its error in its report, the rest go on."""
    chosen = fmt or (settings.format if settings.format != "auto" else None)
    loaded: list[_Script] = []
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
                f" {decoded.encoding} and became �, the first on line"
                f" {decoded.first_replaced_line}; the rest of the file was read."
            )
        report.format = chosen or detect_format(text, path.name, bool(settings.custom_regex))
        loaded.append(_Script(path, text, report.format, report))
    return loaded, reports


def parse_options(settings: DataprepSettings, scripts: Iterable[_Script]) -> ParseOptions:
    names = renpy_format.ScriptNames()
    shown: dict[str, str] = {}
    renpy: list[_Script] = []
    for script in scripts:
        if script.fmt == "renpy":
            script.makes_characters = names.add(script.text)
            script.languages = frozenset(renpy_format.translation_languages(script.text))
            renpy.append(script)
        elif script.fmt == "kirikiri":
            found = kirikiri_format.display_names(script.text)
            shown.update(found)
            script.makes_characters = bool(found)
    # The name the player typed is whoever chats: {{user}} in a line, or the lead's own
    # name; as a speaker (`Character("[player]")`) the lead's name, so the lead is matched.
    lead = settings.lead_aliases[0].strip()
    characters, variables = names.resolve(
        lead, USER_PLACEHOLDER if settings.user_placeholder else lead
    )
    return ParseOptions(
        scene_marker=compile_markers(settings.scene_markers),
        custom_regex=re.compile(settings.custom_regex) if settings.custom_regex else None,
        renpy_characters=characters,
        renpy_language=renpy_language(settings.renpy_language, renpy) if renpy else None,
        renpy_variables=variables,
        renpy_unsettled=names.unsettled(),
        kirikiri_names=shown,
    )


def renpy_language(setting: str, scripts: list[_Script]) -> str:
    """The language whose Ren'Py lines are read ("original" for the untranslated ones),
    from [dataprep] renpy_language and the translations the files hold; DataprepError
    when "auto" finds several languages or a named one is not there."""
    found = _translations(scripts)
    if setting == "auto":
        if len(found) > 1:
            raise DataprepError(
                f"The Ren'Py files hold translations in {len(found)} languages"
                f" ({', '.join(found)}); set [dataprep] renpy_language to one of them, or to"
                f' "{renpy_format.ORIGINAL}" for the untranslated lines.'
            )
        return found[0] if found else renpy_format.ORIGINAL
    if setting != renpy_format.ORIGINAL and setting not in found:
        held = f"translations in {', '.join(found)} only" if found else "no translations"
        raise DataprepError(
            f'[dataprep] renpy_language is "{setting}", but the Ren\'Py files given hold'
            f' {held}; give its game/tl/{setting} folder, or set the key to "auto".'
        )
    return setting


def _translations(scripts: Iterable[_Script]) -> list[str]:
    """The languages of the Ren'Py translations the files hold, sorted."""
    return sorted(set().union(*(s.languages for s in scripts)))


def _language_note(options: ParseOptions, scripts: list[_Script]) -> str | None:
    """Which language's Ren'Py lines the dataset holds, when the files hold translations."""
    found = _translations(scripts)
    if not found:
        return None
    used = options.renpy_language
    if used == renpy_format.ORIGINAL:
        return (
            f"Ren'Py translations ({', '.join(found)}) were left out: the dataset holds the"
            ' original lines ([dataprep] renpy_language = "original").'
        )
    return (
        f"Ren'Py translations found ({', '.join(found)}): the dataset holds the {used} lines,"
        ' not the original ones; [dataprep] renpy_language = "original" reads those.'
    )


def iter_utterances(
    scripts: list[_Script], options: ParseOptions, progress: Progress = _noop
) -> Iterator[list[Utterance]]:
    """Every file's utterances in order, a batch (list) at a time; each file's text is let
    go once it is parsed.

    A file in which no line has a speaker gets a "no dialogue found" error in its report,
    and its narration is not passed on: a file the read stage counts as failed adds no
    utterance to the stats (batches wait until the file's first spoken line).
    """
    while scripts:
        script = scripts.pop(0)
        report, text = script.report, script.text
        spoken = False
        count = 0
        waiting: list[list[Utterance]] = []
        try:
            if script.fmt == "plain":
                batches: Iterable[list[Utterance]] = plain_format.iter_batches(
                    text, str(script.path), options
                )
            else:
                batches = [PARSERS[script.fmt](text, str(script.path), options)]
            for batch in batches:
                count += len(batch)
                if not spoken:
                    spoken = any(u.speaker is not None for u in batch)
                    if not spoken:
                        waiting.append(batch)
                        continue
                    yield from waiting
                    waiting = []
                yield batch
        except DataprepError as exc:
            report.error = str(exc)
        else:
            # A Ren'Py file of `define`s alone is a dependency of the others, not a failure;
            # nor is one whose lines are in a language other than the one read (the
            # original script beside its translation, or a translation left out). Nor is
            # a TyranoScript first.ks that makes the characters (`[chara_new]`).
            defines_only = script.makes_characters or (
                script.fmt == "renpy" and _other_language(script, options)
            )
            if not spoken and not defines_only:
                report.error = _no_dialogue(script, options)
            elif waiting:
                yield from waiting
        del waiting
        report.utterances = count if report.error is None else 0
        del script, text
        progress(report.path, 1)


def _other_language(script: _Script, options: ParseOptions) -> bool:
    language = options.renpy_language
    if language is None:
        return False
    if language == renpy_format.ORIGINAL:
        return bool(script.languages)
    return language not in script.languages


def _no_dialogue(script: _Script, options: ParseOptions) -> str:
    """ "No dialogue found", with --format suggested only when another format finds some."""
    head = script.text[:_TRY_CHARS]
    better: list[tuple[int, str]] = []
    for name, parser in PARSERS.items():
        if name == script.fmt or (name == "regex" and options.custom_regex is None):
            continue
        try:
            found = sum(1 for u in parser(head, "", options) if u.speaker is not None)
        except DataprepError:
            continue
        if found:
            better.append((found, name))
    message = f"{script.path}: no dialogue found as {script.fmt}; expected {_EXPECTED[script.fmt]}"
    if better:
        # The format the file's own signs point to first, then the one finding the most.
        sniffed = detect_format(head, script.path.name, options.custom_regex is not None)
        found, name = max(better, key=lambda b: (b[1] == sniffed, b[0]))
        return f"{message}. It reads as {name} ({found} spoken lines): try --format {name}."
    return f"{message}."


def run_pipeline(
    settings: DataprepSettings,
    scripts: list[Path],
    *,
    fmt: str | None = None,
    background_path: Path | None = None,
    progress: Progress = _noop,
) -> PrepResult:
    """Every stage from files to split samples and stats; writes nothing."""
    with gc_paused():
        return _run_stages(settings, scripts, fmt, background_path, progress)


def _run_stages(
    settings: DataprepSettings,
    scripts: list[Path],
    fmt: str | None,
    background_path: Path | None,
    progress: Progress,
) -> PrepResult:
    stats = Stats(character=character_name(settings))
    loaded, reports = load_scripts(scripts, settings, fmt, progress)
    stats.files = reports
    options = parse_options(settings, loaded)
    language_note = _language_note(options, loaded)
    counts = _Counts()
    to_simplified = opencc_t2s() if settings.traditional_to_simplified else None
    # An alias that is a TyranoScript character id names its display name too.
    lead_aliases = kirikiri_format.with_display_names(settings.lead_aliases, options.kirikiri_names)
    speakers = SpeakerMap.from_aliases(
        lead_aliases,
        kirikiri_format.with_display_names(settings.character_aliases, options.kirikiri_names),
        to_simplified,
    )
    replace = (
        placeholder_replacer(_with_converted(lead_aliases, to_simplified))
        if settings.user_placeholder
        else None
    )
    turn_rules = TurnRules(
        context_turns=settings.context_turns,
        narration=settings.narration,
        stage_direction_max_chars=settings.stage_direction_max_chars,
        drop_noise=settings.drop_interjections,
        replace=replace,
        max_turn_chars=settings.max_reply_chars,
    )
    filter_rules = FilterRules(
        min_reply_chars=settings.min_reply_chars,
        max_reply_chars=settings.max_reply_chars,
        drop_interjections=settings.drop_interjections,
        short_reply_max_chars=settings.short_reply_max_chars,
        max_short_reply_repeats=settings.max_short_reply_repeats,
        drop_near_duplicates=settings.drop_near_duplicates,
    )
    batches = _roles_and_clean(
        iter_utterances(loaded, options, progress), settings, speakers, to_simplified, counts
    )
    lines = chain.from_iterable(batches)
    turn_drops: Counter[str] = Counter()
    samples = _counted(iter_samples(lines, turn_rules, turn_drops), counts)
    filter_drops: Counter[str] = Counter()
    kept = list(iter_filter(samples, filter_rules, filter_drops, stats.character_lines_dropped))
    stats.character_lines_dropped.update(turn_drops)
    if counts.character_empty:
        stats.character_lines_dropped["empty_after_clean"] += counts.character_empty
    stats.character_lines_dropped.update(counts.character_unusable)
    stats.character_lines_kept = sum(len(s.reply_lines) for s in kept)
    _record_stages(stats, reports, counts, turn_drops, filter_drops, len(kept))
    stats.speakers = speaker_report(counts.speakers, speakers)
    for stage in ("speakers", "clean", "turns", "filter"):
        progress(stage, 1)

    train, evaluation = split_by_scene(kept, settings.eval_ratio, settings.seed)
    chosen_background = _background(settings, background_path, len(train))
    if replace is not None:
        for sample in chosen_background:
            sample.turns = [(r, replace(t) if r is Role.CHARACTER else t) for r, t in sample.turns]
    train += chosen_background
    progress("split", 1)

    stats.samples = {
        "train": len(train),
        "eval": len(evaluation),
        "background": len(chosen_background),
    }
    stats.scenes = {
        "train": len({s.scene_key for s in train if not s.from_background}),
        "eval": len({s.scene_key for s in evaluation}),
    }
    stats.reply_lengths = [len(s.reply) for s in kept]
    result = PrepResult(train, evaluation, stats, reports)
    result.notes = _notes(result, settings)
    if language_note is not None:
        result.notes.insert(0, language_note)
    unresolved_note = _unresolved_note(counts.unresolved, options)
    if unresolved_note is not None:
        result.notes.append(unresolved_note)
    result.problem = _problem(result, settings)
    return result


@dataclass
class _Counts:
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
    narration_cleaned: bool = False
    samples: int = 0

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


def _roles_and_clean(
    batches: Iterable[list[Utterance]],
    settings: DataprepSettings,
    speakers: SpeakerMap,
    to_simplified: Callable[[str], str] | None,
    counts: _Counts,
) -> Iterator[list[tuple[Utterance, Role]]]:
    """Give each line its role and clean the text of the lines the turns will read, a
    batch at a time.

    Narration is only cleaned when it can become a stage direction; a line that is empty
    after cleaning, or that its parser marked unusable, is dropped here (a third party's
    dropped line ends no exchange).
    """
    skip_narration = settings.narration != "stage"
    counts.narration_cleaned = not skip_narration
    roles = counts.role_of
    heard = counts.heard
    empty = counts.empty_by_role
    unusable = counts.unusable
    narration = Role.NARRATION
    for batch in batches:
        lines: list[tuple[Utterance, Role]] = []
        append = lines.append
        for utterance in batch:
            who = utterance.speaker
            heard[who] += 1
            role = roles.get(who)
            if role is None:
                role = roles[who] = speakers.role(who)
            if role is narration and skip_narration:
                continue
            if utterance.dropped is not None:
                unusable[role, utterance.dropped] += 1
                if utterance.dropped == UNRESOLVED_VARIABLE and role in _DIALOGUE_ROLES:
                    counts.unresolved.update(set(renpy_format.variables_shown(utterance.text)))
                continue
            text = clean_text(utterance.text, to_simplified, not utterance.shown)
            if not text:
                empty[role] += 1
                continue
            utterance.text = text
            append((utterance, role))
        yield lines


def _with_converted(names: list[str], convert: Callable[[str], str] | None) -> list[str]:
    """The names, and each as `convert` writes it (the lines are converted before the
    lead's names in them are replaced)."""
    return names if convert is None else [*names, *(convert(n) for n in names)]


def _counted(samples: Iterator[Sample], counts: _Counts) -> Iterator[Sample]:
    for sample in samples:
        counts.samples += 1
        yield sample


def _record_stages(
    stats: Stats,
    reports: list[FileReport],
    counts: _Counts,
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
        "lines",
        counts.cleaned,
        counts.cleaned - counts.empty - unusable.total(),
        Counter(empty_after_clean=counts.empty, **unusable),
    )
    stats.character_lines_in = counts.character_lines
    stats.add_stage(
        "turns",
        f"{stats.character} lines → samples",
        counts.character_lines - counts.character_empty - counts.character_unusable.total(),
        counts.samples,
        turn_drops,
    )
    stats.add_stage("filter", "samples", counts.samples, kept, filter_drops)


def _file_problem(error: str | None) -> str:
    text = error or ""
    if "no dialogue" in text:
        return "no dialogue"
    if "is empty" in text:
        return "empty"
    return "unreadable"


def speaker_report(seen: Counter[str], speakers: SpeakerMap) -> list[SpeakerCount]:
    """Speakers by line count, names that compare equal counted as one (the most used
    spelling shown), each with the role its name matched."""
    groups: dict[str, Counter[str]] = {}
    for name, n in seen.items():
        groups.setdefault(normalise_name(name), Counter())[name] = n
    report = [
        SpeakerCount(spellings.most_common(1)[0][0], spellings.total(), speakers.role(key).value)
        for key, spellings in groups.items()
    ]
    return sorted(report, key=lambda s: (-s.lines, s.name))


def character_name(settings: DataprepSettings) -> str:
    """The character's name in messages and pictures: the first of their aliases."""
    return settings.character_aliases[0].strip()


def _notes(result: PrepResult, settings: DataprepSettings) -> list[str]:
    notes = []
    stats = result.stats
    if result.train and not result.evaluation and settings.eval_ratio > 0:
        scenes = stats.scenes.get("train", 0)
        notes.append(
            f"No held-out (eval) file was written: all samples come from {scenes} scene"
            f"{'s' if scenes != 1 else ''}, and the split keeps a scene whole on one side;"
            " add scene breaks the script has to [dataprep] scene_markers, or set"
            " [dataprep] eval_ratio = 0 to train without one."
        )
    return notes


def _unresolved_note(shown: Counter[str], options: ParseOptions) -> str | None:
    """Which variables lost the lead's and the character's lines (`shown`: the variables
    those lines name, known ones too), and why each has no value: the user can settle one
    with a `define` or by giving the file that sets it."""
    unresolved = Counter({v: n for v, n in shown.items() if v not in options.renpy_variables})
    if not unresolved:
        return None  # KiriKiri's [emb] lines name no variable; their count is in the stats
    named = []
    for var, lines in unresolved.most_common(_VARIABLES_NAMED):
        values = options.renpy_unsettled.get(var)
        why = (
            "given " + " and ".join(f'"{v}"' if v != NOT_A_STRING_VALUE else v for v in values)
            if values
            else "no file given sets it to a string"
        )
        named.append(f"[{var}] in {lines} line{'s' if lines != 1 else ''} ({why})")
    more = len(unresolved) - len(named)
    return (
        "Lines showing a variable with no single known value were dropped: "
        + "; ".join(named)
        + (f"; and {more} other variable{'s' if more != 1 else ''}" if more > 0 else "")
        + ". A `define` with its value in a file given settles one."
    )


def _problem(result: PrepResult, settings: DataprepSettings) -> str | None:
    """One sentence on why there is nothing to write, or None when there is."""
    if result.train:
        return None
    stats = result.stats
    if not any(f.error is None for f in result.files):
        return "No file could be used (see the messages above); nothing was written."
    roles = {s.role for s in stats.speakers}
    for role, key, who in (
        (Role.CHARACTER.value, "character_aliases", f"the character ({stats.character})"),
        (Role.LEAD.value, "lead_aliases", "the lead"),
    ):
        if role not in roles:
            return (
                f"No speaker matched {who} in [dataprep] {key}; the most frequent speakers are"
                f" {_most_frequent(stats.speakers)}: add the right names to [dataprep] {key}."
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


def _most_frequent(speakers: list[SpeakerCount]) -> str:
    named = [f"{s.name} ({s.lines} lines)" for s in speakers[:_HINT_SPEAKERS]]
    return ", ".join(named) if named else "none (no line had a speaker)"


def _background(settings: DataprepSettings, path: Path | None, dialogue: int) -> list[Sample]:
    if path is None and settings.background:
        path = Path(settings.background).expanduser()
    if path is None:
        return []
    facts = bg.load_background(path)
    pool = bg.background_samples(facts, settings.background_questions, settings.character_aliases)
    return bg.choose_background(
        pool, bg.mix_count(dialogue, settings.background_ratio), settings.seed
    )


def write_outputs(
    result: PrepResult,
    out: Path,
    settings: DataprepSettings,
    system_prompt: str,
    plotter: PlotProcess | None = None,
    earlier_info: dict[str, Any] | None = None,
) -> list[Path]:
    """Write every file into `out` (which must exist); returns the paths written.

    With a `plotter`, stats.png is drawn by it while the datasets are written, and is
    complete when this returns. dataset_info.json keeps the other datasets' entries of
    `earlier_info` (the output folder's dataset_info.json)."""
    stem = dataset_stem(settings.character_aliases)
    if plotter is not None:
        plotter.draw(result.stats, out / STATS_PNG)
    written = write_datasets(
        out,
        result.train,
        result.evaluation,
        system_prompt,
        list(settings.output_formats),
        stem,
        earlier_info,
    )
    write_json(out / STATS_JSON, result.stats.to_json())
    if plotter is None:
        plot_stats(result.stats, out / STATS_PNG)
    else:
        plotter.wait()
    return [*written, out / STATS_JSON, out / STATS_PNG]


def replace_outputs(staging: Path, out: Path, stem: str) -> None:
    """Move each file of `staging` into `out`, dataset_info.json last, and remove earlier
    outputs of this character that this run did not write (an eval file when the new run
    has no held-out set), so that `out` never mixes two runs. Other files stay.

    The earlier outputs are first moved aside into `staging`; when a move fails (OSError),
    they are put back and the new files taken out, so `out` is as it was."""
    out.mkdir(parents=True, exist_ok=True)
    new = sorted(staging.iterdir(), key=lambda p: p.name == "dataset_info.json")
    aside = staging / _EARLIER
    aside.mkdir()
    moved_aside: list[str] = []
    placed: list[str] = []
    try:
        for old in [*output_names(stem), STATS_JSON, STATS_PNG]:
            if (out / old).is_file():
                (out / old).replace(aside / old)
                moved_aside.append(old)
        for path in new:
            path.replace(out / path.name)
            placed.append(path.name)
    except OSError:
        _put_back(out, aside, placed, moved_aside)
        raise


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


def prepare(
    settings: DataprepSettings,
    scripts: list[Path],
    out: Path,
    *,
    system_prompt: str,
    fmt: str | None = None,
    background_path: Path | None = None,
    progress: Progress = _noop,
) -> PrepResult:
    """Run every stage and, when there are samples, write every file; the library entry
    point behind `atri prep`. Files are written into a temporary folder beside `out` and
    moved into `out` only when complete: a run with nothing to write (see
    `PrepResult.problem`) leaves `out` exactly as it was, and so does a file that cannot be
    written, or a dataset_info.json in `out` that cannot be read as one (DataprepError
    naming it, before any work)."""
    _check_output_folder(out)
    # Read (and checked) before any work: other characters' entries are kept in it.
    earlier_info = read_dataset_info(out / DATASET_INFO)
    plotter = _start_plotter() if _script_bytes(scripts) >= PLOT_CHILD_BYTES else None
    try:
        result = run_pipeline(
            settings, scripts, fmt=fmt, background_path=background_path, progress=progress
        )
        if result.problem is None:
            try:
                out.parent.mkdir(parents=True, exist_ok=True)
                staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
            except OSError as exc:
                raise DataprepError(f"{out}: cannot be written ({exc.strerror}).") from None
            try:
                with gc_paused():
                    write_outputs(result, staging, settings, system_prompt, plotter, earlier_info)
                replace_outputs(staging, out, dataset_stem(settings.character_aliases))
            except OSError as exc:
                raise DataprepError(_write_error(exc, staging, out)) from None
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    finally:
        if plotter is not None:
            plotter.cancel()
    progress("write", 1)
    return result


def _write_error(exc: OSError, staging: Path, out: Path) -> str:
    """One sentence for a file that could not be written (disk full, no permission, a
    name too long), naming it where the user will look for it: in `out`, not staging."""
    path = Path(exc.filename) if exc.filename else out
    if path.is_relative_to(staging):
        relative = path.relative_to(staging)
        path = out / (
            relative.relative_to(_EARLIER) if relative.is_relative_to(_EARLIER) else relative
        )
    return f"{path}: cannot be written ({exc.strerror or exc})."


def _check_output_folder(out: Path) -> None:
    """DataprepError, before any work, when `out` or a folder above it is a file."""
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                raise DataprepError(
                    f"{path} is a file, not a folder; give --out a folder for the dataset."
                )
            return


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
