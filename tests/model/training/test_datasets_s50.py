"""Training files from other tools (LLaMA-Factory, OpenAI fine-tuning, public role-play
sets): what each record trains, and the one sentence for what cannot be read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from model.training.dataset import IGNORE, tokenize_dataset
from model.training.sharegpt import DatasetError, load_sharegpt
from tests.tiny_model import CHATML_TEMPLATE, TRAINING_TEXT, build_tokenizer


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return build_tokenizer(TRAINING_TEXT, 400, CHATML_TEMPLATE)


def write(tmp_path: Path, records: Any, name: str = "data.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def trained_text(tokenizer: Any, path: Path) -> list[list[str]]:
    """Per sample, the text of each span that carries loss."""
    out = []
    for sample in tokenize_dataset(tokenizer, load_sharegpt(path), 4096).samples:
        spans, current = [], []
        for token, label in zip(sample.input_ids, sample.labels, strict=True):
            if label != IGNORE:
                current.append(token)
            elif current:
                spans.append(tokenizer.decode(current))
                current = []
        if current:
            spans.append(tokenizer.decode(current))
        out.append(spans)
    return out


def sg(*turns: tuple[str, str], **extra: Any) -> dict[str, Any]:
    return {"conversations": [{"from": f, "value": v} for f, v in turns], **extra}


# d04: an empty reply
def test_an_empty_reply_carries_no_loss_and_stays_as_context(
    tokenizer: Any, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        [sg(("human", "hi"), ("gpt", ""), ("human", "hello?"), ("gpt", "Sorry, yes!"))],
    )
    [spans] = trained_text(tokenizer, path)
    assert [s.split("<|im_end|>")[0] for s in spans] == ["Sorry, yes!"]
    [conv] = load_sharegpt(path)
    assert ("assistant", "") in conv.turns  # kept as context


def test_a_blank_last_reply_is_not_what_a_cut_keeps(tokenizer: Any, tmp_path: Path) -> None:
    path = write(tmp_path, [sg(("human", "hi"), ("gpt", "Hello!"), ("human", "bye"), ("gpt", " "))])
    [spans] = trained_text(tokenizer, path)
    assert [s.split("<|im_end|>")[0] for s in spans] == ["Hello!"]


def test_a_record_with_only_empty_replies_is_left_out_and_counted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [sg(("human", "hi"), ("gpt", "  ")), sg(("human", "hi"), ("gpt", "Hello!"))],
    )
    notes: list[str] = []
    loaded = load_sharegpt(path, notify=notes.append)
    assert [c.replies() for c in loaded] == [["Hello!"]]
    assert len(notes) == 1 and "1 conversation whose" in notes[0] and "empty" in notes[0]


def test_a_file_of_empty_replies_only_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, [sg(("human", "hi"), ("gpt", ""))])
    with pytest.raises(DatasetError, match=r"every .gpt. reply is empty"):
        load_sharegpt(path)
