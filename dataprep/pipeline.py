"""The whole of `atri prep` as data → data stages, with file I/O only at the two ends.

read → extract → speakers → clean text → turns (noise, {{user}}) → filter → split →
background → write. Lines stream from the parser through every stage up to the filter,
so only the kept samples are ever held at once; `prepare` runs them all and writes the
files in one pass. Each stage is importable on its own for tests. The files are read in
loaded_scripts.py; translation_placement.py puts a Ren'Py translation's lines where the
game shows them; no_dialogue.py says why a file gave no lines. What the run tells the
user is made in report.py; output_folder.py puts the files in place.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain
from pathlib import Path

from atri.config import LANGUAGE_NAMES, DataprepSettings
from atri.interrupt import sigterm_as_interrupt
from dataprep import background as bg
from dataprep.clean import (
    USER_PLACEHOLDER,
    FilterRules,
    NameSlots,
    clean_text,
    iter_filter,
    may_change,
    opencc_t2s,
    placeholder_replacer,
)
from dataprep.errors import DataprepError, NoScript
from dataprep.formats import PARSERS, ParseOptions, compile_markers, translation_dump
from dataprep.formats import kirikiri as kirikiri_format
from dataprep.formats import plain as plain_format
from dataprep.formats import renpy as renpy_format
from dataprep.formats import table as table_format
from dataprep.formats import webgal as webgal_format
from dataprep.formats.common import MACRO_LEFT_OUT, UNRESOLVED_VARIABLE, is_alias, tidy_name
from dataprep.formats.renpy import names as renpy_names
from dataprep.formats.renpy import text as renpy_text
from dataprep.formats.renpy import translations as renpy_translations
from dataprep.gc_pause import gc_paused
from dataprep.languages import SAMPLE_CHARS, sample_language
from dataprep.loaded_scripts import LoadedScript, load_scripts
from dataprep.no_dialogue import detection_notes, no_dialogue, not_a_script
from dataprep.output_folder import (
    check_not_anothers,
    check_output_folder,
    plotter_for,
    recover_interrupted,
    write_output_folder,
)
from dataprep.progress import Progress, no_progress
from dataprep.records import Role, Sample, Utterance, scene_key
from dataprep.report import (
    QUIET_FORMATS,
    UNCLOSED_FORMATS,
    Counts,
    TranslationTally,
    character_name,
    notes,
    problem,
    quiet_files,
    record_stages,
    speaker_report,
    unclosed_strings_warning,
    without_dialogue_line,
)
from dataprep.speakers import SpeakerMap, is_thought_text, normalise_name, words_in_narration
from dataprep.split import split_by_scene
from dataprep.stats import FileReport, Stats
from dataprep.translation_placement import (
    other_language,
    place_translations,
    renpy_language,
    translated_languages,
    unclosed_strings,
)
from dataprep.turns import (
    NARRATED_HER_WORDS,
    NARRATED_WORDS,
    TurnRules,
    is_narrated_words,
    iter_samples,
)
from dataprep.writers import DATASET_INFO, read_dataset_info

# The roles whose lines make the dataset.
_DIALOGUE_ROLES = frozenset({Role.LEAD, Role.CHARACTER})


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

    @cached_property
    def _quiet(self) -> list[FileReport]:
        """`quiet_files` of the files, found once for `errors` and `without_dialogue`."""
        return quiet_files(self.files)

    @property
    def errors(self) -> list[str]:
        """Why each file was not used, one sentence a file; those `quiet_files` leaves
        to `without_dialogue` are not among them."""
        return [f.error for f in self.files if f.error and f not in self._quiet]

    @property
    def without_dialogue(self) -> str | None:
        return without_dialogue_line(self._quiet)

    @property
    def warnings(self) -> list[str]:
        return [f.warning for f in self.files if f.warning]


def parse_options(
    settings: DataprepSettings,
    scripts: Iterable[LoadedScript],
    to_simplified: Callable[[str], str] | None = None,
    card_language: str = "",
) -> ParseOptions:
    names = renpy_names.ScriptNames()
    shown: dict[str, str] = {}
    name_calls = kirikiri_format.NameCalls()  # of KAG tags that may name a speaker
    renpy: list[LoadedScript] = []
    typed: set[str] = set()  # WebGAL variables the player types a name into
    scenes: list[tuple[str, str]] = []  # WebGAL scenes, in the order they are read
    for script in scripts:
        if script.fmt == "renpy":
            script.makes_characters = names.add(script.text)
            script.languages = frozenset(renpy_translations.translation_languages(script.text))
            renpy.append(script)
        elif script.fmt == "kirikiri":
            found = kirikiri_format.display_names(script.text)
            shown.update(found)
            script.makes_characters = bool(found)
            shown.update(kirikiri_format.label_targets(script.text))  # scenes jumped to
            name_calls.add(script.text)
        elif script.fmt == "webgal":
            typed.update(webgal_format.typed_variables(script.text))
            scenes.append((str(script.path), script.text))
    language = renpy_language(settings.renpy_language, renpy) if renpy else None
    # The chosen language's string translations: what a string said from Python, and a
    # character's name, shows in it.
    strings = names.strings.get(language or "", {})
    # The name the player typed is whoever chats: {{user}} in a line, or the lead's own
    # name; as a speaker (`Character("[player]")`) the lead's name, so the lead is matched.
    lead = tidy_name(settings.lead_aliases[0])
    # Several typed names (a husband's, a wife's): the lead aliases say which is the player's.
    lead_aliases = frozenset(
        normalise_name(a)
        for a in _with_converted(settings.lead_aliases, to_simplified)
        if a.strip()
    )
    typed_leads = names.choose_player(
        lambda name: is_alias(name, lead_aliases, to_simplified), language
    )
    characters, variables = names.resolve(
        lead, USER_PLACEHOLDER if settings.user_placeholder else lead, strings, language
    )
    aliases = frozenset(
        normalise_name(a)
        for a in _with_converted(
            [*settings.lead_aliases, *settings.character_aliases], to_simplified
        )
        if a.strip()
    )
    characters = names.named_by_alias(
        characters, lambda name: is_alias(name, aliases, to_simplified), language
    )
    webgal_player = dict.fromkeys(typed, lead)
    # `setVar:heroine=亚托莉;` in one scene names `{heroine}:` in the scenes read after it.
    webgal = webgal_format.read_variables(scenes, webgal_player)
    return ParseOptions(
        scene_marker=compile_markers(settings.scene_markers),
        custom_regex=re.compile(settings.custom_regex) if settings.custom_regex else None,
        renpy_characters=characters,
        renpy_language=language,
        renpy_strings=strings,
        renpy_variables=variables,
        renpy_player=dict.fromkeys(names.player, lead),
        renpy_label_characters=names.label_characters(lead, strings, language),
        renpy_unsettled=names.unsettled(language),
        renpy_thoughts=names.definitions.thought_brackets(),
        renpy_typed_leads=typed_leads,
        kirikiri_names=shown,
        kirikiri_targets_gathered=True,
        # A game's own name tags (`[cn name="夏生"]`), learnt in one file, name in all.
        kirikiri_name_tags=kirikiri_format.name_tags(
            name_calls, shown, lambda name: is_alias(name, aliases, to_simplified)
        ),
        webgal_player=webgal_player,
        webgal_variables=webgal.starts,
        webgal_unresolved=dict(webgal.unresolved),
        webgal_computed=dict(webgal.computed),
        speaker_aliases=aliases,
        convert_name=to_simplified,
        dump_side=settings.dump_side,
        artemis_language=None if settings.artemis_language == "auto" else settings.artemis_language,
        card_language=card_language,
    )


def iter_utterances(
    scripts: list[LoadedScript],
    options: ParseOptions,
    progress: Progress = no_progress,
    tally: TranslationTally | None = None,
) -> Iterator[list[Utterance]]:
    """Every file's utterances in order, a batch (list) at a time; each file's text is let
    go once it is parsed.

    A file in which no line has a speaker (but lines lost to a macro left out,
    `MACRO_LEFT_OUT`) gets a "no dialogue found" error in its report,
    and its narration is not passed on: a file the read stage counts as failed adds no
    utterance to the stats (batches wait until the file's first spoken line).
    `tally` counts what a Ren'Py translation left out (`TranslationTally`).
    """
    placed = place_translations(scripts, options, tally)
    while scripts:
        script = scripts.pop(0)
        report, text = script.report, script.text
        spoken = False
        count = 0
        unclosed: list[int] = []  # lines of its say statements never closing their string
        sample: list[str] = []  # its first lines' text, to tell their language
        sampled = 0
        language = ""  # a translation file's, told where its lines were read
        waiting: list[list[Utterance]] = []
        try:
            read = placed.read.pop(script.path, None)
            if (unread := not_a_script(script)) is not None:
                raise NoScript(f"{unread}.")
            if read is not None:
                # A translation file: its lines put in place in their originals are its own.
                left, count = read
                spoken = placed.spoken.pop(script.path)
                language = placed.language.pop(script.path)
                unclosed = placed.unclosed.pop(script.path)
                batches: Iterable[list[Utterance]] = [left]
                count -= len(left)
            elif script.fmt == "plain":
                batches = plain_format.iter_batches(text, str(script.path), options)
            elif script.path in placed.at:
                translated = placed.at.pop(script.path)
                said = renpy_format.parse(text, str(script.path), options, translated)
                # Its translated lines are counted as their translation file's.
                count -= sum(len(t) for t in translated.values())
                batches = [said]
            else:
                batches = [PARSERS[script.fmt](text, str(script.path), options)]
            for batch in batches:
                count += len(batch)
                if sampled < SAMPLE_CHARS:
                    sampled += _sample(batch, sample)
                if script.fmt in UNCLOSED_FORMATS and read is None:
                    unclosed += unclosed_strings(batch, str(script.path))
                if not spoken:
                    # A line lost to a macro left out is none: its file has no
                    # dialogue, and its "no dialogue found" names the macros.
                    spoken = any(
                        u.speaker is not None and u.dropped != MACRO_LEFT_OUT for u in batch
                    )
                    if not spoken:
                        waiting.append(batch)
                        continue
                    yield from waiting
                    waiting = []
                yield batch
        except DataprepError as exc:
            report.error = str(exc)
            report.quiet = isinstance(exc, NoScript)
        else:
            # A Ren'Py file of `define`s alone is a dependency of the others, not a failure;
            # nor is one whose lines are in a language other than the one read (the
            # original script beside its translation, or a translation left out). Nor is
            # a TyranoScript first.ks that makes the characters (`[chara_new]`).
            defines_only = script.makes_characters or (
                script.fmt == "renpy" and other_language(script, options)
            )
            if not spoken and not defines_only:
                report.error, lacks_definitions = no_dialogue(script, options)
                report.quiet = script.fmt in QUIET_FORMATS and not lacks_definitions
            elif waiting:
                yield from waiting
            if unclosed and report.error is None:
                warning = unclosed_strings_warning(str(script.path), unclosed, script.fmt)
                report.warning = f"{report.warning} {warning}" if report.warning else warning
        del waiting
        report.utterances = count if report.error is None else 0
        if not report.utterances:
            report.language = ""
        elif read is not None:
            # A translation file's lines were put in their originals' files: its
            # language is theirs, told where they were read.
            report.language = language
        else:
            report.language = sample_language("\n".join(sample))
        del script, text
        progress(report.path, 1)


def _sample(batch: list[Utterance], sample: list[str]) -> int:
    """Add a batch's first lines to a file's sample; how many characters were added."""
    added = 0
    for utterance in batch:
        sample.append(utterance.text)
        added += len(utterance.text)
        if added >= SAMPLE_CHARS:
            break
    return added


def run_pipeline(
    settings: DataprepSettings,
    scripts: list[Path],
    *,
    fmt: str | None = None,
    background_path: Path | None = None,
    progress: Progress = no_progress,
    card_language: str = "",
) -> PrepResult:
    """Every stage from files to split samples and stats; writes nothing. `card_language`:
    the language the character card speaks, if known (`ParseOptions.card_language`)."""
    with gc_paused():
        return _run_stages(settings, scripts, fmt, background_path, progress, card_language)


def _run_stages(
    settings: DataprepSettings,
    scripts: list[Path],
    fmt: str | None,
    background_path: Path | None,
    progress: Progress,
    card_language: str,
) -> PrepResult:
    stats = Stats(character=character_name(settings))
    loaded, reports = load_scripts(scripts, settings, fmt, progress)
    stats.files = reports
    to_simplified = opencc_t2s() if settings.traditional_to_simplified else None
    options = parse_options(settings, loaded, to_simplified, card_language)
    # Taken before the stages below let the files go.
    translations = translated_languages(loaded)
    encoding_notes = _encoding_notes(loaded, settings.encoding)
    if not (fmt or settings.format != "auto"):
        encoding_notes += detection_notes(loaded, options)
    dumps = [(s.path.name, s.text) for s in loaded if s.fmt == "translation_dump"]
    if dumps and (order := translation_dump.order_note(dumps, options)) is not None:
        encoding_notes.append(order)
    tables = [(s.path.name, s.text) for s in loaded if s.fmt == "csv"]
    if tables:
        encoding_notes += table_format.wide_rows_note(tables, options)
    counts = Counts()
    tally = TranslationTally()
    # An alias that is a TyranoScript character id names its display name too.
    lead_aliases = kirikiri_format.with_display_names(settings.lead_aliases, options.kirikiri_names)
    character_aliases = kirikiri_format.with_display_names(
        settings.character_aliases, options.kirikiri_names
    )
    speakers = SpeakerMap.from_aliases(lead_aliases, character_aliases, to_simplified)
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
    slots = NameSlots(
        lead_aliases, USER_PLACEHOLDER if settings.user_placeholder else tidy_name(lead_aliases[0])
    )
    unfilled: Counter[str] = Counter()
    batches = _roles_and_clean(
        iter_utterances(loaded, options, progress, tally),
        settings,
        speakers,
        to_simplified,
        counts,
        _Slots(slots, unfilled),
        narration_giving_words(character_aliases, to_simplified),
    )
    lines = chain.from_iterable(batches)
    turn_drops: Counter[str] = Counter()
    samples = _counted(
        iter_samples(
            lines, turn_rules, turn_drops, counts.sounds_after_lead, counts.dropped_in_scene
        ),
        counts,
    )
    filter_drops: Counter[str] = Counter()
    kept = list(iter_filter(samples, filter_rules, filter_drops, stats.character_lines_dropped))
    stats.character_lines_dropped.update(turn_drops)
    if counts.character_empty:
        stats.character_lines_dropped["empty_after_clean"] += counts.character_empty
    stats.character_lines_dropped.update(counts.character_unusable)
    stats.character_lines_kept = sum(len(s.reply_lines) for s in kept)
    record_stages(stats, reports, counts, turn_drops, filter_drops, len(kept))
    stats.speakers = speaker_report(counts.speakers, speakers)
    for stage in ("speakers", "clean", "turns", "filter"):
        progress(stage, 1)

    train, evaluation = split_by_scene(kept, settings.eval_ratio, settings.seed)
    # Facts get the dialogue's conversions and length limit: Simplified, {{user}}.
    asking = bg.Asking(
        templates=settings.background_questions,
        character_aliases=_with_converted(settings.character_aliases, to_simplified),
        character=character_name(settings),
        card_language=card_language,
        to_simplified=to_simplified,
        replace=replace,
        max_reply_chars=settings.max_reply_chars,
    )
    chosen_background, background_notes = _background(settings, background_path, len(train), asking)
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
    result.notes = [
        *encoding_notes,
        *notes(stats, counts, train, evaluation, settings, options, translations, tally),
        # A WebGAL number's slot (`{sanity}`) is no name: its own note says so.
        *_unfilled_note(
            Counter({s: n for s, n in unfilled.items() if s[1:-1] not in options.webgal_computed})
        ),
        *background_notes,
    ]
    left_out = translations if options.renpy_language == renpy_translations.ORIGINAL else []
    result.problem = problem(stats, train, reports, left_out)
    return result


# A quote in narration is someone's words (it ends an exchange) unless it is a quoted term:
# a word, name or title the narration names as such right beside it
# (`脑海里闪过“迟到”二字`, `「高性能」という言葉`, `名为“亚托莉”`, `《“机器人”的心》`,
# `the word "robot"`), a few characters long (`_TERM_CHARS`) and not ending as a sentence
# does (`_SENTENCE_END`). Anything else quoted
# is taken for speech: a sentence (`"I'm Atri," she said`), words after a verb (`她歪着头说
# 「我是亚托莉」`), a line that is one quote (`“走吧”`), and a scare quote too (`她是“高性能”
# 的`), as no one can tell it from a short reply (`她只回了“知道了”`) without reading it.
# `这句话` / `the words` name an utterance, which someone said: no term.
_TERM_AFTER = re.compile(
    r"\s*(?:[二两兩三四几幾][个個]字|二字|[这這][个個][词詞名]|一[词詞]|[这這][个個]名字|的字[样樣]|"
    r"という(?:言葉|単語|名前|文字)|って言葉|の(?:二|三)?文字)"
)
_TERM_BEFORE = re.compile(
    r"(?:《[^》]*|所[谓謂]的?|名[为為叫]|叫做|[称稱][为為]|[题題][为為]|[写寫][着著]|"
    r"\b(?i:the\s+(?:word|term|name|title)|called|named|titled))\s*\Z"
)
_SENTENCE_END = frozenset("。！？!?.…,，、~～—-")
_TERM_CHARS = 12
# The words before a quote looked at for `_TERM_BEFORE` (`the word` and its blanks).
_BEFORE_CHARS = 12
_QUOTE_MARKS = frozenset('「“"')
# Words are hers where she is the one who speaks: a clause that starts with her (`她歪着头说
# 「`, `Atri asked curiously, "`, `Turning, she said, "`, `彼女は「`, `亚托莉小声说`), or her
# right after the quote (`"…," she said`, `"…" said Atri`, `「…」と彼女は`, `“…”她说`). Not
# `我问她“…”`, `"…?" I asked.`, `他说“…”`: anyone else's, or no one's named, is not hers.
_CLAUSE_STARTS = "。！？!?；;，,、…\n"
_CLAUSE_BODY = '[^。！？!?；;\n「」“”"]*?'
_HER_CLAUSE_CHARS = 60  # a clause longer than this before a quote is not read


def narration_giving_words(
    character_aliases: list[str], to_simplified: Callable[[str], str] | None
) -> Callable[[str], str | None]:
    """A test of a narration line that gives someone's words (`words_in_narration`: a quote,
    or her alias with a speech verb after it), a quoted term aside (`_quoted_term`): the
    speaker the turns stage reads it as, `NARRATED_HER_WORDS` where all the words it gives
    are hers (see `_CLAUSE_STARTS`), else `NARRATED_WORDS`; None for a line that gives
    none. Under `traditional_to_simplified` her aliases and the line are compared
    converted, a character at a time (narration is not converted: its lines go no
    further), so that 亞托莉說 in the script is 亚托莉说 in the config, and 亚托莉 in the
    config 亞托莉 there."""
    fold = None if to_simplified is None else _CharConverter(to_simplified)
    aliases = character_aliases if fold is None else [a.translate(fold) for a in character_aliases]
    find = words_in_narration(aliases).search
    her_first, her_after = _her_as_speaker(aliases)

    def is_hers(text: str, begin: int, end: int) -> bool:
        if text[begin] not in _QUOTE_MARKS:  # her alias and a verb: the clause must start so
            return her_first(text, max(0, end - _HER_CLAUSE_CHARS), end) is not None
        return (
            her_first(text, max(0, begin - _HER_CLAUSE_CHARS), begin) is not None
            or her_after(text, end) is not None
        )

    def gives_words(text: str) -> str | None:
        if fold is not None:
            text = text.translate(fold)
        speaker = None
        start = 0
        # From `start`, not on a copy of the rest of the line: linear in quotes per line.
        while (found := find(text, start)) is not None:
            begin, end = found.span()
            if text[begin] not in _QUOTE_MARKS or not _quoted_term(text, begin, end):
                if not is_hers(text, begin, end):
                    return NARRATED_WORDS
                speaker = NARRATED_HER_WORDS
            start = end
        return speaker

    return gives_words


def _her_as_speaker(
    aliases: list[str],
) -> tuple[
    Callable[[str, int, int], re.Match[str] | None], Callable[[str, int], re.Match[str] | None]
]:
    """Two searches (see `_CLAUSE_STARTS`): her starting the clause that ends at `endpos`,
    and her right after a quote that ends at `pos`."""
    names = "|".join(
        map(re.escape, sorted({a.strip() for a in aliases if a.strip()}, key=len, reverse=True))
    )
    her = (
        rf"(?:(?i:{names}|she)(?![A-Za-z])|她|彼女)"
        if names
        else r"(?:(?i:she)(?![A-Za-z])|她|彼女)"
    )
    first = re.compile(rf"(?:^|(?<=[{_CLAUSE_STARTS}]))\s*{her}{_CLAUSE_BODY}[\s,，:：]*\Z")
    after = re.compile(
        rf"[\s,，]*(?:と\s*)?(?:(?i:said|asked|replied|answered|whispered)\s+)?{her}"
    )
    return first.search, after.match


def _quoted_term(text: str, begin: int, end: int) -> bool:
    """Whether the quote at text[begin:end] is a quoted term (see `_TERM_AFTER`), not words."""
    inner = text[begin + 1 : end - 1].strip()
    if len(inner) > _TERM_CHARS or inner[-1:] in _SENTENCE_END:
        return False
    return (
        _TERM_AFTER.match(text, end) is not None
        or _TERM_BEFORE.search(text[max(0, begin - _BEFORE_CHARS) : begin]) is not None
    )


class _CharConverter(dict[int, str]):
    """A `str.translate` table that converts each character as `convert` writes it alone,
    asked once for each character seen."""

    def __init__(self, convert: Callable[[str], str]) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, code: int) -> str:
        self[code] = converted = self.convert(chr(code))
        return converted


# An inline command tag with a slot among its arguments (Naninovel's `[char b.Name
# pos:{pos} wait:false]`): cleaning deletes the tag, so the slot shows no name and must
# not drop the line as unresolved. A name, a blank, then arguments; not KiriKiri's
# `[emb exp=…]`, which shows its value.
_SLOTTED_TAG = re.compile(r"\[(?!(?i:emb)\s)[A-Za-z_][\w.]*+\s[^\[\]\n{]*+\{[^\[\]\n]*+\]")


@dataclass(frozen=True)
class _Slots:
    """The name slots of lines whose parser knows no markup, and the unfilled ones seen
    in the lead's and the character's lines (as written → lines)."""

    find: NameSlots
    unfilled: Counter[str]


def _roles_and_clean(
    batches: Iterable[list[Utterance]],
    settings: DataprepSettings,
    speakers: SpeakerMap,
    to_simplified: Callable[[str], str] | None,
    counts: Counts,
    slots: _Slots,
    gives_words: Callable[[str], str | None],
) -> Iterator[list[tuple[Utterance, Role]]]:
    """Give each line its role and clean the text of the lines the turns will read, a
    batch at a time.

    Narration is only cleaned when it can become a stage direction; a line that is empty
    after cleaning is dropped here, and ends no exchange. So is a line that its parser
    marked unusable, or that holds a name slot no one fills (`[player]` in a plain dump,
    `NameSlots`), but such a line, when someone says it, goes on uncleaned to the turns
    stage, whose exchange it ends: something was said there that no sample may skip
    (dropped, her line would leave the lead's lines on either side of it one turn).
    The lead's thoughts go no further (`_without_thoughts`). Narration that gives
    someone's words goes on uncleaned, in either mode, as an unnamed third party's line:
    the turns stage reads it for where an exchange ends (`_words_in_narration`).
    """
    skip_narration = settings.narration != "stage"
    counts.narration_cleaned = not skip_narration
    roles = counts.role_of
    empty = counts.empty_by_role
    for batch in batches:
        names = [u.speaker for u in batch]
        counts.heard.update(names)
        counts.scenes.update({(u.source, u.scene) for u in batch})
        for name in counts.heard.keys() - roles.keys():  # the names new in this batch
            roles[name] = speakers.role(name)
            if roles[name] is Role.LEAD and speakers.thinks(name):
                counts.thinking.add(name)
        lines = _words_in_narration(
            zip(batch, map(roles.__getitem__, names), strict=True), gives_words, skip_narration
        )
        if any(u.dropped is not None for u, _ in lines):
            lines = _usable(lines, counts)
        cleaned: list[tuple[Utterance, Role]] = []
        # Most lines need no cleaning (`may_change`): they go on a run at a time, and the
        # loop below only visits the others.
        changing: Iterable[int] = (
            may_change([u.text for u, _ in lines]) if to_simplified is None else range(len(lines))
        )
        done = 0
        for i in changing:
            cleaned += lines[done:i]
            done = i + 1
            line = lines[i]
            utterance, role = line
            if utterance.dropped is not None or is_narrated_words(utterance, role):
                # Said, unusable (see `_usable`), or narration's words: an exchange's end.
                cleaned.append(line)
                continue
            text = utterance.text
            markup = not utterance.shown
            if markup and ("[" in text or "{" in text or "%(" in text):
                if "[" in text and "{" in text:
                    text = _SLOTTED_TAG.sub("", text)
                text, unfilled = slots.find.fill(text)
                if unfilled:
                    utterance.dropped = UNRESOLVED_VARIABLE
                    _count_unusable(counts, utterance, role, UNRESOLVED_VARIABLE)
                    if role in _DIALOGUE_ROLES:
                        slots.unfilled.update(set(unfilled))
                    if role is not Role.NARRATION:
                        cleaned.append(line)
                    continue
            text = clean_text(text, to_simplified, markup)
            if text:
                utterance.text = text
                cleaned.append(line)
            else:
                empty[role] += 1
                if role is Role.CHARACTER:
                    counts.dropped_in_scene[scene_key(utterance.source, utterance.scene)][
                        "empty_after_clean"
                    ] += 1
        cleaned += lines[done:]
        yield _without_thoughts(cleaned, counts)


def _words_in_narration(
    lines: Iterable[tuple[Utterance, Role]],
    gives_words: Callable[[str], str | None],
    skip: bool,
) -> list[tuple[Utterance, Role]]:
    """The lines, with narration that gives someone's words (`narration_giving_words`: `她
    歪着头说「我是亚托莉」`) made a third party's line (`turns.is_narrated_words`), which no
    stage direction is and the turns stage reads for where an exchange ends; with `skip`,
    the other narration left out (it goes no further)."""
    kept: list[tuple[Utterance, Role]] = []
    for utterance, role in lines:
        if role is not Role.NARRATION:
            kept.append((utterance, role))
        elif utterance.dropped is None and (speaker := gives_words(utterance.text)) is not None:
            # Whose words, hers or not, as the speaker the turns stage reads
            # (`turns.is_narrated_words`); a narrator's name (`旁白：`) is no one's.
            utterance.speaker = speaker
            kept.append((utterance, Role.OTHER))
        elif not skip:
            kept.append((utterance, role))
    return kept


def _without_thoughts(
    lines: list[tuple[Utterance, Role]], counts: Counts
) -> list[tuple[Utterance, Role]]:
    """The lines but the lead's thoughts (counted in `counts.thoughts`): a line of his wholly
    in round brackets that says something (`is_thought_text`: `【夏生】（这家伙……）`, Ren'Py's
    `n "(What on earth…)"`), a line the game shows as a thought (`Utterance.thought`: a
    Ren'Py thought character's, a bare `(sigh)` too) or under a name that says so
    (`夏生（心想）：`, `夏生心想：`). She never heard it: it is nobody's prompt, and ends no
    exchange. Her own lines in brackets stay, as do his that only start with an aside
    (`（笑）好啊`) and his short actions (`（点头）`), which she answers."""
    lead, thinking = Role.LEAD, counts.thinking
    kept = [
        (u, r)
        for u, r in lines
        if r is not lead
        or u.dropped is not None
        or not (u.thought or u.speaker in thinking or is_thought_text(u.text))
    ]
    counts.thoughts += len(lines) - len(kept)
    return kept


def _usable(lines: list[tuple[Utterance, Role]], counts: Counts) -> list[tuple[Utterance, Role]]:
    """The lines their parser did not mark unusable, and those it did that someone says
    (they end an exchange); the unusable ones are counted by reason."""
    usable = []
    for utterance, role in lines:
        if utterance.dropped is None:
            usable.append((utterance, role))
            continue
        if role is not Role.NARRATION:
            usable.append((utterance, role))
        _count_unusable(counts, utterance, role, utterance.dropped)
        if utterance.dropped == UNRESOLVED_VARIABLE and role in _DIALOGUE_ROLES:
            counts.unresolved.update(set(renpy_text.variables_shown(utterance.text)))
        elif utterance.dropped == MACRO_LEFT_OUT:
            counts.left_out_macros[utterance.text] += 1  # the tag: `[saudio]`
    return usable


def _count_unusable(counts: Counts, utterance: Utterance, role: Role, reason: str) -> None:
    counts.unusable[role, reason] += 1
    if role is Role.CHARACTER:
        counts.dropped_in_scene[scene_key(utterance.source, utterance.scene)][reason] += 1


# Files named in the note on a guessed encoding; the rest are counted.
_FILES_NAMED = 3


def _encoding_notes(scripts: list[LoadedScript], forced: str) -> list[str]:
    """One sentence per encoding files were guessed to be in (not UTF-8, no BOM, not
    chosen in the config), naming them: a wrong guess reads as garbled text (or as no
    dialogue at all), and this line is where the user learns which one it was. And one
    per Unicode encoding files were read in against the `forced` one, whose bytes said so."""
    guessed: dict[str, list[str]] = {}
    unforced: dict[str, list[str]] = {}
    for script in scripts:
        if script.guessed_encoding:
            guessed.setdefault(script.report.encoding, []).append(script.path.name)
        elif script.unforced_encoding:
            unforced.setdefault(script.report.encoding, []).append(script.path.name)
    said = [
        f"Read as {encoding} (guessed: not UTF-8, no BOM): {_named(files)}; if the text looks"
        " garbled, set [dataprep] encoding to the right one."
        for encoding, files in guessed.items()
    ]
    said += [
        f'Read as {encoding}, not as [dataprep] encoding "{forced}": {_named(files)}; they'
        f" carry a byte-order mark or are valid UTF-8, which {forced} would have garbled."
        for encoding, files in unforced.items()
    ]
    return said


def _named(files: list[str]) -> str:
    """The first `_FILES_NAMED` files by name, the rest counted."""
    named = ", ".join(files[:_FILES_NAMED])
    more = len(files) - _FILES_NAMED
    if more > 0:
        named += f" and {more} more file{'s' if more != 1 else ''}"
    return named


def _unfilled_note(unfilled: Counter[str]) -> list[str]:
    """Which name slots lost the lead's and the character's lines of plain dumps."""
    if not unfilled:
        return []
    named = [f"{slot} in {n} line{'s' if n != 1 else ''}" for slot, n in unfilled.most_common(5)]
    more = len(unfilled) - len(named)
    return [
        "Lines with a name only the game fills in were dropped: "
        + "; ".join(named)
        + (f"; and {more} other{'s' if more != 1 else ''}" if more > 0 else "")
        + ". If one stands for the lead, add its word (e.g. player) to [dataprep]"
        " lead_aliases, and it becomes the lead."
    ]


def _with_converted(names: list[str], convert: Callable[[str], str] | None) -> list[str]:
    """The names, and each as `convert` writes it (the lines are converted before the
    lead's names in them are replaced)."""
    return names if convert is None else [*names, *(convert(n) for n in names)]


def _counted(samples: Iterator[Sample], counts: Counts) -> Iterator[Sample]:
    for sample in samples:
        counts.samples += 1
        counts.sample_scenes.add(sample.scene_key)
        yield sample


def _background(
    settings: DataprepSettings, path: Path | None, dialogue: int, asking: bg.Asking
) -> tuple[list[Sample], list[str]]:
    """The background samples mixed into `dialogue` train samples, and the notes on the facts."""
    if path is None and settings.background:
        path = Path(settings.background).expanduser()
    if path is None:
        return [], []
    pool = bg.background_pool(bg.read_lore(path), asking)
    count = bg.mix_count(dialogue, settings.background_ratio)
    chosen = bg.choose_background(pool, count, settings.seed)
    short = bg.shortfall_note(count, len(chosen), dialogue, settings.background_ratio)
    left_out = bg.left_out_note(pool, chosen, settings.background_ratio)
    other = _background_language_note(path, pool, chosen, asking.card_language)
    return chosen, [*pool.notes, *short, *left_out, *other]


def _background_language_note(
    path: Path, pool: bg.Pool, chosen: list[Sample], card: str
) -> list[str]:
    """A sentence when facts taught (`chosen`) are in another language than the card's
    (`card`), as `card_language_note` says of the script's lines: those samples teach her
    to answer in it under a system prompt in the card's."""
    spoken = LANGUAGE_NAMES.get(card, "")
    if not spoken:
        return []  # no card language known: nothing to compare with
    taught = {id(sample) for sample in chosen}
    other: dict[str, int] = {}  # fact label → its samples taught
    languages: set[str] = set()
    for label, asked in pool.facts:
        # Told as the fact's default questions are (`fact_language`), from the text it
        # teaches: its topic, answer and the questions asked, in the run's conversions.
        said = bg.Fact(asked[0].scene, asked[0].reply, [s.prompt for s in asked])
        language = bg.fact_language(said, card)
        if language != card and (n := sum(id(s) in taught for s in asked)):
            other[label] = n
            languages.add(LANGUAGE_NAMES[language])
    if not other:
        return []
    named = ", ".join(list(other)[:3]) + (f" and {len(other) - 3} more" if len(other) > 3 else "")
    written_in = " and ".join(sorted(languages))
    return [
        f"{len(other)} of {len(pool.facts)} background facts in {path} are in {written_in}"
        f" ({named}; {sum(other.values())} of {len(chosen)} background samples), but the"
        f' character card is used in {spoken} ([persona] language, "{card}"): the adapter'
        f" learns to answer them in {written_in} under a system prompt in {spoken}. Write"
        f" those facts in {spoken}, or use the card in their language."
    ]


def prepare(
    settings: DataprepSettings,
    scripts: list[Path],
    out: Path,
    *,
    system_prompt: str,
    fmt: str | None = None,
    background_path: Path | None = None,
    progress: Progress = no_progress,
    card_language: str = "",
) -> PrepResult:
    """Run every stage and, when there are samples, write every file; the library entry
    point behind `atri prep`. Files are written into a temporary folder beside `out` and
    moved into `out` only when complete: a run with nothing to write (see
    `PrepResult.problem`) leaves `out` exactly as it was, and so does a file that cannot be
    written, or a dataset_info.json in `out` that cannot be read as one (DataprepError
    naming it, before any work). An earlier run killed while moving its files in is
    undone first (see `recover_interrupted`), and on SIGTERM as on Ctrl-C."""
    # A polite kill (`kill`, systemd) puts the earlier files back as Ctrl-C does; by
    # default SIGTERM ended Python mid-move, the dataset half replaced until a next run.
    with sigterm_as_interrupt():
        check_output_folder(out)
        recover_interrupted(out)
        check_not_anothers(out, settings, character_name(settings))
        # Checked before any work: other characters' entries are kept in it when the files
        # are moved in, and a file that cannot be read as one is never replaced.
        read_dataset_info(out / DATASET_INFO)
        if not settings.user_placeholder:
            # Her replies name the lead as written: so does her prompt. Left {{user}}, a model
            # trained elsewhere (LLaMA-Factory) says "{{user}}" to people; only ATRI's worker
            # fills it in.
            system_prompt = system_prompt.replace(
                USER_PLACEHOLDER, tidy_name(settings.lead_aliases[0])
            )
        plotter = plotter_for(scripts)
        try:
            result = run_pipeline(
                settings,
                scripts,
                fmt=fmt,
                background_path=background_path,
                progress=progress,
                card_language=card_language,
            )
            if result.problem is None:
                result.notes += write_output_folder(
                    out,
                    result.stats,
                    result.train,
                    result.evaluation,
                    settings,
                    system_prompt,
                    plotter,
                )
        finally:
            if plotter is not None:
                plotter.cancel()
        progress("write", 1)
        return result
