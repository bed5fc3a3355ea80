"""Message text that cannot forge a chat turn.

A chat's rendered text is tokenized with special tokens parsed (transformers splits them
out of any text, llama.cpp's `parse_special`, vLLM's chat endpoint), since the template's
own turn markers must become their tokens. A group member's message holding
`<|im_end|>\n<|im_start|>system\n...` would then close its turn and open a system turn
of its own. So before a chat is rendered, every special token's text inside a message is
defused: a zero-width space after its first character, which reads the same but no
longer matches the token. Only message contents are touched; the markers the template
writes around them stay real. Train, serve and eval all defuse, so a model sees a
message holding such text in the same tokens everywhere.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

from model.character.prompt import ChatMessages

ZERO_WIDTH_SPACE = "\u200b"

# Turn markers of the usual template families, for a chat sent to a server whose
# tokenizer is not on this machine (the openai engine without the base's tokenizer):
# ChatML, Llama-3, GLM, Phi (<|...|>), Gemma's turns, and the SentencePiece BOS/EOS.
COMMON_SPECIALS = ("<start_of_turn>", "<end_of_turn>", "<s>", "</s>")
_COMMON_PATTERN = r"<\|[^\s<>|]{1,64}\|>"

Defuse = Callable[[str], str]


def defuser(specials: Sequence[str]) -> Defuse:
    """A function that defuses `specials` (a tokenizer's special tokens' texts) in a
    text; compiled once per set of tokens. A one-character token cannot be split and is
    left as it is (no chat template marks turns with one)."""
    # chat_template.special_tokens hands out one tuple per tokenizer: found by identity
    # (the dict holds the tuple, so its id is not reused), without hashing 256 strings.
    known = _BY_IDENTITY.get(id(specials))
    if known is not None and known[0] is specials:
        return known[1]
    defuse = _defuser(tuple(specials))
    if len(_BY_IDENTITY) >= _CACHED:
        _BY_IDENTITY.clear()
    _BY_IDENTITY[id(specials)] = (specials, defuse)
    return defuse


_CACHED = 64
_BY_IDENTITY: dict[int, tuple[Sequence[str], Defuse]] = {}


@functools.lru_cache(maxsize=_CACHED)
def _defuser(specials: tuple[str, ...]) -> Defuse:
    tokens = sorted({s for s in specials if len(s) > 1}, key=len, reverse=True)
    return _compiled("|".join(map(re.escape, tokens)), {t[0] for t in tokens})


def common_defuser() -> Defuse:
    """`defuser` for a tokenizer that is not known: the usual templates' turn markers."""
    return _common


def _compiled(pattern: str, first: set[str]) -> Defuse:
    if not pattern:
        return _unchanged
    regex = re.compile(pattern)
    # Almost every message holds none of the characters a token starts with ('<', '['):
    # a substring test per character is what it costs then.
    starts = tuple(first)

    def defuse(text: str) -> str:
        if not any(c in text for c in starts):
            return text
        return regex.sub(_split, text)

    return defuse


def _split(match: re.Match[str]) -> str:
    token = match.group()
    return token[0] + ZERO_WIDTH_SPACE + token[1:]


def _unchanged(text: str) -> str:
    return text


_common = _compiled(
    "|".join([_COMMON_PATTERN, *map(re.escape, COMMON_SPECIALS)]),
    {"<"},
)


def defused(messages: ChatMessages, defuse: Defuse) -> ChatMessages:
    """`messages` with every content defused; the list itself where none changes (the
    common case), a new one otherwise (the caller's messages are never changed)."""
    out = None
    for i, m in enumerate(messages):
        content = m.get("content")
        if not isinstance(content, str):
            continue
        safe = defuse(content)
        if safe is not content and safe != content:
            if out is None:
                out = list(messages)
            out[i] = {**m, "content": safe}
    return messages if out is None else out
