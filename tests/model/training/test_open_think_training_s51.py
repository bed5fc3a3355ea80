"""Session 51: DeepSeek-R1-Distill's generation prompt ends `<｜Assistant｜><think>\\n`, but
its template writes a past reply right after `<｜Assistant｜>` (its reasoning removed).
Trained on that render, the adapter never saw the prompt it answers from; now her reply
follows the open `<think>` the worker prompts with, and she learns to close it at once."""

from __future__ import annotations

from typing import Any

from model.character.prompt import reply_after_open_think
from model.engines.chat_template import render_chat
from model.training.dataset import IGNORE, tokenize_conversation
from model.training.sharegpt import Conversation
from tests.model.chat_templates import r1_distill_tokenizer

CONV = Conversation(
    "You are ATRI.",
    (
        ("user", "hi"),
        ("assistant", "Good morning!"),
        ("user", "who are you?"),
        ("assistant", "ATRI."),
    ),
)
EOS = "<｜end▁of▁sentence｜>"


def label_spans(tokenizer: Any, ids: list[int], labels: list[int]) -> list[str]:
    """The text of each run of labelled tokens."""
    spans: list[list[int]] = [[]]
    for token, label in zip(ids, labels, strict=True):
        if label != IGNORE:
            spans[-1].append(token)
        elif spans[-1]:
            spans.append([])
    return [tokenizer.decode(span) for span in spans if span]


def test_her_reply_follows_the_open_think_of_the_served_prompt_and_closes_it() -> None:
    tokenizer = r1_distill_tokenizer()
    sample = tokenize_conversation(tokenizer, CONV)
    first = next(i for i, label in enumerate(sample.labels) if label != IGNORE)
    served = render_chat(tokenizer, CONV.messages()[:2], True)
    # The context before her first reply is, token for token, the prompt she is served.
    assert sample.input_ids[:first] == tokenizer(served, add_special_tokens=False)["input_ids"]
    spans = label_spans(tokenizer, sample.input_ids, sample.labels)
    assert spans == [f"</think>\n\nGood morning!{EOS}", f"</think>\n\nATRI.{EOS}"]
    # What she learns to write is what the served path keeps as her reply.
    assert reply_after_open_think(spans[0].removesuffix(EOS)) == "\n\nGood morning!"
    text = tokenizer.decode(sample.input_ids)
    assert "<｜Assistant｜><think>\n</think>\n\nGood morning!" in text
    assert text.count("<think>") == 2


def test_a_template_whose_prompt_opens_no_think_is_labelled_as_before() -> None:
    tokenizer = r1_distill_tokenizer()
    tokenizer.chat_template = tokenizer.chat_template.replace("<think>\\n", "")
    sample = tokenize_conversation(tokenizer, CONV)
    spans = label_spans(tokenizer, sample.input_ids, sample.labels)
    assert spans == [f"Good morning!{EOS}", f"ATRI.{EOS}"]
