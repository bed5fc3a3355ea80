"""Session 53: `clean_reply` cut every reply at ChatML's `<|im_start|>`, Llama-3's
`<|start_header_id|>` and Gemma's `<start_of_turn>` whatever template served it, beside
the template's own markers. Those openers are now the markers of the templates that
open turns with them (`user_turn_markers`), and the rule for all three is the fallback
where no template is known: under Mistral's, whose replies never hold them (the offline
ChatML model served under it wrote none in 48 replies), they are text like any."""

from __future__ import annotations

import pytest

from model.character.prompt import clean_reply
from model.engines.chat_template import user_turn_markers
from tests.model.chat_templates import GEMMA2, LLAMA3, MISTRAL_V02, QWEN25

RUNS_ON = {
    "<|im_start|>": "好的<|im_start|>user\n夏生：再见",
    "<|start_header_id|>": "好的<|start_header_id|>user<|end_header_id|>\n\n再见",
    "<start_of_turn>": "好的\n<start_of_turn>user\n再见",
}


@pytest.mark.parametrize(
    ("template", "opener"),
    [
        (QWEN25.template, "<|im_start|>"),
        (LLAMA3.template, "<|start_header_id|>"),
        (GEMMA2.template, "<start_of_turn>"),
    ],
)
def test_a_turn_opened_with_the_templates_own_opener_is_cut(template: str, opener: str) -> None:
    assert user_turn_markers(template) == (opener,)
    assert clean_reply(RUNS_ON[opener], "亚托莉", (), user_turn_markers(template)) == "好的"


@pytest.mark.parametrize("opener", sorted(RUNS_ON))
def test_with_no_template_known_every_opener_is_cut(opener: str) -> None:
    assert clean_reply(RUNS_ON[opener], "亚托莉") == "好的"


def test_under_a_template_that_opens_turns_otherwise_another_ones_opener_is_text() -> None:
    """Before: cut at `<start_of_turn>`, her sentence about Gemma lost its end."""
    said = "Gemma starts each turn with <start_of_turn> and a role"
    assert clean_reply(said, "亚托莉", (), user_turn_markers(MISTRAL_V02.template)) == said
    # Its own marker still ends her reply.
    ran_on = "好的 [INST] 那你呢？ [/INST]"
    assert clean_reply(ran_on, "亚托莉", (), user_turn_markers(MISTRAL_V02.template)) == "好的"
