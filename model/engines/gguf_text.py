"""`GgufText`: what a GGUF's own tokenizer and chat template make of a chat.

The llama.cpp engine renders a chat with the GGUF's chat template (or `[model]
chat_template`), through transformers' renderer as training does, tokenizes it with the
GGUF's vocabulary, and reads from both the tokens a reply ends on.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

from model.character.prompt import ChatMessages, split_reply_so_far
from model.engines.chat_template import (
    checked,
    conform,
    plain_role_names,
    template_reply_stop,
    template_rules,
    user_turn_markers,
)
from model.engines.offline_gguf import ModelNotFoundError
from model.engines.special_text import defused, defuser

# Special tokens transformers hands a chat template beside bos/eos, and the GGUF
# metadata keys (tokenizer.ggml.*) that hold their ids ("seperator" is llama.cpp's spelling).
_TEMPLATE_TOKEN_KEYS = {
    "unk_token": "unknown_token_id",
    "pad_token": "padding_token_id",
    "sep_token": "seperator_token_id",
    "cls_token": "cls_token_id",
    "mask_token": "mask_token_id",
}


class GgufText:
    """The tokenizer and chat template of the model loaded from the GGUF at `path`
    (`model`, a llama.cpp model pointer, read through the binding module `ll`)."""

    def __init__(self, ll: Any, model: Any, path: Path, chat_template: str = "") -> None:
        """`chat_template`: `[model] chat_template`, which wins over the GGUF's own as it
        does over the tokenizer's for training and the local engine."""
        self._ll = ll
        self._model = model
        self._vocab = ll.llama_model_get_vocab(model)
        self.n_vocab = ll.llama_vocab_n_tokens(self._vocab)
        self.chat_template = chat_template.strip() or self.meta("tokenizer.chat_template")
        if not self.chat_template:
            raise ModelNotFoundError(
                f"{path}: the GGUF holds no chat template; give the model's template as "
                "[model] chat_template in config.toml."
            )
        self._bos = self._piece(ll.llama_vocab_bos(self._vocab), special=True)
        self._eos = self._piece(ll.llama_vocab_eos(self._vocab), special=True)
        self._template_tokens = self._special_token_strings()
        # End-of-generation tokens (EOS, end of turn, ...), as the GGUF marks them, and
        # the control tokens' text (what `reply_stop` looks for in a render).
        self.eog, self._control = self._scan_vocab()
        # Control tokens' text in a message is defused (special_text), as training and
        # the local engine defuse the tokenizer's special tokens: these are the same
        # tokens (a GGUF marks a special added token as control). User-defined tokens are
        # left: llama.cpp takes them out of any text, as transformers does, special or not.
        # A template that names turns in plain text has those names defused too.
        roles = plain_role_names(self.chat_template)
        self.defuse = defuser(tuple(sorted({*self._control, *roles}, key=len, reverse=True)))
        # A template that refuses ATRI's chats refused every request (a traceback each
        # time, her error line to every user): one sentence at start instead.
        self.render([{"role": "system", "content": "-"}, {"role": "user", "content": "-"}])

    def _scan_vocab(self) -> tuple[list[int], list[str]]:
        """One pass over the vocabulary at load: the end-of-generation tokens (EOS, end of
        turn, ...) as the GGUF marks them, and the control tokens' text, longest first."""
        ll, vocab, control = self._ll, self._vocab, self._ll.LLAMA_TOKEN_ATTR_CONTROL
        eog: list[int] = []
        specials: set[str] = set()
        for t in range(self.n_vocab):
            if ll.llama_vocab_is_eog(vocab, t):
                eog.append(t)
            if ll.llama_vocab_get_attr(vocab, t) & control:
                specials.add(self._piece(t, special=True).decode("utf-8", errors="replace"))
        return eog, sorted((s for s in specials if s), key=len, reverse=True)

    def reply_stop(self) -> list[int]:
        """The token that ends a reply under the GGUF's chat template (its end-of-turn
        token, or GLM-4's next role marker <|user|>: its template writes none), which
        training labels; a GGUF converted without marking it as end of generation would
        otherwise run on into a made-up turn. [] when the template shows none."""
        rules = template_rules(self.chat_template, self._render_as_is)
        stop = template_reply_stop(
            lambda chat: self._render_as_is(conform(chat, rules)), self._control
        )
        ids = self.tokenize(stop.token) if stop else []
        return ids if len(ids) == 1 else []

    def turn_openers(self) -> list[int]:
        """The control tokens the chat template opens a person's turn with (ChatML's
        <|im_start|>, `user_turn_markers`), which a reply stops on: detokenized, a control
        token is dropped, so the turn the model made up after one was kept as her words
        (chat_template.turn_opening_tokens says why)."""
        ids = [
            self.tokenize(m) for m in user_turn_markers(self.chat_template) if m in self._control
        ]
        return [one[0] for one in ids if len(one) == 1]

    def _special_token_strings(self) -> dict[str, Any]:
        """The special tokens a chat template may write, by the names transformers gives
        it (`bos_token`, `pad_token`, ...), from the GGUF's tokenizer metadata: the ones
        the model's tokenizer has, so a template renders here as in training."""
        found: dict[str, Any] = {
            "bos_token": self._bos.decode("utf-8", errors="replace"),
            "eos_token": self._eos.decode("utf-8", errors="replace"),
        }
        for name, key in _TEMPLATE_TOKEN_KEYS.items():
            value = self.meta(f"tokenizer.ggml.{key}")
            if value.isdigit() and int(value) < self.n_vocab:
                piece = self._piece(int(value), special=True)
                found[name] = piece.decode("utf-8", errors="replace")
        return found

    def meta(self, key: str) -> str:
        """A metadata value of the GGUF as text ("" when it has none)."""
        size = self._ll.llama_model_meta_val_str(self._model, key.encode(), None, 0)
        if size < 0:
            return ""
        buf = ctypes.create_string_buffer(size + 1)
        self._ll.llama_model_meta_val_str(self._model, key.encode(), buf, size + 1)
        return buf.value.decode("utf-8")

    def tokenize(self, text: str) -> list[int]:
        data = text.encode("utf-8")
        room = len(data) + 8
        while True:
            buf = (self._ll.llama_token * room)()
            n = self._ll.llama_tokenize(self._vocab, data, len(data), buf, room, False, True)
            if n >= 0:
                return list(buf[:n])
            room = -n

    def _piece(self, token: int, special: bool = False) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = self._ll.llama_token_to_piece(self._vocab, token, buf, 64, 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self._ll.llama_token_to_piece(self._vocab, token, buf, -n, 0, special)
        return buf.raw[:n]

    def detokenize(self, tokens: list[int]) -> str:
        """The tokens' text. A token is bytes, and a character of Chinese text is three
        of them, often split over two tokens: a reply cut by its token cap (or a stop
        check's window of its last tokens) can end or start inside one. Bytes that make
        no whole character are left out, never shown as U+FFFD."""
        return b"".join(self._piece(t) for t in tokens).decode("utf-8", errors="ignore")

    def count_tokens(self, text: str) -> int:
        """Tokens of a message's text as `render` puts it in a prompt (defused)."""
        return len(self.tokenize(self.defuse(text)))

    def render(self, messages: ChatMessages) -> str:
        """The chat in the GGUF's own template, reshaped to what it takes (chat_template),
        special tokens' text inside a message defused; her unfinished reply, where the
        chat ends with one, after the generation prompt as it is (`render_chat`)."""
        rules = template_rules(self.chat_template, self._render_as_is)
        safe, so_far = split_reply_so_far(defused(messages, self.defuse))
        return (
            checked(lambda: self._render_as_is(conform(safe, rules)), self.chat_template) + so_far
        )

    def _render_as_is(self, messages: ChatMessages) -> str:
        # transformers' own renderer, which training and the local engine render through:
        # its Jinja environment has loop controls, a `tojson` that keeps text as it is and
        # `strftime_now` (Llama-3's date header); a plain Jinja environment lacked them, so
        # such a template was refused here or read differently than in training.
        from transformers.utils.chat_template_utils import render_jinja_template

        # (the renders, the reply spans); annotated as a str in transformers 5.
        rendered: Any = render_jinja_template(
            [messages],
            chat_template=self.chat_template,
            add_generation_prompt=True,
            **self._template_tokens,
        )
        return str(rendered[0][0])

    def encode(self, messages: ChatMessages) -> list[int]:
        return self.tokenize(self.render(messages))
