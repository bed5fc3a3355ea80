"""What a run trains on: the dataset and held-out files checked and hashed, then
tokenized into sets, with one sentence for what training cannot use."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atri.config import LANGUAGE_NAMES, OFFLINE_DEFAULT_BASE, Settings
from atri.terminal import counted
from model.adapters.versions import sha256_file
from model.character.persona import TRAINING_PROMPTS
from model.training.dataset import TokenizedSet, tokenize_dataset
from model.training.dataset_index import (
    DATASET_INFO,
    EVAL_SUFFIX,
    held_out_file,
    registered_files,
    split_of,
)
from model.training.errors import HeldOutAsTrainingError, TrainError
from model.training.sharegpt import Conversation


@dataclass
class DataFiles:
    train: Path
    eval: Path | None
    train_sha256: str
    eval_sha256: str | None


def resolve_data_files(settings: Settings) -> DataFiles:
    t = settings.train
    train_file = settings.path(t.dataset)
    if train_file.is_dir():
        registered = registered_files(train_file)
        if registered:
            # A LLaMA-Factory data folder: training takes one file, and reads that file's
            # entry of the index (its columns and tags) when given the file.
            shown = ", ".join(registered[:3]) + (", …" if len(registered) > 3 else "")
            raise TrainError(
                f"{train_file} is a folder whose {DATASET_INFO} registers {shown}; atri train "
                "reads one file, not the folder's index: pass that file "
                f"(--dataset {train_file / registered[0]}), and its entry's columns and tags "
                "are read."
            )
        raise TrainError(
            f"{train_file} is a folder; pass the sharegpt file in it{_named_in(train_file)} "
            "(--dataset)."
        )
    # Also when the training file is there: it may be the killed run's, moved in beside
    # the earlier eval file still aside (a version trained on a dataset nothing keeps).
    _put_back_after_a_killed_prep(train_file.parent)
    if not train_file.is_file():
        raise TrainError(
            f"{train_file}: dataset file not found; {_missing_dataset_advice(train_file)}"
        )
    _check_not_held_out(train_file)
    eval_file = held_out_file(settings)
    # A missing --eval-dataset stopped the command already (`check_given_files`): the
    # file here is [train] eval_dataset's, or the flag's folder.
    if eval_file is not None and eval_file.is_dir():
        raise TrainError(
            f"{eval_file} is a folder; pass the held-out sharegpt file in it ([train] "
            "eval_dataset or --eval-dataset)."
        )
    if eval_file is not None and not eval_file.is_file():
        raise TrainError(
            f"{eval_file}: eval dataset file not found; fix [train] eval_dataset (or "
            "--eval-dataset)."
        )
    return DataFiles(
        train=train_file,
        eval=eval_file,
        train_sha256=sha256_file(train_file),
        eval_sha256=sha256_file(eval_file) if eval_file else None,
    )


def _check_not_held_out(train_file: Path) -> None:
    """Stop a run on a held-out split (`atri_sharegpt_eval.json`, which tab completion
    offers beside `atri_sharegpt.json`): it trained and published a version scored on
    nothing, which the worker took at once and prune then kept over the good one."""
    split = split_of(train_file)
    if split is None:
        return
    trained, how = split
    raise HeldOutAsTrainingError(
        f"{train_file} is the held-out split of {trained.name} ({how}), kept out of "
        "training so that the held-out loss scores conversations a version did not learn: "
        f"pass --dataset {trained} (or set [train] dataset to it); to train on the "
        f"held-out file all the same, copy it to a name without {EVAL_SUFFIX}."
    )


def other_character_note(
    system_prompt: str, name: str, names: tuple[str, ...], file: Path, template: str
) -> str:
    """A sentence when the samples' system prompt names none of the configured character's
    names: a dataset prepared for another character (ATRI's atri_sharegpt.json, the shipped
    [train] dataset, under a config whose card is someone else's) would train a version
    recorded as hers, which her worker then serves as her. `template` is `[persona]
    training_prompt`, which `atri prep` filled in."""
    if not system_prompt or names_character(system_prompt, names, template):
        return ""
    return (
        f"{file}: its samples' system prompt ({_shown(system_prompt)}) does not name {name},"
        " the configured character: was it prepared for another one? Set [train] dataset"
        " (or --dataset) to "
        f"the file `atri prep` wrote for {name}."
    )


def other_prompt_note(system_prompt: str, configured: str, file: Path) -> str:
    """A sentence when the samples' system prompt is not `[persona] training_prompt` as
    it is set now (`configured`, filled in): changed after `atri prep`, the key does not
    reach the version, which trains and is served under the samples' prompt."""
    if not system_prompt or system_prompt.strip() == configured.strip():
        return ""
    return (
        f"{file}: its samples carry the system prompt {_shown(system_prompt)}, not [persona]"
        f" training_prompt as set now ({_shown(configured)}): the version trains, and is"
        " served, under theirs; run `atri prep` again if you changed the key since."
    )


def other_language_note(
    system_prompt: str, prompts: dict[str, str], settings: Settings, file: Path
) -> str:
    """A sentence when the samples' system prompt is `[persona] training_prompt` in
    another of the card's languages than the one chosen now (`prompts`: each language's,
    filled in, the chosen one first): the key is as it was, the language changed, most
    often by `[model] base` under `[persona] language = "auto"` (English on the offline
    default, the card's own language on any other base)."""
    chosen, *others = prompts
    said = system_prompt.strip()
    language = next((lang for lang in others if prompts[lang] == said), "")
    if not language or prompts[chosen] == said:
        return ""
    base = settings.model.base.strip() or OFFLINE_DEFAULT_BASE
    picked = (
        f'[persona] language = "auto" picks it for [model] base = "{base}"'
        if settings.persona.language == "auto"
        else f'[persona] language = "{chosen}"'
    )
    return (
        f"{file}: its samples carry the {_language(language)} training prompt "
        f"({_shown(system_prompt)}), but the card speaks {_language(chosen)} now ({picked}): "
        "the version trains, and is served, under theirs; run `atri prep` again for "
        f'{_language(chosen)}, or set [persona] language = "{language}".'
    )


def _language(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def _shown(prompt: str) -> str:
    """A prompt quoted on one line, cut at 80 characters."""
    shown = " ".join(prompt.split())
    return f'"{shown if len(shown) <= 80 else f"{shown[:79]}…"}"'


def names_character(prompt: str, names: tuple[str, ...], template: str) -> bool:
    """Whether `prompt` names one of `names`. A prompt `atri prep` wrote from a training
    prompt template names whom the template was filled in with: exactly, since a bare
    search finds 月 in 月光 or 小 in 小雨 (Chinese and Japanese put no spaces between words).
    Any other prompt names her if it holds a name as a whole word ("Al" is not in "Also");
    beside a Chinese or Japanese letter no word boundary can be told, so there it is found
    anywhere."""
    wanted = {n.strip().casefold() for n in names if n.strip()}
    for known in (template, *TRAINING_PROMPTS.values()):
        filled = _filled_in_name(prompt, known)
        if filled is not None:
            return filled.strip().casefold() in wanted
    folded = prompt.casefold()
    return any(
        re.search(rf"(?<!{_SPACED_LETTER}){re.escape(n)}(?!{_SPACED_LETTER})", folded)
        for n in wanted
    )


# A letter or digit of a script that puts spaces between words (not Chinese, kana).
_SPACED_LETTER = r"[^\W\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"


def _filled_in_name(prompt: str, template: str) -> str | None:
    """The name that, put for each `{{char}}` of `template`, gives `prompt`; None if none does."""
    before, *after = template.strip().split("{{char}}")
    if not after:
        return None
    pattern = re.escape(before) + "(?P<name>.+?)" + "(?P=name)".join(map(re.escape, after))
    found = re.fullmatch(pattern, prompt.strip(), re.DOTALL)
    return found["name"] if found else None


def _put_back_after_a_killed_prep(folder: Path) -> None:
    """The earlier dataset files an `atri prep` killed outright while moving its files in
    had moved aside, put back as the next `atri prep` would (it logs that it did): until
    then training said "dataset file not found; run `atri prep` first", or, with the new
    training file moved in already, trained on it without its held-out file. Only dead
    runs' leftovers are touched: a prep running now is left to finish."""
    from dataprep.output_folder import recover_interrupted

    with contextlib.suppress(OSError):  # a folder it cannot change: the sentence follows
        recover_interrupted(folder)


def _missing_dataset_advice(train_file: Path) -> str:
    """What to do about a missing training file: its folder may hold the one `atri prep`
    wrote there under another character's name (the first alias in Latin letters, or
    "character" for a name in Chinese or Japanese only), which "run `atri prep`" hid."""
    found = _prep_files_in(train_file.parent)
    if not found:
        return "run `atri prep` first or pass --dataset."
    return (
        f"its folder holds {found[0].name}, written by `atri prep` (its files are named after "
        "the first [dataprep] character_aliases name in Latin letters): set [train] dataset "
        "to it, or pass --dataset."
    )


def _named_in(folder: Path) -> str:
    """The training files `atri prep` writes that `folder` holds, as ", such as X" ("" if
    none): the folder of a prep run is what people pass."""
    found = _prep_files_in(folder)
    return f", such as {found[0]}" if found else ""


def _prep_files_in(folder: Path) -> list[Path]:
    """The training files `atri prep` writes that `folder` holds."""
    try:
        return [
            p
            for pattern in ("*_sharegpt.json", "*_messages.jsonl")
            for p in sorted(folder.glob(pattern))
            if not p.stem.endswith(EVAL_SUFFIX) and p.is_file()
        ]
    except OSError:
        return []


def tokenize_files(
    tokenizer: Any,
    train: list[Conversation],
    evaluation: list[Conversation] | None,
    max_len: int,
    train_file: Path | None = None,
) -> tuple[TokenizedSet, TokenizedSet | None]:
    train_set = tokenize_dataset(tokenizer, train, max_len)
    if not train_set.samples and train_set.unplaced and not train_set.skipped:
        raise TrainError(unplaced_note(train_set))
    if not train_set.samples:
        longest = train_set.longest_skipped or (0, 0)
        where = f" of {train_file}" if train_file else ""
        most, least = train_set.needs(longest), train_set.needs(train_set.shortest_skipped)
        # "needs 80, the shortest 80" of a one-record file, or of records all as long.
        shortest = f", the shortest {least}" if least != most else ""
        raise TrainError(
            f"No training conversation fits max_seq_length = {max_len} tokens even with only "
            f"its last exchange: the longest (record {longest[0]}{where}) needs {most} "
            f"tokens{shortest}; raise [train] max_seq_length (--max-seq-length) or shorten "
            "the system prompt."
        )
    eval_set = tokenize_dataset(tokenizer, evaluation, max_len) if evaluation else None
    return train_set, eval_set


def held_out_note(eval_set: TokenizedSet | None, max_len: int, eval_file: Path | None) -> str:
    """A sentence when held-out conversations cannot be scored ("" when all can): too long
    for `max_len` even with only their last exchange, or with no reply the chat template
    shows. With none left, the run had no held-out loss and said nothing of it."""
    if eval_set is None or not (causes := eval_set.why_left_out(max_len)):
        return ""
    left = " and ".join(causes)
    if eval_set.samples:
        return f"Held-out conversations left out of the held-out loss: {left}."
    return (
        f"No conversation of the held-out file {eval_file} can be scored ({left}): this "
        "run has no held-out loss; raise [train] max_seq_length (--max-seq-length) or pass "
        "another held-out file (--eval-dataset)."
    )


def unplaced_note(train_set: TokenizedSet) -> str:
    """One sentence for the replies training cannot find in the rendered chats: they go
    without loss, and a conversation with none found is left out."""
    hidden, left = train_set.hidden, train_set.unplaced
    parts = []
    if hidden:
        parts.append(
            f"{hidden} repl{'ies' if hidden != 1 else 'y'} in the conversations kept "
            f"stay{'s' * (hidden == 1)} as context without loss"
        )
    if left:
        parts.append(
            f"{left} conversation{'s' * (left != 1)} with no reply it shows "
            f"{'are' if left != 1 else 'is'} left out"
        )
    return (
        "The base model's chat template hides or rewrites some of the character's replies, so "
        f"training cannot find them to put loss on them: {' and '.join(parts)}; a [model] "
        "chat_template that shows every reply trains on them."
    )


def length_note(train_set: TokenizedSet, max_len: int) -> str:
    """One sentence for the conversations cut to fit `max_len` tokens and those left out
    even so, each count with its own noun and verbs (it said "1 were too long")."""
    cut, left = train_set.truncated, train_set.skipped
    fit = f"max_seq_length = {max_len}"
    lost = f"{counted(cut, 'conversation')} lost {_agreeing(cut, 'its', 'their')} oldest turns"
    too_long = f"{_agreeing(left, 'was', 'were')} too long"
    left_out = f"{_agreeing(left, 'is', 'are')} left out"
    if not left:
        return f"{lost} to fit {fit}."
    if not cut:
        alone = f"even with only {_agreeing(left, 'its', 'their')} last exchange"
        return f"{counted(left, 'conversation')} {too_long} for {fit} {alone} and {left_out}."
    return f"{lost} to fit {fit}; {left} {too_long} even so and {left_out}."


def _agreeing(n: int, one: str, many: str) -> str:
    """The word that agrees with a count of `n`."""
    return one if n == 1 else many


def length_the_model_takes(max_len: int, model: Any, say: Callable[[str], None]) -> int:
    """`[train] max_seq_length`, cut to the positions the model was built for: past them
    a model of learned positions (GPT-2's 1024, OPT's 2048) stops in an index error, and
    one of rotary positions learns from lengths it was never trained on."""
    positions = getattr(model.config, "max_position_embeddings", None) or getattr(
        model.config, "n_positions", None
    )
    if not isinstance(positions, int) or positions <= 0 or max_len <= positions:
        return max_len
    say(
        f"[train] max_seq_length = {max_len} is more than the {positions} positions the "
        f"model was built for: samples are fitted to {positions} tokens."
    )
    return positions
