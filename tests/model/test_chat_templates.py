"""ATRI on the chat templates of the models users pick (tests/model/chat_templates.py):
training labels exactly the character's replies, the worker answers a first message, a
group's history with two user messages in a row and a summary prompt, and `atri train`
and `atri eval` run, whether the template refuses a system role (Gemma-2), needs strict
alternation (Mistral, Llama-2), drops a system message (Phi-3) or adds its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.config import Settings
from model.engines.loading import load_base_model
from model.engines.local import LocalEngine
from model.protocol import ChatRequest, ChatTurn
from model.service import ChatService
from model.training.dataset import IGNORE, tokenize_conversation
from model.training.sharegpt import Conversation
from tests.model.chat_templates import (
    GEMMA2,
    REAL_TEMPLATES,
    RealTemplate,
    save_template_model,
    template_tokenizer,
)
from tests.model.training.sharegpt import write

SYSTEM = "You are ATRI, a robot girl."
TURN_ENDS = {"gemma2": "<end_of_turn>", "phi3": "<|end|>", "llama3": "<|eot_id|>"}


def turn_ends(name: str, replies: int) -> list[str]:
    """The token that ends each of `replies` replies, as training labels it: GLM-4 writes
    no end-of-turn token, its model stops by writing the next <|user|> (or the EOS after
    the last reply), as GLM-4's own fine-tuning labels it."""
    if name == "glm4":
        return ["<|user|>"] * (replies - 1) + ["<|endoftext|>"]
    return [TURN_ENDS.get(name, REAL_TEMPLATES[name].eos)] * replies


def labelled_spans(tokenizer: object, conv: Conversation) -> tuple[list[str], str]:
    """(the decoded runs of labelled tokens, the decoded unlabelled tokens)."""
    sample = tokenize_conversation(tokenizer, conv)
    spans: list[list[int]] = []
    prompt: list[int] = []
    for i, (token, label) in enumerate(zip(sample.input_ids, sample.labels, strict=True)):
        if label == IGNORE:
            prompt.append(token)
        elif i and sample.labels[i - 1] != IGNORE:
            spans[-1].append(token)
        else:
            spans.append([token])
    decode = tokenizer.decode  # type: ignore[attr-defined]
    return [decode(s).strip() for s in spans], decode(prompt)


@pytest.mark.parametrize("name", sorted(REAL_TEMPLATES))
@pytest.mark.parametrize("opens_with_reply", [False, True])
def test_training_labels_exactly_the_replies_under_each_real_template(
    name: str, opens_with_reply: bool
) -> None:
    real = REAL_TEMPLATES[name]
    tokenizer = template_tokenizer(real)
    opening = (("assistant", "good morning"),) if opens_with_reply else ()
    turns = (*opening, ("user", "hello world"), ("assistant", "I am ATRI"))
    turns += (("user", "the sea"), ("assistant", "crab please"))
    spans, prompt = labelled_spans(tokenizer, Conversation(SYSTEM, turns))
    replies = [t for r, t in turns if r == "assistant"]
    ends = turn_ends(name, len(replies))
    # Spaces aside (Llama-2 writes " reply </s>"): each reply and the token that ends it.
    expected = [(r + end).replace(" ", "") for r, end in zip(replies, ends, strict=True)]
    if name == "qwen3":  # the last reply opens with an empty reasoning block
        expected[-1] = "<think>\n\n</think>\n\n" + expected[-1]
    assert [s.replace(" ", "") for s in spans] == expected
    assert SYSTEM in prompt and "hello world" in prompt and "the sea" in prompt


@pytest.mark.parametrize("name", sorted(REAL_TEMPLATES))
def test_the_worker_prompt_keeps_the_system_prompt_and_every_message(
    name: str, tiny_model_dir: Path, tmp_path: Path, tiny_settings: Settings
) -> None:
    tiny_settings.model.base = str(save_template_model(tmp_path / name, REAL_TEMPLATES[name]))
    engine = LocalEngine(load_base_model(tiny_settings), 4096)
    group = [
        {"role": "system", "content": SYSTEM},
        {"role": "assistant", "content": "morning"},
        {"role": "user", "content": "Aki: hello"},
        {"role": "user", "content": "Mio: the sea"},
    ]
    (row,) = engine._encode([group])
    text = engine.tokenizer.decode(row)
    for said in (SYSTEM, "morning", "Aki: hello", "Mio: the sea"):
        assert said in text
    (reply,) = engine.generate_sync([group[:1] + group[2:3]], tiny_settings.generation)
    assert reply.new_tokens > 0


@pytest.mark.parametrize("name", sorted(REAL_TEMPLATES))
def test_the_worker_stops_on_the_token_training_labels_as_a_reply_s_end(
    name: str, tmp_path: Path, tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tiny models' generation_config lists only the tokenizer's EOS, as some uploads
    do: generation must still stop where training taught a reply to end (GLM-4's next
    <|user|>, Gemma's <end_of_turn>), not run on into a made-up next turn."""
    import torch

    tiny_settings.model.base = str(save_template_model(tmp_path / name, REAL_TEMPLATES[name]))
    engine = LocalEngine(load_base_model(tiny_settings), 4096)
    tokenizer = engine.tokenizer
    stop = turn_ends(name, 2)[0]
    said = tokenizer.encode("crab", add_special_tokens=False)
    made_up = tokenizer.encode(f"{stop}hello", add_special_tokens=False)
    asked: dict[str, object] = {}

    def generate(**kwargs: object) -> torch.Tensor:
        asked.update(kwargs)
        prompt = kwargs["input_ids"]
        assert isinstance(prompt, torch.Tensor)
        return torch.cat([prompt, torch.tensor([said + made_up])], dim=1)

    monkeypatch.setattr(engine.model, "generate", generate)
    chat = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "the sea"}]
    (reply,) = engine.generate_sync([chat], tiny_settings.generation)
    assert reply.text == "crab" and reply.new_tokens == len(said)
    stop_id = tokenizer.convert_tokens_to_ids(stop)
    assert stop_id in asked["eos_token_id"]  # type: ignore[operator]


@pytest.mark.parametrize("real", [GEMMA2, REAL_TEMPLATES["llama2"]], ids=["gemma2", "llama2"])
async def test_the_worker_answers_a_group_and_summarizes_under_strict_templates(
    real: RealTemplate, tmp_path: Path, tiny_settings: Settings
) -> None:
    tiny_settings.model.base = str(save_template_model(tmp_path / "model", real))
    async with await ChatService.open(tiny_settings) as service:
        first = await service.chat(ChatRequest(platform="test", user_id="u1", text="hello"))
        assert first.status == "ok" and first.text
        context = [ChatTurn(role="user", content="hi"), ChatTurn(role="user", content="hey")]
        group = ChatRequest(platform="test", user_id="u2", text="sea?", context=context)
        assert (await service.chat(group)).status == "ok"
        summary_prompt = [
            {"role": "system", "content": "Summarize the conversation."},
            {"role": "user", "content": "Aki: hello\nATRI: I am ATRI"},
        ]
        assert (await service.batcher.submit(summary_prompt)).new_tokens > 0


def test_train_one_step_and_eval_on_a_template_without_a_system_role(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    model_dir = save_template_model(tmp_path / "gemma", GEMMA2)
    record = {
        "system": SYSTEM,
        "conversations": [
            {"from": "human", "value": "hello"},
            {"from": "gpt", "value": "I am ATRI"},
            {"from": "human", "value": "the sea"},
            {"from": "gpt", "value": "crab please"},
        ],
    }
    write(tmp_path / "data" / "atri_sharegpt.json", [record] * 4)
    config = tmp_path / "config.toml"
    lines = ["[model]", f'base = "{model_dir}"', "[train]", 'dataset = "data/atri_sharegpt.json"']
    config.write_text("\n".join([*lines, "[eval]", "max_new_tokens = 4"]) + "\n")
    runner = CliRunner()
    trained = runner.invoke(app, ["--config", str(config), "train", "--max-steps", "1"])
    assert trained.exit_code == 0, trained.output
    (version,) = [p for p in (tmp_path / "adapters").iterdir() if not p.name.startswith(".")]
    assert json.loads((version / "manifest.json").read_text())["system_prompt"] == SYSTEM
    evaluated = runner.invoke(
        app, ["--config", str(config), "eval", str(version), "--max-new-tokens", "4"]
    )
    assert evaluated.exit_code == 0, evaluated.output


def test_the_llamacpp_engine_renders_the_same_shape() -> None:
    from model.engines.gguf_text import GgufText
    from model.engines.special_text import defuser

    text = GgufText.__new__(GgufText)  # render needs the template only
    text.chat_template = GEMMA2.template
    text._template_tokens = {"bos_token": "<bos>", "eos_token": "<eos>"}
    text.defuse = defuser(["<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>"])
    chat = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "a"}]
    chat.append({"role": "user", "content": "b"})
    assert text.render(chat).endswith(
        f"user\n{SYSTEM}\n\na\n\nb<end_of_turn>\n<start_of_turn>model\n"
    )
