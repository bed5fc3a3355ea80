"""One `[model] chat_template`, one text: for the same chat, the prompt training puts before
the last reply's label, the prompt the local engine encodes, and the prompt the llama.cpp
engine renders are the same characters.

All three run on the offline default (SmolLM2-135M-Instruct): training and the local
engine on its transformers copy, llama.cpp on its own GGUF, as a user who trains with
`atri train` and serves the GGUF would. The tokenizers are the same model's, so the BOS
string a template writes (`bos_token`) is the same on both sides and the texts compare
whole, BOS included. Token ids are compared only between training and the local engine
(one tokenizer); llama.cpp's tokenizer is another implementation.
"""

from __future__ import annotations

import pytest

from atri.config import Settings
from model.character.prompt import ChatMessages
from model.engines.chat_template import render_chat
from model.engines.gguf_files import gguf_path
from model.engines.llamacpp import LlamaCppEngine
from model.engines.loading import LoadedModel, load_base_model
from model.engines.local import LocalEngine
from model.training.dataset import IGNORE, _segments, tokenize_conversation
from model.training.sharegpt import Conversation
from tests.conftest import _model_cache_dir
from tests.model.chat_templates import GEMMA2
from tests.tiny_model import CHATML_TEMPLATE

# GLM-4's shape in the GGUF's own tokens: each turn opens with a role marker and none is
# closed, so a reply ends where the next turn's marker begins.
GLM4_SHAPED = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Gemma-2's template in the GGUF's own tokens: a BOS, no system role, roles alternate.
GEMMA_SHAPED = GEMMA2.template.replace("<start_of_turn>", "<|im_start|>").replace(
    "<end_of_turn>", "<|im_end|>"
)
# Llama-3.1/3.2's date header: transformers gives the template `strftime_now`.
DATED = (
    "{%- if not date_string is defined %}{%- if strftime_now is defined %}"
    '{%- set date_string = strftime_now("%d %b %Y") %}'
    '{%- else %}{%- set date_string = "26 Jul 2024" %}{%- endif %}{%- endif %}'
    "<|im_start|>system\nToday Date: {{ date_string }}\n\n"
    "{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}{% endif %}<|im_end|>\n"
    "{% for m in messages %}{% if m['role'] != 'system' %}"
    "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Jinja's loop controls ({% break %}, {% continue %}), which transformers turns on.
LOOP_CONTROLS = (
    "{% for m in messages %}{% if m['role'] != 'system' %}{% continue %}{% endif %}"
    "<|im_start|>system\n{{ m['content'] }}<|im_end|>\n{% break %}{% endfor %}"
    "{% for m in messages %}{% if m['role'] == 'system' %}{% continue %}{% endif %}"
    "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Messages as JSON strings: transformers' `tojson` keeps non-ASCII text and does not
# escape HTML characters (Jinja's own writes "\u003c3" for "<3").
AS_JSON = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] | tojson }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# A template that writes the tokenizer's other special tokens (unk, pad), which
# transformers hands every template beside bos and eos.
SPECIAL_TOKENS = (
    "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
    "<|im_end|>{{ pad_token }}{{ unk_token }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TEMPLATES = {
    "chatml": CHATML_TEMPLATE,
    "glm4-shaped": GLM4_SHAPED,
    "gemma-shaped": GEMMA_SHAPED,
    "dated": DATED,
    "loop-controls": LOOP_CONTROLS,
    "as-json": AS_JSON,
    "special-tokens": SPECIAL_TOKENS,
}

SYSTEM = "You are ATRI, a robot girl who lives by the sea."
REPLY = "Crab, please!"
CHATS: dict[str, ChatMessages] = {
    # A group: two people speak in a row after her reply.
    "group": [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Aki: hello"},
        {"role": "assistant", "content": "Good morning, Aki!"},
        {"role": "user", "content": "Aki: what do you eat?"},
        {"role": "user", "content": "Mio: and drink? <3 & 'カニ'"},
    ],
    # She spoke first (a greeting), then a user answered.
    "her first": [
        {"role": "system", "content": SYSTEM},
        {"role": "assistant", "content": "I am ATRI. Nice to meet you!"},
        {"role": "user", "content": "Nice to meet you too."},
    ],
}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(root=tmp_path_factory.mktemp("consistency"))
    settings.model.cache_dir = str(_model_cache_dir())
    return settings


def loaded_with(base: Settings, template: str) -> LoadedModel:
    """The offline default as training and the local engine load it under `template`."""
    settings = base.model_copy(deep=True)
    settings.model.chat_template = template
    return load_base_model(settings)


def training_prompt(tokenizer: object, chat: ChatMessages) -> tuple[str, list[int]]:
    """(the text training puts before the label of a reply to `chat`, its token ids): the
    chat is a training conversation once REPLY answers it."""
    turns = tuple((m["role"], m["content"]) for m in chat[1:])
    conv = Conversation(chat[0]["content"], (*turns, ("assistant", REPLY)))
    segments, hidden = _segments(tokenizer, conv)
    assert hidden == 0
    last = max(i for i, (text, label) in enumerate(segments) if label and REPLY in text)
    sample = tokenize_conversation(tokenizer, conv)
    labelled = [i for i, label in enumerate(sample.labels) if label != IGNORE]
    start = next(i for i in reversed(labelled) if i == 0 or sample.labels[i - 1] == IGNORE)
    return "".join(text for text, _ in segments[:last]), sample.input_ids[:start]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_training_and_every_engine_render_a_chat_alike(name: str, base: Settings) -> None:
    template = TEMPLATES[name]
    loaded = loaded_with(base, template)
    local = LocalEngine(loaded, 2048, prefix_cache=False)
    # As `LlamaCppEngine.load` builds it from `[model] chat_template`.
    engine = LlamaCppEngine(gguf_path(base), "builtin:smollm2-135m", "", chat_template=template)
    try:
        for chat in CHATS.values():
            trained, trained_ids = training_prompt(loaded.tokenizer, chat)
            served = render_chat(local.tokenizer, chat, add_generation_prompt=True)
            assert trained == served
            assert SYSTEM in served and chat[-1]["content"] in served
            # Training tokenizes its pieces one by one, the local engine the whole prompt.
            assert local._encode([chat]) == [trained_ids]
            assert engine.text.render(chat) == served
    finally:
        engine._free()
