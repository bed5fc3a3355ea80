"""Training files from other tools (LLaMA-Factory, OpenAI fine-tuning, public role-play
sets): what each record trains, and the one sentence for what cannot be read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from model.training.dataset import IGNORE, exchange_starts, tokenize_dataset
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


# d02: OpenAI fine-tuning's "weight"
def oai(*messages: tuple[str, str, int | None]) -> dict[str, Any]:
    return {
        "messages": [
            {"role": r, "content": c, **({} if w is None else {"weight": w})}
            for r, c, w in messages
        ]
    }


def test_a_reply_with_weight_0_is_context_without_loss(tokenizer: Any, tmp_path: Path) -> None:
    record = oai(
        ("system", "You are Eileen.", None),
        ("user", "hi", None),
        ("assistant", "OLD BAD REPLY", 0),
        ("user", "again", None),
        ("assistant", "Hello!", 1),
        ("user", "and?", None),
        ("assistant", "Yes.", None),
    )
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    [spans] = trained_text(tokenizer, path)
    assert [s.split("<|im_end|>")[0] for s in spans] == ["Hello!", "Yes."]
    [conv] = load_sharegpt(path)
    assert [t for r, t in conv.turns if r == "assistant"] == ["OLD BAD REPLY", "Hello!", "Yes."]
    # `atri eval` compares her style with the replies she learns from, not that one.
    assert conv.replies() == ["Hello!", "Yes."]


def test_a_cut_keeps_the_last_reply_that_trains(tmp_path: Path) -> None:
    record = oai(
        ("user", "one", None),
        ("assistant", "Kept.", None),
        ("user", "two", None),
        ("assistant", "NOT THIS", 0),
        ("user", "three", None),
        ("assistant", "Also kept.", None),
        ("user", "four", None),
        ("assistant", "", None),
    )
    [conv] = load_sharegpt(write(tmp_path, [record]))
    # A cut may fall after a reply that trains only: one after "NOT THIS" or after the
    # empty last reply would leave a sample with nothing to learn.
    assert exchange_starts(conv) == [0, 2]
    assert conv.since(2).untrained == frozenset({1})


def test_a_record_whose_replies_all_have_weight_0_is_left_out(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            oai(("user", "hi", None), ("assistant", "no", 0)),
            oai(("user", "hi", None), ("assistant", "yes", 1)),
        ],
    )
    notes: list[str] = []
    assert [c.replies() for c in load_sharegpt(path, notify=notes.append)] == [["yes"]]
    assert len(notes) == 1 and '"weight": 0' in notes[0]


def test_a_weight_other_than_0_or_1_is_one_sentence(tmp_path: Path) -> None:
    path = write(tmp_path, [oai(("user", "hi", None), ("assistant", "no", 0.5))])  # type: ignore[arg-type]
    with pytest.raises(DatasetError, match=r'"weight": 0.5; .* 0 .* or 1'):
        load_sharegpt(path)


# d01: LLaMA-Factory KTO files
def kto(reply: str, **label: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": "Insult me."}, {"role": "assistant", "content": reply}]
    return {"messages": messages, **label}


def test_a_kto_row_labelled_false_is_never_trained(tokenizer: Any, tmp_path: Path) -> None:
    path = write(tmp_path, [kto("BAD REPLY", label=False), kto("Hello!", label=True)])
    notes: list[str] = []
    assert [c.replies() for c in load_sharegpt(path, notify=notes.append)] == [["Hello!"]]
    assert len(notes) == 1 and "1 KTO row labelled undesirable" in notes[0]
    assert [
        [s.split("<|im_end|>")[0] for s in spans] for spans in trained_text(tokenizer, path)
    ] == [["Hello!"]]


def test_the_kto_tag_column_dataset_info_names_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, [kto("BAD REPLY", good=0), kto("Hello!", good=1)])
    info = {
        "kto": {"file_name": path.name, "formatting": "sharegpt", "columns": {"kto_tag": "good"}}
    }
    write(tmp_path, info, "dataset_info.json")
    assert [c.replies() for c in load_sharegpt(path, notify=lambda _: None)] == [["Hello!"]]


def test_a_kto_file_of_undesirable_rows_only_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, [kto("BAD REPLY", label=False)])
    with pytest.raises(DatasetError, match=r"KTO file is labelled undesirable"):
        load_sharegpt(path)


def test_a_label_that_is_not_true_or_false_is_no_kto_tag(tmp_path: Path) -> None:
    path = write(tmp_path, [kto("Hello!", label="greeting")])
    assert [c.replies() for c in load_sharegpt(path)] == [["Hello!"]]


# d03: system turns
def test_a_system_turn_mid_conversation_leaves_the_row_out_with_a_word(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            sg(
                ("system", "You are Eileen."),
                ("human", "hi"),
                ("gpt", "Hello!"),
                ("system", "Scene: night falls."),
                ("human", "still up?"),
                ("gpt", "*yawns* barely."),
            ),
            sg(("system", "You are Eileen."), ("human", "hi"), ("gpt", "Hello!")),
        ],
    )
    notes: list[str] = []
    loaded = load_sharegpt(path, notify=notes.append)
    assert [c.replies() for c in loaded] == [["Hello!"]]
    assert len(notes) == 1 and '1 conversation with a "system" turn after' in notes[0]


def test_a_leading_system_turn_overrides_the_system_column(tmp_path: Path) -> None:
    record = sg(("system", "turn prompt"), ("human", "hi"), ("gpt", "Hello!"), system="column")
    [conv] = load_sharegpt(write(tmp_path, [record]))
    assert conv.system == "turn prompt"


# d05: alpaca files
def test_an_alpaca_record_reads_as_llama_factory_reads_it(tokenizer: Any, tmp_path: Path) -> None:
    record = {
        "instruction": "How are you?",
        "input": "(softly)",
        "output": "Fine!",
        "system": "You are Eileen.",
        "history": [["hi", "Hello!"]],
    }
    path = write(tmp_path, [record])
    [conv] = load_sharegpt(path)
    assert conv.system == "You are Eileen."
    assert conv.turns == (
        ("user", "hi"),
        ("assistant", "Hello!"),
        ("user", "How are you?\n(softly)"),
        ("assistant", "Fine!"),
    )
    # The history's replies are learnt too, as in LLaMA-Factory.
    [spans] = trained_text(tokenizer, path)
    assert [s.split("<|im_end|>")[0] for s in spans] == ["Hello!", "Fine!"]


def test_the_alpaca_file_atri_prep_writes_reads_as_its_sharegpt_file(tmp_path: Path) -> None:
    from dataprep.records import Role, Sample
    from dataprep.writers import to_alpaca, to_sharegpt

    sample = Sample(
        [
            (Role.LEAD, "hi"),
            (Role.CHARACTER, "Hello!"),
            (Role.LEAD, "bye"),
            (Role.CHARACTER, "See you."),
        ],
        "script.rpy",
        "start",
    )
    alpaca = write(tmp_path, [to_alpaca(sample, "You are Eileen.")], "a.json")
    sharegpt = write(tmp_path, [to_sharegpt(sample, "You are Eileen.")], "s.json")
    assert load_sharegpt(alpaca) == load_sharegpt(sharegpt)


# d06: the columns and tags dataset_info.json registers
def register(tmp_path: Path, path: Path, **entry: Any) -> None:
    write(tmp_path, {"eileen": {"file_name": path.name, **entry}}, "dataset_info.json")


def test_a_registered_system_column_is_read(tmp_path: Path) -> None:
    record = {**sg(("human", "hi"), ("gpt", "Hello!")), "system_prompt": "You are Eileen."}
    path = write(tmp_path, [record])
    register(
        tmp_path,
        path,
        formatting="sharegpt",
        columns={"messages": "conversations", "system": "system_prompt"},
    )
    [conv] = load_sharegpt(path)
    assert conv.system == "You are Eileen."


def test_registered_messages_column_and_role_tags_are_read(tmp_path: Path) -> None:
    turns = [{"speaker": "USER", "text": "hi"}, {"speaker": "EILEEN", "text": "Hello!"}]
    path = write(tmp_path, [{"dialog": turns}])
    tags = {
        "role_tag": "speaker",
        "content_tag": "text",
        "user_tag": "USER",
        "assistant_tag": "EILEEN",
    }
    register(tmp_path, path, formatting="sharegpt", columns={"messages": "dialog"}, tags=tags)
    [conv] = load_sharegpt(path)
    assert conv.turns == (("user", "hi"), ("assistant", "Hello!"))


def test_registered_alpaca_columns_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, [{"q": "hi", "a": "Hello!", "sys": "You are Eileen."}])
    register(tmp_path, path, columns={"prompt": "q", "response": "a", "system": "sys"})
    [conv] = load_sharegpt(path)
    assert (conv.system, conv.turns) == (
        "You are Eileen.",
        (("user", "hi"), ("assistant", "Hello!")),
    )


def test_what_the_entry_names_that_training_does_not_read_is_said(tmp_path: Path) -> None:
    path = write(tmp_path, [sg(("human", "hi"), ("gpt", "Hello!"))])
    register(
        tmp_path,
        path,
        formatting="sharegpt",
        columns={"messages": "conversations", "score": "rating"},
    )
    notes: list[str] = []
    load_sharegpt(path, notify=notes.append)
    assert len(notes) == 1 and "columns.score" in notes[0] and "not read" in notes[0]


def test_the_files_atri_prep_writes_read_through_their_dataset_info(tmp_path: Path) -> None:
    from dataprep.records import Role, Sample
    from dataprep.writers import dataset_info, to_alpaca, to_messages, to_sharegpt

    sample = Sample([(Role.LEAD, "hi"), (Role.CHARACTER, "Hello!")], "script.rpy", "start")
    info = dataset_info(["sharegpt", "messages", "alpaca"], "eileen", with_eval=False)
    write(tmp_path, info, "dataset_info.json")
    files = {entry["file_name"] for entry in info.values()}
    loaded = []
    for writer in (to_sharegpt, to_messages, to_alpaca):
        name = next(f for f in files if writer.__name__.removeprefix("to_") in f)
        path = tmp_path / name
        path.write_text(
            "\n".join(json.dumps(writer(sample, "You are Eileen.")) for _ in range(1)),
            encoding="utf-8",
        )
        notes: list[str] = []
        loaded.append(load_sharegpt(path, notify=notes.append))
        assert notes == []
    assert loaded[0] == loaded[1] == loaded[2]


# d07: a one-line JSON Lines file of another shape
def test_a_one_line_jsonl_of_another_shape_is_told_what_its_record_lacks(tmp_path: Path) -> None:
    record = {
        "bot_name": "Eileen",
        "bot_greeting": "Hi!",
        "conversation": [{"message": "hey", "is_human": True}],
    }
    path = tmp_path / "pippa.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        load_sharegpt(path)
    message = str(info.value)
    assert "one record a line" not in message
    assert 'record 0 has no "conversations" list' in message
    assert '"bot_greeting", "conversation"' in message


# d08: LLaMA-Factory's own dataset_info.json passed by mistake
def test_an_index_mixing_files_and_hub_datasets_is_recognised(tmp_path: Path) -> None:
    index = {
        "ultrachat_200k": {"hf_hub_url": "HuggingFaceH4/ultrachat_200k", "formatting": "sharegpt"},
        "alpaca_en_demo": {"file_name": "alpaca_en_demo.json"},
    }
    with pytest.raises(DatasetError, match=r"dataset_info.json index.*alpaca_en_demo\.json"):
        load_sharegpt(write(tmp_path, index, "dataset_info.json"))


def test_an_index_of_hub_datasets_only_says_it_names_no_file(tmp_path: Path) -> None:
    index = {"ultrachat_200k": {"hf_hub_url": "HuggingFaceH4/ultrachat_200k"}}
    with pytest.raises(DatasetError, match=r"index, not a dataset; it names no file here"):
        load_sharegpt(write(tmp_path, index, "dataset_info.json"))


def test_a_file_whose_every_record_has_a_late_system_turn_says_so(tmp_path: Path) -> None:
    record = sg(
        ("human", "hi"), ("gpt", "Hello!"), ("system", "Night."), ("human", "up?"), ("gpt", "No.")
    )
    with pytest.raises(DatasetError, match=r'every conversation has a "system" turn after'):
        load_sharegpt(write(tmp_path, [record]))
