"""`atri eval`: base vs adapter on held-out perplexity, probes and style."""

from __future__ import annotations

import datetime as dt
import errno
import logging
import os
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atri.config import EvalSettings, GenerationSettings, Settings
from atri.errors import UserError
from atri.files import write_text_atomic
from model.adapters.validation import check_adapter_folder, check_config_hash, same_base
from model.adapters.versions import (
    EVAL_JSON,
    EVAL_REPORT,
    AdapterError,
    CharacterId,
    ManifestError,
    read_manifest,
    sha256_file,
    trained_as,
    write_json_atomic,
)
from model.character.ooc import OOCDetector
from model.character.prompt import CharacterNote, ChatMessages, PromptTooLong, Window, check_room
from model.engines.base import chat_template_of
from model.engines.chat_template import user_turn_markers
from model.evaluation.perplexity import mean_token_loss, perplexity
from model.evaluation.probes import Probe, fallback_note, few_probes_note, load_probes
from model.evaluation.progress import NoProgress, ProbeProgress
from model.evaluation.report import EvalReport, ModelFigures, ProbeReply, probe_set_fingerprint
from model.evaluation.style import style_rate
from model.training.dataset import Sample, TokenizedSet, tokenize_dataset
from model.training.dataset_index import held_out_file
from model.training.sharegpt import Conversation, load_sharegpt

if TYPE_CHECKING:
    from model.character.persona import Persona

log = logging.getLogger(__name__)
ADAPTER_NAME = "evaluated"


class EvalError(UserError):
    """An evaluation that cannot run as asked; str() is one sentence saying why."""


def trained_on_note(manifest: dict[str, Any], eval_file: Path | None) -> str:
    """A sentence when the held-out file is the very file the version was trained on: its
    "held-out" perplexity then only shows how well the adapter memorised it."""
    if eval_file is None or not eval_file.is_file():
        return ""
    if manifest.get("dataset_sha256") != sha256_file(eval_file):
        return ""
    return (
        f"{eval_file} is the file {manifest.get('version')} was trained on, not held out: "
        "its perplexity shows memorisation; pass the held-out file with --eval-dataset."
    )


def version_held_out(settings: Settings, manifest: dict[str, Any]) -> tuple[Path | None, str]:
    """(the held-out file to score the version on, a sentence when it is not the usual one).

    The file the version was trained beside (its manifest's `eval_dataset_file`, same
    hash) wins over the configured one: trained with `--dataset other.json`, the version
    is scored on other_eval.json, not on another character's held-out set. A held-out file
    given to `atri eval` (or in `[train] eval_dataset`) is used as given. Any other one is
    scored only when it lies beside the very file the version was trained on (same hash):
    else it may be another dataset's, and its perplexity would measure nothing the version
    was trained for, so it is left out (None) and the sentence says what was checked."""
    configured = held_out_file(settings)
    if settings.train.eval_dataset:
        return configured, ""
    trained_sha = manifest.get("eval_dataset_sha256")
    recorded = isinstance(trained_sha, str)
    if recorded and configured is not None and sha256_file(configured) == trained_sha:
        return configured, ""
    version = manifest.get("version")
    own_file = manifest.get("eval_dataset_file")
    own = Path(own_file) if isinstance(own_file, str) else None
    if recorded and own is not None and own.is_file() and sha256_file(own) == trained_sha:
        return own, (
            f"Scoring {version} on {own}, the held-out file it was trained beside "
            f"(not {configured or 'the configured dataset'}'s); pass --eval-dataset "
            "to choose another."
        )
    if configured is None:
        return None, (
            f"No held-out perplexity for {version}: there is no held-out file beside "
            f"{settings.path(settings.train.dataset).name} (written by `atri prep` when "
            "[dataprep] eval_ratio is above 0); pass --eval-dataset FILE to score it on one."
        )
    if unproven := _not_its_training_file(settings, manifest):
        own_note = (
            f"the held-out file it was trained beside ({own or 'not recorded'}) has changed "
            "or is gone"
            if recorded
            else "its manifest records no held-out file"
        )
        return None, (
            f"No held-out perplexity for {version}: {own_note}, and {configured} may be "
            f"another dataset's, as {unproven}; pass --eval-dataset {configured} to score "
            "it on that file anyway."
        )
    if not recorded:
        return configured, ""  # trained without one; this one lies beside its training file
    return configured, (
        f"{configured} is not the held-out file {version} was trained beside (that one "
        "has changed or is gone), so its perplexity does not match the training's "
        "held-out loss; pass --eval-dataset to choose the file."
    )


def _not_its_training_file(settings: Settings, manifest: dict[str, Any]) -> str:
    """How the configured training file, the one the configured held-out file lies
    beside, fails to be the file the version was trained on, as a clause ("" when it is)."""
    train_file = settings.path(settings.train.dataset)
    trained_on = manifest.get("dataset_sha256")
    version = manifest.get("version")
    if not isinstance(trained_on, str):
        return f"its manifest records no hash of its training file to check {train_file} against"
    if not train_file.is_file():
        return f"the training file beside it ({train_file}) is gone"
    if sha256_file(train_file) != trained_on:
        return (
            f"{train_file} beside it is not the file {version} was trained on (its sha256 "
            "differs from the manifest's dataset_sha256)"
        )
    return ""


def left_out_note(held: TokenizedSet, conversations: int, max_len: int) -> str:
    """A sentence when held-out conversations (or replies in them) are not in the
    perplexity: it is then measured on fewer than the file holds ("" when all are in)."""
    parts = held.why_left_out(max_len)
    hidden = ""
    if held.hidden:
        # Kept, but scored on fewer reply tokens than the file holds.
        n = held.hidden
        hidden = (
            f"{n} repl{'ies' if n != 1 else 'y'} that the chat template hides in the "
            f"conversations kept {'are' if n != 1 else 'is'} not scored."
        )
    if not parts:
        return hidden
    left = held.skipped + held.unplaced
    return " ".join(
        s
        for s in (
            f"{left} of the {conversations} held-out conversations are left out of the "
            f"perplexity: {' and '.join(parts)}.",
            hidden,
        )
        if s
    )


def eval_conversations(settings: Settings) -> tuple[list[Conversation], list[Conversation]]:
    """(held-out conversations, conversations for the dataset's style rate)."""
    held_out, style_source, _ = _conversations(settings, held_out_file(settings))
    return held_out, style_source


def _conversations(
    settings: Settings,
    eval_file: Path | None,
    notify: Callable[[str], None] | None = None,
    style_file: Path | None = None,
) -> tuple[list[Conversation], list[Conversation], Path | None]:
    """(held-out conversations, the style reference's, the style reference's file).

    The style reference is `style_file` when one is given (`atri eval --dataset`), else
    the held-out set (the version's own, so its character's), else the training file."""
    t = settings.train
    train_file = settings.path(t.dataset)
    if t.eval_dataset and eval_file is not None and not eval_file.is_file():
        # load_sharegpt's sentence would send the user to --dataset, not the flag given.
        what = "is a folder, not a file" if eval_file.is_dir() else "not found"
        raise EvalError(
            f"{eval_file}: held-out file {what}; fix --eval-dataset ([train] eval_dataset)."
        )
    held_out = (
        load_sharegpt(eval_file, allow_empty=True, notify=notify) if eval_file is not None else []
    )
    if style_file is not None:
        return held_out, load_sharegpt(style_file, notify=notify), style_file
    if held_out:
        return held_out, held_out, eval_file
    if not train_file.is_file():
        return [], [], None
    return [], load_sharegpt(train_file, notify=notify), train_file


def evaluate(
    settings: Settings,
    version_dir: Path,
    probes_path: Path | None = None,
    progress: Callable[[str], None] | None = None,
    style_file: Path | None = None,
    bar: ProbeProgress | None = None,
) -> EvalReport:
    """Score a version against its bare base: held-out perplexity, and the replies to the
    probes (out-of-character and style rates); the report goes into the version's folder.
    `style_file`: the file whose replies' style rate the probe replies are set beside
    (`--dataset`); by default the held-out set's. `bar` is told of each reply made."""
    from model.character.persona import configured_persona, default_user_name

    say = progress or (lambda message: log.info("%s", message))
    manifest = _manifest_for_this_base(settings, version_dir)
    if not os.access(version_dir, os.W_OK):
        # Said before the minutes of probing (hours on a large model) it would throw away.
        raise EvalError(
            f"Cannot write the evaluation into {version_dir} (a read-only folder or disk): "
            "make the folder writable and run `atri eval` again; nothing was evaluated."
        )
    persona = configured_persona(settings)
    _check_character(version_dir, manifest, CharacterId.of(persona.name, persona.aliases))
    eval_file = _held_out_file_said(settings, manifest, say)
    configured = settings.path(settings.eval.probes) if settings.eval.probes else None
    # Asked as the worker would be asked: her name and the person's filled in.
    user = default_user_name(persona, settings)
    probes = [p.naming(persona.name, user) for p in load_probes(probes_path or configured)]
    if note := borrowed_yardsticks_note(settings, persona, probes_path or configured):
        say(note)
    held_out, style_source, style_path = _conversations(settings, eval_file, say, style_file)
    reference = [t for c in style_source for t in c.replies()]
    # Probes are asked, and replies judged, in the language she speaks where she is
    # served (the chosen card's), whatever the dataset's language.
    language = persona.main_language
    for note in (fallback_note(probes, language), few_probes_note(len(probes))):
        if note:
            say(note)
    detector = OOCDetector.for_character(settings.ooc, language)
    card = persona.system_prompt()
    systems = _system_prompts(card, manifest)
    # The character's note goes with the card, told in the chat as the worker tells it.
    notes = {
        which: persona.note_in_chat() if system == card else None
        for which, system in systems.items()
    }
    gen = GenerationSettings(
        max_new_tokens=settings.eval.max_new_tokens,
        do_sample=False,
        repetition_penalty=settings.generation.repetition_penalty,
    )
    batch_size = settings.eval.batch_size
    figures: dict[str, ModelFigures] = {}
    replies: dict[str, list[ProbeReply]] = {}
    bar = bar or NoProgress()
    # Started before the loading, which takes minutes on a slow machine: each stage is said.
    bar.start(2 * len(probes))  # each model's reply to each probe
    try:
        loaded, engine = _engine_with_adapter(settings, version_dir, manifest, bar.phase)
        _check_prompts_fit(engine, systems, notes, settings.eval.max_new_tokens)
        max_len = _scored_length(settings, manifest)
        samples = _held_out_samples(loaded.tokenizer, held_out, max_len, say)
        for which in ("base", "adapter"):
            say(f"Probing the {which} ({len(probes)} probes, {len(samples)} held-out samples)…")
            switched_off = engine.model.disable_adapter() if which == "base" else nullcontext()
            with switched_off:
                if samples:
                    bar.phase(f"{which}: held-out perplexity")
                ppl = _perplexity(engine, samples, loaded.tokenizer.pad_token_id, batch_size)
                bar.phase(f"{which}: probes")
                texts = _answer(
                    engine, probes, language, systems[which], gen, batch_size, bar, notes[which]
                )
            markers = user_turn_markers(chat_template_of(engine))
            replies[which] = _judged(which, probes, language, texts, persona, detector, markers)
            figures[which] = _figures(ppl, replies[which], settings.eval.style_markers)
    finally:
        bar.stop()
    report = EvalReport(
        adapter_version=str(manifest.get("version", version_dir.name)),
        base=figures["base"],
        adapter=figures["adapter"],
        dataset_style_rate=style_rate(reference, settings.eval.style_markers),
        probes=len(probes),
        language=language,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        worst=_worst(replies, settings.eval.worst_examples),
        character=persona.name,
        held_out_file=str(eval_file) if held_out and eval_file is not None else "",
        style_file=str(style_path or ""),
        probe_set=probe_set_fingerprint([p.text(language) for p in probes]),
        max_new_tokens=settings.eval.max_new_tokens,
    )
    _write_report(version_dir, report)
    return report


def borrowed_yardsticks_note(settings: Settings, persona: Persona, probes: Path | None) -> str:
    """A sentence when another character is judged by ATRI's own yardsticks: the packaged
    probes ask her about Natsuki and whether she is a robot, and the default style markers
    count ATRI's catchphrases, so the figures would say little about her."""
    from model.character.persona import load_persona

    atri = load_persona()
    if CharacterId.of(persona.name, persona.aliases).is_same(
        CharacterId.of(atri.name, atri.aliases)
    ):
        return ""
    borrowed = []
    if probes is None:
        borrowed.append("probe set ([eval] probes)")
    if settings.eval.style_markers == EvalSettings().style_markers:
        borrowed.append("style markers ([eval] style_markers)")
    if not borrowed:
        return ""
    return (
        f"{persona.name} is judged by ATRI's own {' and '.join(borrowed)}: give "
        f"{persona.name}'s own there for figures that are about her."
    )


def _manifest_for_this_base(settings: Settings, version_dir: Path) -> dict[str, Any]:
    """The version's manifest; a sentence if it is unreadable or names another base."""
    try:
        manifest = read_manifest(version_dir)
    except ManifestError as exc:
        raise EvalError(str(exc)) from None
    # The reload job's rule: "./models/x" and "/abs/models/x" name one base.
    recorded_hash = str(manifest.get("base_config_hash") or "")
    if not same_base(
        str(manifest.get("base_model") or ""), settings.model.base, settings.root, recorded_hash
    ):
        raise EvalError(
            f'{version_dir.name} was trained on base "{manifest.get("base_model")}", but '
            f'[model] base is "{settings.model.base}"; evaluate it with that base.'
        )
    return manifest


def _check_character(version_dir: Path, manifest: dict[str, Any], ours: CharacterId) -> None:
    """A version trained as another character is probed and judged as her, with her card:
    under this config's card its figures would say nothing (and its eval.json would gate
    her worker's reload on them)."""
    theirs = trained_as(manifest)
    if theirs is not None and not theirs.is_same(ours):
        raise EvalError(
            f"{version_dir.name} was trained as {theirs.name}, but the configured character "
            f"is {ours.name}: evaluate it with {theirs.name}'s config (--config), and give "
            "each character its own [model] adapters_dir."
        )


def _held_out_file_said(
    settings: Settings, manifest: dict[str, Any], say: Callable[[str], None]
) -> Path | None:
    """The held-out file to score the version on, saying why when it is not the usual
    one or when the version was trained on it."""
    eval_file, chosen = version_held_out(settings, manifest)
    for note in (chosen, trained_on_note(manifest, eval_file)):
        if note:
            say(note)
    return eval_file


def _system_prompts(card: str, manifest: dict[str, Any]) -> dict[str, str]:
    """Two prompts, one rule: the adapter answers under the prompt it was trained with,
    the bare base model under the whole card."""
    recorded = manifest.get("system_prompt")
    return {
        "base": card,
        "adapter": recorded if isinstance(recorded, str) and recorded else card,
    }


# The reason an empty probe reply is counted out of character.
EMPTY_REPLY = "no reply"


def probe_chat(system: str, text: str, note: CharacterNote | None = None) -> ChatMessages:
    """A probe as the worker asks it of a new conversation: under `system`, with the
    character's `note` (given under the card only) where its depth puts it."""
    asked: ChatMessages = [{"role": "user", "content": text}]
    return [{"role": "system", "content": system}, *(note.told_in(asked) if note else asked)]


def _engine_with_adapter(
    settings: Settings,
    version_dir: Path,
    manifest: dict[str, Any],
    stage: Callable[[str], None],
) -> tuple[Any, Any]:
    """(the loaded base model, an engine on it with the version's adapter active), each
    loading told to `stage` as it begins; a broken adapter folder or another build of
    the base is a sentence."""
    from model.engines.loading import load_base_model
    from model.engines.local import LocalEngine, context_window_of

    try:
        check_adapter_folder(version_dir)  # a broken one is a sentence, before any loading
    except AdapterError as exc:
        raise EvalError(f"{version_dir.name}: {exc}") from None
    stage("loading the base model")
    loaded = load_base_model(settings)
    engine = LocalEngine(loaded, context_window_of(settings, loaded.model))
    # The serving engines' own rule and sentence; a manifest that records no hash passes.
    if (recorded := manifest.get("base_config_hash")) is not None:
        base_model = str(manifest.get("base_model") or "")
        try:
            check_config_hash(version_dir.name, base_model, str(recorded), engine)
        except AdapterError as exc:
            raise EvalError(str(exc)) from None
    stage("loading the adapter")
    engine.load_adapter_sync(version_dir, ADAPTER_NAME)
    engine.activate_sync(ADAPTER_NAME)
    return loaded, engine


def _check_prompts_fit(
    engine: Any,
    systems: dict[str, str],
    notes: dict[str, CharacterNote | None],
    max_new_tokens: int,
) -> None:
    """EvalError, before any probe, where a system prompt leaves no room for a probe and
    its reply in the context window: the model was asked past its positions, and a
    traceback came out of its embedding."""
    window = Window(engine.context_window, max_new_tokens)
    for which, system in systems.items():
        try:
            check_room(system, engine.count_tokens, window, notes[which])
        except PromptTooLong as exc:
            raise EvalError(
                f"The {which}'s system prompt takes {exc.system_tokens} tokens, which leaves "
                f"no room for a probe and a {max_new_tokens}-token reply in the "
                f"{exc.context_window}-token context window: shorten the character card, "
                "lower [eval] max_new_tokens, or raise [model] context_window where the "
                "model takes more."
            ) from None


def _scored_length(settings: Settings, manifest: dict[str, Any]) -> int:
    """The longest held-out conversation scored: `[train] max_seq_length`, or the length
    the version was trained at when longer (its held-out set was cut at that one, and
    `atri eval` has no flag to raise it)."""
    recorded = manifest.get("settings", {})
    trained = recorded.get("max_seq_length") if isinstance(recorded, dict) else None
    if type(trained) is int and trained > settings.train.max_seq_length:
        return trained
    return settings.train.max_seq_length


def _held_out_samples(
    tokenizer: Any, held_out: list[Conversation], max_len: int, say: Callable[[str], None]
) -> list[Sample]:
    """The held-out conversations tokenized for perplexity, saying which are left out."""
    held = tokenize_dataset(tokenizer, held_out, max_len)
    if note := left_out_note(held, len(held_out), max_len):
        say(note)
    return held.samples


def _perplexity(
    engine: Any, samples: list[Sample], pad_token_id: int, batch_size: int
) -> float | None:
    """The active model's held-out perplexity (None with no held-out samples)."""
    if not samples:
        return None
    return perplexity(mean_token_loss(engine.model, samples, pad_token_id, batch_size))


def _judged(
    which: str,
    probes: list[Probe],
    language: str,
    texts: list[str],
    persona: Persona,
    detector: OOCDetector,
    turn_markers: Sequence[str] = (),
) -> list[ProbeReply]:
    """Each probe's reply, cleaned as the worker cleans hers (without her name or an
    alias as its label, nor a turn written past the template's `turn_markers`), with why
    the detector flags it out of character."""
    from model.character.prompt import clean_reply

    cleaned = [clean_reply(t, persona.name, persona.aliases, turn_markers) for t in texts]
    return [
        ProbeReply(which, p.category, p.text(language), text, _flagged(text, detector))
        for p, text in zip(probes, cleaned, strict=True)
    ]


def _flagged(reply: str, detector: OOCDetector) -> tuple[str, ...]:
    """Why a reply is out of character. One with no words in it is too: she said
    nothing (a reasoning model spending its budget thinking, a model repeating blank
    lines), which no rule of the detector finds, and it read as 0% out of character."""
    if not reply.strip():
        return (EMPTY_REPLY,)
    return detector.check(reply).reasons


def _figures(ppl: float | None, replies: list[ProbeReply], markers: Sequence[str]) -> ModelFigures:
    """One model's figures: perplexity, and the share of its replies out of character
    and in the character's style."""
    flagged = sum(1 for r in replies if r.reasons)
    return ModelFigures(
        perplexity=ppl,
        ooc_rate=flagged / len(replies),
        style_rate=style_rate([r.reply for r in replies], markers),
    )


def _worst(replies: dict[str, list[ProbeReply]], n: int) -> list[ProbeReply]:
    """The first `n` flagged replies of the adapter, then of the base."""
    return [r for r in replies["adapter"] if r.reasons][:n] + [
        r for r in replies["base"] if r.reasons
    ][:n]


def _write_report(version_dir: Path, report: EvalReport) -> None:
    """The report into the version's folder; a sentence if it cannot be written, with
    any earlier one left whole."""
    try:
        # eval.json last: it is what the reload job reads, so it is old or new whole.
        write_text_atomic(version_dir / EVAL_REPORT, report.markdown())
        write_json_atomic(version_dir / EVAL_JSON, report.as_dict())
    except OSError as exc:
        if not version_dir.is_dir():
            raise EvalError(
                f"Could not write the evaluation into {version_dir}: the version's folder was "
                "removed while it was evaluated (`atri adapters prune`?)."
            ) from None
        fix = (
            "make the folder writable"
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
            else "free some space"
        )
        raise EvalError(
            f"Could not write the evaluation into {version_dir} ({exc.strerror or exc}); "
            f"any earlier {EVAL_JSON} there is untouched: {fix} and run `atri eval` again."
        ) from None


def _answer(
    engine: Any,
    probes: list[Probe],
    language: str,
    system: str,
    gen: GenerationSettings,
    batch_size: int,
    bar: ProbeProgress,
    note: CharacterNote | None = None,
) -> list[str]:
    out: list[str] = []
    for start in range(0, len(probes), batch_size):
        batch = [
            probe_chat(system, p.text(language), note) for p in probes[start : start + batch_size]
        ]
        out += [g.text for g in engine.generate_sync(batch, gen)]
        bar.advance(len(batch))
    return out
