"""sharegpt → tokens: assistant-only labels, truncation from the oldest turn, packing."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from model.training.dataset import IGNORE, pack, tokenize_conversation, tokenize_dataset
from model.training.dataset_index import sibling_eval_file
from model.training.sharegpt import Conversation, DatasetError, load_sharegpt
from tests.model.training.sharegpt import SYSTEM_ZH, conversation, write


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> object:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def labelled_spans(tokenizer: object, ids: list[int], labels: list[int]) -> list[str]:
    spans, current = [], []
    for token, label in zip(ids, labels, strict=True):
        if label != IGNORE:
            current.append(token)
        elif current:
            spans.append(tokenizer.decode(current))  # type: ignore[attr-defined]
            current = []
    if current:
        spans.append(tokenizer.decode(current))  # type: ignore[attr-defined]
    return spans


def conv(pairs: list[tuple[str, str]]) -> Conversation:
    return Conversation(
        SYSTEM_ZH, tuple((r, t) for q, a in pairs for r, t in (("user", q), ("assistant", a)))
    )


def test_only_atri_replies_and_their_end_marker_are_labelled(tokenizer: object) -> None:
    c = conv([("你是谁？", "我是亚托莉！"), ("去海边吗？", "好的，夏生！")])
    sample = tokenize_conversation(tokenizer, c)
    assert sample.labels != [IGNORE] * len(sample)
    # Exactly the rendered chat template, with labels on each reply plus <|im_end|>.
    rendered = tokenizer.apply_chat_template(c.messages(), tokenize=False)  # type: ignore[attr-defined]
    assert tokenizer.decode(sample.input_ids) == rendered  # type: ignore[attr-defined]
    spans = labelled_spans(tokenizer, sample.input_ids, sample.labels)
    assert [s.split("<|im_end|>")[0] for s in spans] == ["我是亚托莉！", "好的，夏生！"]
    assert all("<|im_end|>" in s for s in spans)
    assert not any("你是谁" in s or "system" in s or "user" in s for s in spans)


def test_long_conversations_lose_their_oldest_exchanges_never_part_of_a_reply(
    tokenizer: object,
) -> None:
    pairs = [(f"第{i}个问题？", f"第{i}个回答，亚托莉是高性能的！") for i in range(8)]
    full = tokenize_conversation(tokenizer, conv(pairs))
    max_len = len(full) // 2
    result = tokenize_dataset(tokenizer, [conv(pairs)], max_len)
    assert result.truncated == 1 and result.skipped == 0
    sample = result.samples[0]
    assert len(sample) <= max_len
    text = tokenizer.decode(sample.input_ids)  # type: ignore[attr-defined]
    assert text.startswith(f"<|im_start|>system\n{SYSTEM_ZH}")  # the system prompt stays
    assert "第0个" not in text and "第7个回答，亚托莉是高性能的！" in text  # newest kept whole
    spans = labelled_spans(tokenizer, sample.input_ids, sample.labels)
    kept = [s.split("<|im_end|>")[0] for s in spans]
    assert kept == [a for _, a in pairs[-len(kept) :]]  # whole replies only
    # Too long even with one exchange: left out and counted.
    assert tokenize_dataset(tokenizer, [conv(pairs)], 10).skipped == 1


def test_packing_keeps_every_token_and_restarts_positions(tokenizer: object) -> None:
    convs = [conv([(f"问题{i}", "回答" * (1 + i % 5))]) for i in range(30)]
    samples = tokenize_dataset(tokenizer, convs, 256).samples
    rows = pack(samples, 256, seed=1)
    assert len(rows) < len(samples)
    assert all(len(r) <= 256 for r in rows)
    assert sum(len(r) for r in rows) == sum(len(s) for s in samples)
    starts = sum(r.position_ids.count(0) for r in rows)
    assert starts == len(samples)


def test_packed_rows_do_not_attend_across_samples(tiny_model_dir: Path, tokenizer: object) -> None:
    """The loss of a packed row equals the losses of its samples computed one by one."""
    import torch
    from transformers import AutoModelForCausalLM

    from model.evaluation.perplexity import mean_token_loss
    from model.training.dataset import Collator, RowDataset

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    convs = [conv([(f"问题{i}", "回答" * (1 + i))]) for i in range(4)]
    samples = tokenize_dataset(tokenizer, convs, 512).samples
    rows = pack(samples, 512)
    assert len(rows) == 1
    batch = Collator(tokenizer.pad_token_id)([RowDataset(rows)[0]])  # type: ignore[attr-defined]
    with torch.inference_mode():
        packed = float(model(**batch).loss)
    separate = mean_token_loss(model, samples, tokenizer.pad_token_id, 1)  # type: ignore[attr-defined]
    # HF shifts labels over the whole row; the first token of each sample is a template
    # token (label -100), so the two means cover the same tokens.
    assert packed == pytest.approx(separate, rel=1e-4)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("", "the file is empty"),
        ("\ufeff \n", "the file is empty"),
        ('{"conversations": []}', 'record 0 has no "gpt" reply'),
        ('{"data": []}', 'holds one JSON object with keys "data", not records'),
        ('"hi"', "holds a single JSON string, not records"),
        ("[]", "the dataset is empty"),
        ('[{"turns": []}]', 'record 0 has no "conversations" list'),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (
            '[{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "val',
            "ends in the middle of its JSON",
        ),
        (
            '[{"conversations": [{"from": "human", "value": 1}, {"from": "gpt", "value": "x"}]}]',
            '"human" turn\'s "value" is 1, not text',
        ),
        (
            '{"conversations": [{"from": "human", "value": "hi"}]}\n{"conversations": [}',
            "line 2 is not a JSON record",
        ),
        (
            '[{"instruction": "hi", "input": "", "output": "yo", "history": ["x"]}]',
            '"history" must be a list of',
        ),
        ('[{"conversations": [{"from": "narrator", "value": "x"}]}]', "from = 'narrator'"),
        ('[{"conversations": [{"from": "human", "value": "hi"}]}]', 'no "gpt" reply'),
        (
            '[{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]},'
            ' {"conversations": [{"from": "gpt", "value": "hi"}, {"from": "human", "value": "x"},'
            ' {"from": "gpt", "value": "y"}]}]',
            'record 1 opens with a "gpt" turn and has no system prompt',
        ),
    ],
)
def test_bad_dataset_files_are_one_sentence(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError, match=message) as info:
        load_sharegpt(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_the_messages_jsonl_file_prep_writes_reads_like_the_sharegpt_one(tmp_path: Path) -> None:
    record = conversation([("你好", "我是亚托莉！"), ("你累了吗？", "不累哦！")], SYSTEM_ZH)
    sharegpt = write(tmp_path / "atri_sharegpt.json", [record, record])
    messages = [{"role": "system", "content": SYSTEM_ZH}]
    roles = {"human": "user", "gpt": "assistant"}
    messages += [{"role": roles[t["from"]], "content": t["value"]} for t in record["conversations"]]
    line = json.dumps({"messages": messages}, ensure_ascii=False)
    jsonl = tmp_path / "atri_messages.jsonl"
    jsonl.write_text(f"{line}\r\n\r\n{line}\r\n", encoding="utf-8")  # CRLF, a blank line
    assert load_sharegpt(jsonl) == load_sharegpt(sharegpt)


def test_a_conversation_of_many_exchanges_is_cut_without_tokenizing_each_cut(
    tokenizer: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import model.training.dataset as dataset

    long = conv([(f"question {i}", f"answer {i}") for i in range(300)])
    calls: list[int] = []
    real = dataset.tokenize_conversation

    def counted(tok: object, c: Conversation) -> object:
        calls.append(len(c.turns))
        return real(tok, c)

    monkeypatch.setattr(dataset, "tokenize_conversation", counted)
    result = tokenize_dataset(tokenizer, [long], 128)
    # One tokenization per exchange dropped took minutes on a thousand exchanges.
    assert len(calls) <= 20 and max(calls) < 100
    [sample] = result.samples
    assert len(sample) <= 128 and result.truncated == 1
    # As many of the newest exchanges as fit: one more would not.
    exchanges = len(labelled_spans(tokenizer, sample.input_ids, sample.labels))
    one_more = Conversation(long.system, long.turns[-2 * (exchanges + 1) :])
    assert len(tokenize_conversation(tokenizer, one_more)) > 128
    assert (
        sample.input_ids
        == tokenize_conversation(
            tokenizer, Conversation(long.system, long.turns[-2 * exchanges :])
        ).input_ids
    )


def test_a_reply_first_record_with_a_system_prompt_is_kept(tmp_path: Path) -> None:
    record = {
        "system": "You are ATRI.",
        "conversations": [{"from": "gpt", "value": "早上好！"}, {"from": "human", "value": "早"}],
    }
    path = tmp_path / "ok.json"
    path.write_text(json.dumps([record]), encoding="utf-8")
    [c] = load_sharegpt(path)
    assert c.turns[0] == ("assistant", "早上好！")


def test_reads_the_prep_format(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.json", [conversation([("你好", "我是亚托莉！")], SYSTEM_ZH)])
    [c] = load_sharegpt(path)
    assert c.system == SYSTEM_ZH and c.turns == (("user", "你好"), ("assistant", "我是亚托莉！"))


def test_when_nothing_fits_the_error_names_the_longest_sample_and_the_numbers(
    tokenizer: object,
) -> None:
    from model.training.data_files import tokenize_files
    from model.training.errors import TrainError

    short = conv([("hi", "hello"), ("ok", "fine")])
    long = conv([("hi", "hello " * 40)])
    with pytest.raises(TrainError) as caught:
        tokenize_files(tokenizer, [short, long], None, 8, Path("data/train.json"))
    message = str(caught.value)
    need_long = len(tokenize_conversation(tokenizer, long))
    need_short = len(tokenize_conversation(tokenizer, conv([("ok", "fine")])))
    assert "max_seq_length = 8" in message
    assert f"the longest (record 1 of data/train.json) needs {need_long}" in message
    assert f"the shortest {need_short}" in message
    # With room for the short one's last exchange, it trains and the long one is left out.
    train_set, _ = tokenize_files(tokenizer, [short, long], None, need_short, None)
    assert len(train_set.samples) == 1 and train_set.truncated == 1 and train_set.skipped == 1


def test_a_model_without_a_chat_template_is_one_sentence_naming_the_key(
    tiny_model_dir: Path,
) -> None:
    from transformers import AutoTokenizer

    from model.engines.loading import NoChatTemplateError, prepare_tokenizer
    from tests.tiny_model import CHATML_TEMPLATE

    bare = AutoTokenizer.from_pretrained(tiny_model_dir)
    bare.chat_template = None
    with pytest.raises(NoChatTemplateError, match=r"\[model\] chat_template"):
        prepare_tokenizer(bare)
    prepare_tokenizer(bare, CHATML_TEMPLATE)
    assert bare.chat_template == CHATML_TEMPLATE


def test_the_held_out_file_is_found_for_any_character(tmp_path: Path) -> None:
    rows = [conversation([("hi", "hello")], "")]
    train = write(tmp_path / "eileen_sharegpt.json", rows)
    assert sibling_eval_file(train) is None  # none written: train without one
    write(tmp_path / "atri_sharegpt_eval.json", rows)
    assert sibling_eval_file(train) is None  # another character's is not hers
    held_out = write(tmp_path / "eileen_sharegpt_eval.json", rows)
    assert sibling_eval_file(train) == held_out
    messages = write(tmp_path / "eileen_messages.jsonl", rows)
    assert sibling_eval_file(messages) is None  # not the sharegpt one
    messages_held_out = write(tmp_path / "eileen_messages_eval.jsonl", rows)
    assert sibling_eval_file(messages) == messages_held_out


def test_the_held_out_file_registered_in_dataset_info_is_found(tmp_path: Path) -> None:
    rows = [conversation([("hi", "hello")], "")]
    train = write(tmp_path / "mine.json", rows)
    held_out = write(tmp_path / "mine-heldout.json", rows)
    info = {"mine": {"file_name": "mine.json"}, "mine_eval": {"file_name": held_out.name}}
    (tmp_path / "dataset_info.json").write_text(json.dumps(info), encoding="utf-8")
    assert sibling_eval_file(train) == held_out
    held_out.unlink()  # registered but gone: said, not trained on without a word
    with pytest.raises(DatasetError, match=r"registers mine-heldout\.json as the held-out set"):
        sibling_eval_file(train)
    (tmp_path / "dataset_info.json").write_text("not json", encoding="utf-8")
    assert sibling_eval_file(train) is None


def test_a_huge_reply_is_left_out_without_being_tokenized(
    tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 27 MB reply took 38 s to tokenize only to be left out as too long.
    from model.training import dataset
    from model.training.data_files import tokenize_files
    from model.training.errors import TrainError

    huge = conv([("hi", "好" * (3 << 20))])
    short = conv([("ok", "fine")])
    tokenized: list[int] = []
    real = dataset.tokenize_conversation

    def counting(tok: Any, c: Conversation) -> Any:
        tokenized.append(sum(len(t) for _, t in c.turns))
        return real(tok, c)

    monkeypatch.setattr(dataset, "tokenize_conversation", counting)
    started = time.perf_counter()
    train_set, _ = tokenize_files(tokenizer, [huge, short], None, 64, None)
    assert time.perf_counter() - started < 5
    assert max(tokenized) < 100  # only the short one was tokenized
    assert len(train_set.samples) == 1 and train_set.skipped == 1
    with pytest.raises(TrainError, match=r"the longest \(record 0\) needs at least \d{4,}"):
        tokenize_files(tokenizer, [huge], None, 64, None)


def template_spans(template: str, c: Conversation) -> list[str]:
    """The labelled runs of `c` under `template` (on the tiny tokenizer)."""
    from tests.model.chat_templates import RealTemplate, template_tokenizer

    tokenizer = template_tokenizer(RealTemplate(template))
    sample = tokenize_conversation(tokenizer, c)
    return labelled_spans(tokenizer, sample.input_ids, sample.labels)


# Qwen3 rewrites history (a reply before the last user message loses its <think> block,
# the last reply gets an empty one), so every reply but the last is found in the render
# by the fallback for templates whose renders are not prefixes of each other.
THINK = "<think>\n\n</think>\n\n"


def test_a_short_reply_the_user_also_said_is_labelled_where_the_template_put_it() -> None:
    from tests.model.chat_templates import QWEN3

    c = conv([("嗯，去海边吗？", "嗯"), ("<think>好</think>螃蟹呢？", "好")])
    # The first "嗯" of the render is the user's: it was labelled, the reply was not.
    assert template_spans(QWEN3.template, c) == ["嗯<|im_end|>", f"{THINK}好<|im_end|>\n"]


def test_a_reply_the_template_trims_is_labelled_trimmed() -> None:
    from tests.model.chat_templates import QWEN3

    trimming = QWEN3.template.replace("+ content }}", "+ content | trim }}")
    assert trimming != QWEN3.template
    c = conv([("去海边吗？", "  好的，夏生！\n"), ("螃蟹呢？", "螃蟹很好吃！")])
    # Not found as written, the first reply went without a label.
    spans = template_spans(trimming, c)
    assert spans == ["好的，夏生！<|im_end|>", f"{THINK}螃蟹很好吃！<|im_end|>\n"]


def hiding(condition: str) -> Any:
    """The tiny tokenizer under Qwen3's template, showing a reply only where `condition`
    holds: the others are nowhere in the render."""
    from tests.model.chat_templates import QWEN3, RealTemplate, template_tokenizer

    shown = '{%- elif message.role == "assistant" %}'
    assert shown in QWEN3.template
    return template_tokenizer(
        RealTemplate(QWEN3.template.replace(shown, shown[:-3] + f" and ({condition}) %}}"))
    )


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # A template that shows only the last reply.
        ("loop.last", [f"{THINK}好的！<|im_end|>\n"]),
        # One that drops the opening reply (system, user, then this reply at index 2).
        ("loop.index0 != 2", ["螃蟹很好吃！<|im_end|>", f"{THINK}好的！<|im_end|>\n"]),
    ],
    ids=["last-only", "first-dropped"],
)
def test_a_reply_the_template_hides_goes_unlabelled_and_the_others_are_learnt(
    condition: str, expected: list[str]
) -> None:
    tokenizer = hiding(condition)
    c = conv([("你好", "我是亚托莉！"), ("螃蟹呢？", "螃蟹很好吃！"), ("去海边吗？", "好的！")])
    result = tokenize_dataset(tokenizer, [c], 512)
    [sample] = result.samples
    # Exactly the rendered chat, with labels on the shown replies and their end only.
    rendered = tokenizer.apply_chat_template(c.messages(), tokenize=False)
    assert tokenizer.decode(sample.input_ids) == rendered
    assert labelled_spans(tokenizer, sample.input_ids, sample.labels) == expected
    hidden = 3 - len(expected)
    assert (result.hidden, result.unplaced, result.skipped) == (hidden, 0, 0)


def test_a_conversation_whose_replies_are_all_hidden_is_counted_and_left_out() -> None:
    from model.training.data_files import tokenize_files, unplaced_note
    from model.training.errors import TrainError

    tokenizer = hiding("loop.last")
    first_hidden = conv([("你好", "我是亚托莉！"), ("去海边吗？", "好的！")])
    kept = tokenize_dataset(tokenizer, [first_hidden], 512)
    assert unplaced_note(kept) == (
        "The base model's chat template hides or rewrites some of the character's replies, so "
        "training cannot find them to put loss on them: 1 reply in the conversations kept "
        "stays as context without loss; a [model] chat_template that shows every reply "
        "trains on them."
    )
    tokenizer = hiding("false")
    result = tokenize_dataset(tokenizer, [first_hidden], 512)
    assert (len(result.samples), result.unplaced, result.skipped) == (0, 1, 0)
    with pytest.raises(TrainError, match=r"1 conversation with no reply it shows is left") as info:
        tokenize_files(tokenizer, [first_hidden], None, 512, None)
    assert "\n" not in str(info.value)


def _tool_record() -> dict[str, Any]:
    """A LLaMA-Factory sharegpt record with tool use, as its glaive_toolcall data holds."""
    return {
        "conversations": [
            {"from": "human", "value": "What is the weather in Tokyo?"},
            {"from": "function_call", "value": '{"name": "weather", "arguments": {}}'},
            {"from": "observation", "value": '{"sky": "clear"}'},
            {"from": "gpt", "value": "It is clear."},
        ],
        "tools": "[]",
    }


def test_tool_use_conversations_are_left_out_and_counted_in_one_sentence(
    tmp_path: Path,
) -> None:
    kept = conversation([("你好", "我是亚托莉！")], SYSTEM_ZH)
    openai_tool = {
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
            {"role": "tool", "content": "clear"},
            {"role": "assistant", "content": "Clear."},
        ]
    }
    path = write(tmp_path / "mixed.json", [_tool_record(), kept, openai_tool, kept])
    notes: list[str] = []
    loaded = load_sharegpt(path, notify=notes.append)
    assert [c.replies() for c in loaded] == [["我是亚托莉！"], ["我是亚托莉！"]]
    [note] = notes
    assert note == (
        f"{path}: 2 conversations with function_call/observation turns left out: "
        "role-play training learns replies to people only."
    )


def test_a_dataset_of_tool_use_only_is_one_sentence(tmp_path: Path) -> None:
    path = write(tmp_path / "tools.json", [_tool_record(), _tool_record()])
    with pytest.raises(DatasetError, match="every conversation is one with function_call") as info:
        load_sharegpt(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    # A held-out file of tool use only leaves training without a held-out loss, said once.
    notes: list[str] = []
    assert load_sharegpt(path, allow_empty=True, notify=notes.append) == []
    assert len(notes) == 1 and "2 conversations with function_call" in notes[0]
