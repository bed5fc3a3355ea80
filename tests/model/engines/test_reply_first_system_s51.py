"""Session 51: a chat that opens with her reply (her greeting, or history cut to fit)
under a template that has a system role and needs strict alternation (Mistral-Small-3.x)
made the system prompt a user message: the template then wrote its own default system
prompt ("You are Mistral Small 3…") and her card became a user's instruction. The
system prompt now stays the system message, and a short user turn leads her reply."""

from __future__ import annotations

from model.engines.chat_template import chat_rules, conform, render_chat
from model.training.dataset import IGNORE, tokenize_conversation
from model.training.sharegpt import Conversation
from tests.model.chat_templates import RealTemplate, template_tokenizer

DEFAULT_SYSTEM = "You are Mistral Small 3, a Large Language Model."
# Mistral-Small-3.2's template (tools and images left out): a default system prompt
# where the chat has none, strict alternation after the optional system message.
MISTRAL_SMALL_3 = RealTemplate(
    "{{- bos_token }}"
    f"{{%- set system_prompt = '{DEFAULT_SYSTEM}' %}}"
    "{%- set loop_messages = messages %}"
    "{%- if messages|length > 0 and messages[0]['role'] == 'system' %}"
    "{%- set system_prompt = messages[0]['content'] %}"
    "{%- set loop_messages = messages[1:] %}{%- endif %}"
    "{%- set ns = namespace(index=0) %}"
    "{%- for message in loop_messages %}"
    "{%- if (message['role'] == 'user') != (ns.index % 2 == 0) %}"
    "{{- raise_exception('After the optional system message, conversation roles must "
    "alternate user/assistant/user/assistant/...') }}{%- endif %}"
    "{%- set ns.index = ns.index + 1 %}{%- endfor %}"
    "{{- '[SYSTEM_PROMPT]' + system_prompt + '[/SYSTEM_PROMPT]' }}"
    "{%- for message in loop_messages %}"
    "{%- if message['role'] == 'user' %}{{- '[INST]' + message['content'] + '[/INST]' }}"
    "{%- elif message['role'] == 'assistant' %}{{- message['content'] + eos_token }}"
    "{%- endif %}{%- endfor %}",
    bos="<s>",
    eos="</s>",
    extra=("[INST]", "[/INST]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]"),
)
CARD = "You are ATRI."
GREETING = "Good morning, Natsuki!"
OPENING_TURN = "…"  # chat_template.OPENING_TURN


def test_a_chat_opening_with_her_reply_keeps_the_system_prompt_in_the_system_slot() -> None:
    tokenizer = template_tokenizer(MISTRAL_SMALL_3)
    rules = chat_rules(tokenizer)
    assert rules.system and rules.alternating
    chat = [
        {"role": "system", "content": CARD},
        {"role": "assistant", "content": GREETING},
        {"role": "user", "content": "hi"},
    ]
    assert conform(chat, rules) == [chat[0], {"role": "user", "content": OPENING_TURN}, *chat[1:]]
    prompt = render_chat(tokenizer, chat, True)
    assert prompt == (
        f"<s>[SYSTEM_PROMPT]{CARD}[/SYSTEM_PROMPT][INST]{OPENING_TURN}[/INST]{GREETING}</s>"
        "[INST]hi[/INST]"
    )
    assert DEFAULT_SYSTEM not in prompt


def test_training_on_such_a_chat_learns_her_opening_reply_under_the_system_prompt() -> None:
    tokenizer = template_tokenizer(MISTRAL_SMALL_3)
    conv = Conversation(CARD, (("assistant", GREETING), ("user", "hi"), ("assistant", "Hello!")))
    sample = tokenize_conversation(tokenizer, conv)
    text = tokenizer.decode(sample.input_ids)
    assert text.startswith(f"<s>[SYSTEM_PROMPT]{CARD}[/SYSTEM_PROMPT][INST]{OPENING_TURN}[/INST]")
    assert DEFAULT_SYSTEM not in text
    labelled = [
        t for t, label in zip(sample.input_ids, sample.labels, strict=True) if label != IGNORE
    ]
    assert tokenizer.decode(labelled) == f"{GREETING}</s>Hello!</s>"
