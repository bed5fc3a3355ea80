"""Building the model's input from persona, memory and the new message; cleaning its output."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from model.memory import Message

ChatMessages = list[dict[str, str]]

# Per-message overhead of chat templates (role markers, separators), in tokens. A
# slight overestimate keeps the prompt inside the context window for every template.
TEMPLATE_OVERHEAD_TOKENS = 8

_THINK_BLOCK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL)
_TEMPLATE_TOKENS = re.compile(
    r"<\|(?:im_start|im_end|endoftext|eot_id|start_header_id|end_header_id|begin_of_text)\|>"
    r"|</?s>|\[/?INST\]"
)
# Where a small model starts writing the next turn itself: cut the reply there.
_NEXT_TURN = re.compile(r"\n\s*(?:<\|im_start\|>|user\s*\n|assistant\s*\n)")


def history_budget(
    context_window: int,
    max_new_tokens: int,
    max_history_tokens: int,
    fixed_tokens: int,
) -> int:
    """How many tokens the history may take: the configured budget, capped by what the
    context window leaves after the system prompt, the new message and the reply."""
    room = context_window - max_new_tokens - fixed_tokens
    return max(0, min(max_history_tokens, room))


def speaker_text(text: str, display_name: str, shared_scope: bool) -> str:
    """In a scope several people share, the model must know who said what."""
    return f"{display_name}：{text}" if shared_scope and display_name else text


def build_messages(
    system_prompt: str,
    history: Sequence[Message],
    text: str,
    display_name: str = "",
    shared_scope: bool = False,
) -> ChatMessages:
    messages: ChatMessages = [{"role": "system", "content": system_prompt}]
    for m in history:
        content = speaker_text(m.content, m.display_name, shared_scope and m.role == "user")
        messages.append({"role": m.role, "content": content})
    messages.append({"role": "user", "content": speaker_text(text, display_name, shared_scope)})
    return messages


def count_message_tokens(count: Callable[[str], int], messages: ChatMessages) -> int:
    return sum(count(m["content"]) + TEMPLATE_OVERHEAD_TOKENS for m in messages)


def clean_reply(text: str, character_name: str = "") -> str:
    """Strip `<think>` blocks, template tokens, a self-written next turn and a name prefix."""
    text = _THINK_BLOCK.sub("", text)
    match = _NEXT_TURN.search(text)
    if match:
        text = text[: match.start()]
    text = _TEMPLATE_TOKENS.sub("", text)
    text = text.strip()
    if character_name:
        for sep in ("：", ":"):
            prefix = f"{character_name}{sep}"
            if text.startswith(prefix):
                text = text[len(prefix) :].strip()
    return text
