"""The whole of `atri prep` as data → data stages, with file I/O only at the two ends.

read → extract → speakers → clean text → turns → {{user}} → filter → split → background
→ write. `prepare` runs them all; each stage is importable on its own for tests.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from atri.config import DataprepSettings
from dataprep import background as bg
from dataprep.clean import FilterRules, clean_text, filter_samples, opencc_t2s, placeholder_replacer
from dataprep.errors import DataprepError
from dataprep.formats import ParseOptions, compile_markers, detect_format, parse
from dataprep.formats import renpy as renpy_format
from dataprep.gc_pause import gc_paused
from dataprep.records import Role, Sample, Utterance
from dataprep.sources import collect_scripts, read_script
from dataprep.speakers import SpeakerMap
from dataprep.split import split_by_scene
from dataprep.stats import FileReport, Stats, plot_stats
from dataprep.turns import TurnRules, build_samples
from dataprep.writers import write_datasets, write_json

STATS_JSON = "stats.json"
STATS_PNG = "stats.png"
_EXPECTED = {
    "plain": "lines like 名字：台词, 【名字】「台词」 or Name: text",
    "kirikiri": "KAG lines with [nm t=…], #名 or 【名】 speakers and [p]/[l] waits",
    "renpy": 'Ren\'Py lines like e "text" with define e = Character("Name")',
    "voice_list": "lines like path|speaker|lang|text",
    "regex": "lines matching [dataprep] custom_regex",
}

# Called with (stage or file name, units done) so the CLI can move a progress bar.
Progress = Callable[[str, int], None]


@dataclass
class PrepResult:
    train: list[Sample]
    evaluation: list[Sample]
    stats: Stats
    files: list[FileReport] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [f.error for f in self.files if f.error]


def _noop(_: str, __: int) -> None:
    return None


def extract(
    scripts: list[Path], settings: DataprepSettings, fmt: str | None, progress: Progress = _noop
) -> tuple[list[Utterance], list[FileReport]]:
    """Read and parse every file; a bad file gets its error in its report, the rest go on."""
    chosen = fmt or (settings.format if settings.format != "auto" else None)
    texts: list[tuple[Path, str, str, FileReport]] = []
    reports: list[FileReport] = []
    for path in collect_scripts(scripts):
        report = FileReport(path=str(path))
        reports.append(report)
        try:
            text, encoding = read_script(path, settings.encoding)
        except DataprepError as exc:
            report.error = str(exc)
            progress(str(path), 1)
            continue
        report.encoding = encoding
        report.lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
        report.format = chosen or detect_format(text, path.name, bool(settings.custom_regex))
        texts.append((path, text, report.format, report))
    characters: dict[str, str] = {}
    for _, text, file_fmt, _ in texts:
        if file_fmt == "renpy":
            characters.update(renpy_format.collect_characters(text))
    options = ParseOptions(
        scene_marker=compile_markers(settings.scene_markers),
        custom_regex=re.compile(settings.custom_regex) if settings.custom_regex else None,
        renpy_characters=characters,
    )
    utterances: list[Utterance] = []
    for path, text, file_fmt, report in texts:
        try:
            found = parse(text, str(path), file_fmt, options)
        except DataprepError as exc:
            report.error = str(exc)
            found = []
        else:
            # A Ren'Py file of `define`s alone is a dependency of the others, not a failure.
            defines_only = file_fmt == "renpy" and renpy_format.collect_characters(text)
            if not any(u.speaker for u in found) and not defines_only:
                report.error = (
                    f"{path}: no dialogue found; expected {_EXPECTED[file_fmt]}"
                    " (use --format to force another format)."
                )
                found = []
        report.utterances = len(found)
        utterances.extend(found)
        progress(str(path), 1)
    return utterances, reports


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
    stats = Stats()
    utterances, reports = extract(scripts, settings, fmt, progress)
    stats.files = reports
    readable = [r for r in reports if r.error is None]
    stats.add_stage(
        "read",
        "files",
        len(reports),
        len(readable),
        Counter(
            "no dialogue" if "no dialogue" in (r.error or "") else "unreadable"
            for r in reports
            if r.error
        ),
    )
    stats.add_stage(
        "extract", "lines → utterances", sum(r.lines for r in readable), len(utterances)
    )

    speakers = SpeakerMap.from_aliases(settings.lead_aliases, settings.character_aliases)
    roles = [speakers.role(u.speaker) for u in utterances]
    stats.roles = {role.value: n for role, n in sorted(Counter(roles).items())}
    stats.atri_lines_in = stats.roles.get(Role.ATRI.value, 0)
    progress("speakers", 1)

    to_simplified = opencc_t2s() if settings.traditional_to_simplified else None
    cleaned: list[tuple[Utterance, Role]] = []
    clean_drops: Counter[str] = Counter()
    for utterance, role in zip(utterances, roles, strict=True):
        utterance.text = clean_text(utterance.text, to_simplified)
        if utterance.text:
            cleaned.append((utterance, role))
        else:
            clean_drops["empty_after_clean"] += 1
            if role is Role.ATRI:
                stats.atri_lines_dropped["empty_after_clean"] += 1
    stats.add_stage("clean text", "utterances", len(utterances), len(cleaned), clean_drops)
    progress("clean", 1)

    turn_rules = TurnRules(
        context_turns=settings.context_turns,
        narration=settings.narration,
        stage_direction_max_chars=settings.stage_direction_max_chars,
    )
    atri_before_turns = sum(1 for _, role in cleaned if role is Role.ATRI)
    samples = build_samples(cleaned, turn_rules, stats.atri_lines_dropped)
    stats.add_stage(
        "turns",
        "ATRI lines → samples",
        atri_before_turns,
        len(samples),
        Counter({"no_lead_before": stats.atri_lines_dropped["no_lead_before"]}),
    )
    progress("turns", 1)

    replace = placeholder_replacer(settings.lead_aliases) if settings.user_placeholder else None
    if replace is not None:
        samples = [_with_placeholder(s, replace) for s in samples]
    rules = FilterRules(
        min_reply_chars=settings.min_reply_chars,
        max_reply_chars=settings.max_reply_chars,
        drop_interjections=settings.drop_interjections,
        short_reply_max_chars=settings.short_reply_max_chars,
        max_short_reply_repeats=settings.max_short_reply_repeats,
        drop_near_duplicates=settings.drop_near_duplicates,
    )
    filter_drops: Counter[str] = Counter()
    kept = filter_samples(samples, rules, filter_drops, stats.atri_lines_dropped)
    stats.add_stage("filter", "samples", len(samples), len(kept), filter_drops)
    stats.atri_lines_kept = sum(len(s.reply_lines) for s in kept)
    progress("filter", 1)

    train, evaluation = split_by_scene(kept, settings.eval_ratio, settings.seed)
    chosen_background = _background(settings, background_path, len(train))
    if replace is not None:
        chosen_background = [_with_placeholder(s, replace) for s in chosen_background]
    train = train + chosen_background
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
    return PrepResult(train, evaluation, stats, reports)


def _with_placeholder(sample: Sample, replace: Callable[[str], str]) -> Sample:
    """{{user}} in ATRI's turns only: she addresses whoever chats; his own lines stay."""
    sample.turns = [(r, replace(t) if r is Role.ATRI else t) for r, t in sample.turns]
    return sample


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
    result: PrepResult, out: Path, settings: DataprepSettings, system_prompt: str
) -> list[Path]:
    written = write_datasets(
        out, result.train, result.evaluation, system_prompt, list(settings.output_formats)
    )
    write_json(out / STATS_JSON, result.stats.to_json())
    plot_stats(result.stats, out / STATS_PNG)
    return [*written, out / STATS_JSON, out / STATS_PNG]


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
    """Run every stage and write every file; the library entry point behind `atri prep`."""
    result = run_pipeline(
        settings, scripts, fmt=fmt, background_path=background_path, progress=progress
    )
    with gc_paused():
        write_outputs(result, out, settings, system_prompt)
    progress("write", 1)
    return result
