"""The chat templates of the models users pick, as their tokenizer_config.json ships them,
on the tiny test tokenizer (no hub): each with the special tokens its template writes.

Sources: Gemma-2 (google/gemma-2-9b-it), Mistral-7B-Instruct-v0.2 and v0.3, Llama-2-7b-chat-hf,
Llama-3-8B-Instruct, Phi-3-mini-4k-instruct (its first release, which drops a system
message), Qwen2.5-7B-Instruct (the no-tools branch), Yi-1.5-Chat, deepseek-llm-7b-chat,
glm-4-9b-chat (the no-tools branch), Qwen3-8B (the no-tools branch), as llama.cpp's tests/test-chat-template.cpp and the
models' own tokenizer_config.json files carry them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.tiny_model import TRAINING_TEXT, build_tokenizer


@dataclass(frozen=True)
class RealTemplate:
    template: str
    bos: str = ""
    eos: str = "<|im_end|>"
    extra: tuple[str, ...] = ()  # further special tokens the template writes


GEMMA2 = RealTemplate(
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}"
    "{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}",
    bos="<bos>",
    eos="<eos>",
    extra=("<start_of_turn>", "<end_of_turn>"),
)

MISTRAL_V02 = RealTemplate(
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}"
    "{% endfor %}",
    bos="<s>",
    eos="</s>",
)

# Mistral-7B-Instruct-v0.3 (its tool branches left out): the system message goes into
# the last user message only, so a chat that ends with a reply shows none.
MISTRAL_V03 = RealTemplate(
    '{%- if messages[0]["role"] == "system" %}\n'
    '    {%- set system_message = messages[0]["content"] %}\n'
    "    {%- set loop_messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set loop_messages = messages %}\n"
    "{%- endif %}\n"
    "{%- set ns = namespace() %}\n"
    "{%- set ns.index = 0 %}\n"
    "{%- for message in loop_messages %}\n"
    '    {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}\n'
    '        {{- raise_exception("After the optional system message, conversation roles '
    'must alternate user/assistant/user/assistant/...") }}\n'
    "    {%- endif %}\n"
    "    {%- set ns.index = ns.index + 1 %}\n"
    "{%- endfor %}\n"
    "{{- bos_token }}\n"
    "{%- for message in loop_messages %}\n"
    '    {%- if message["role"] == "user" %}\n'
    "        {%- if loop.last and system_message is defined %}\n"
    '            {{- "[INST] " + system_message + "\\n\\n" + message["content"] + "[/INST]" }}\n'
    "        {%- else %}\n"
    '            {{- "[INST] " + message["content"] + "[/INST]" }}\n'
    "        {%- endif %}\n"
    '    {%- elif message["role"] == "assistant" %}\n'
    '        {{- " " + message["content"]|trim + eos_token}}\n'
    "    {%- else %}\n"
    '        {{- raise_exception("Only user and assistant roles are supported, with the '
    'exception of an initial optional system message!") }}\n'
    "    {%- endif %}\n"
    "{%- endfor %}\n",
    bos="<s>",
    eos="</s>",
)

LLAMA2 = RealTemplate(
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'system' %}{{ '<<SYS>>\\n' + content.strip() + '\\n<</SYS>>\\n\\n' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}"
    "{% endif %}{% endfor %}",
    bos="<s>",
    eos="</s>",
)

LLAMA3 = RealTemplate(
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}",
    bos="<|begin_of_text|>",
    eos="<|eot_id|>",
    extra=("<|start_header_id|>", "<|end_header_id|>"),
)

PHI3_MINI = RealTemplate(
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') %}"
    "{{'<|user|>' + '\n' + message['content'] + '<|end|>' + '\n' + '<|assistant|>' + '\n'}}"
    "{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|end|>' + '\n'}}"
    "{% endif %}{% endfor %}",
    bos="<s>",
    eos="<|endoftext|>",
    extra=("<|user|>", "<|assistant|>", "<|end|>"),
)

QWEN25 = RealTemplate(
    "{%- if messages[0]['role'] == 'system' %}\n"
    "    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    "{%- else %}\n"
    "    {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. "
    "You are a helpful assistant.<|im_end|>\\n' }}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    '    {%- if (message.role == "user") or (message.role == "system" and not loop.first)'
    ' or (message.role == "assistant" and not message.tool_calls) %}\n'
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n",
)

YI = RealTemplate(
    "{% if messages[0]['role'] == 'system' %}{% set system_message = messages[0]['content'] %}"
    "{% endif %}{% if system_message is defined %}{{ system_message }}{% endif %}"
    "{% for message in messages %}{% set content = message['content'] %}"
    "{% if message['role'] == 'user' %}"
    "{{ '<|im_start|>user\\n' + content + '<|im_end|>\\n<|im_start|>assistant\\n' }}"
    "{% elif message['role'] == 'assistant' %}{{ content + '<|im_end|>' + '\\n' }}"
    "{% endif %}{% endfor %}",
)

DEEPSEEK = RealTemplate(
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}"
    "{% endif %}{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\\n\\n' }}"
    "{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] + eos_token }}"
    "{% elif message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}",
    bos="<｜begin▁of▁sentence｜>",
    eos="<｜end▁of▁sentence｜>",
)

GLM4 = RealTemplate(
    "[gMASK]<sop>{% for item in messages %}{% if item['content'] %}"
    "<|{{ item['role'] }}|>{{ item['metadata'] }}\n{{ item['content'] }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}",
    eos="<|endoftext|>",
    extra=("[gMASK]", "<sop>", "<|system|>", "<|user|>", "<|assistant|>"),
)

# Qwen3 (Qwen/Qwen3-8B, its tool branches left out) rewrites history: a reply before the
# last user message loses its <think> block, and the last reply gets an empty one, so a
# render of the chat up to a reply is not a prefix of the whole chat's render.
QWEN3 = RealTemplate(
    "{%- if messages[0].role == 'system' %}\n"
    "    {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}\n"
    "{%- endif %}\n"
    "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}\n"
    "{%- for message in messages[::-1] %}\n"
    "    {%- set index = (messages|length - 1) - loop.index0 %}\n"
    '    {%- if ns.multi_step_tool and message.role == "user" and message.content is string'
    " and not(message.content.startswith('<tool_response>')"
    " and message.content.endswith('</tool_response>')) %}\n"
    "        {%- set ns.multi_step_tool = false %}\n"
    "        {%- set ns.last_query_index = index %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- for message in messages %}\n"
    "    {%- if message.content is string %}\n"
    "        {%- set content = message.content %}\n"
    "    {%- else %}\n"
    "        {%- set content = '' %}\n"
    "    {%- endif %}\n"
    '    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}\n'
    "        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}\n"
    '    {%- elif message.role == "assistant" %}\n'
    "        {%- set reasoning_content = '' %}\n"
    "        {%- if message.reasoning_content is string %}\n"
    "            {%- set reasoning_content = message.reasoning_content %}\n"
    "        {%- else %}\n"
    "            {%- if '</think>' in content %}\n"
    "                {%- set reasoning_content = content.split('</think>')[0].rstrip('\\n')"
    ".split('<think>')[-1].lstrip('\\n') %}\n"
    "                {%- set content = content.split('</think>')[-1].lstrip('\\n') %}\n"
    "            {%- endif %}\n"
    "        {%- endif %}\n"
    "        {%- if loop.index0 > ns.last_query_index %}\n"
    "            {%- if loop.last or (not loop.last and reasoning_content) %}\n"
    "                {{- '<|im_start|>' + message.role + '\\n<think>\\n' + "
    "reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}\n"
    "            {%- else %}\n"
    "                {{- '<|im_start|>' + message.role + '\\n' + content }}\n"
    "            {%- endif %}\n"
    "        {%- else %}\n"
    "            {{- '<|im_start|>' + message.role + '\\n' + content }}\n"
    "        {%- endif %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "    {%- if enable_thinking is defined and enable_thinking is false %}\n"
    "        {{- '<think>\\n\\n</think>\\n\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n",
)

REAL_TEMPLATES = {
    "gemma2": GEMMA2,
    "mistral": MISTRAL_V02,
    "mistral03": MISTRAL_V03,
    "llama2": LLAMA2,
    "llama3": LLAMA3,
    "phi3": PHI3_MINI,
    "qwen25": QWEN25,
    "yi": YI,
    "deepseek": DEEPSEEK,
    "glm4": GLM4,
    "qwen3": QWEN3,
}


def template_tokenizer(real: RealTemplate) -> Any:
    """The tiny byte-level tokenizer, with `real`'s template and special tokens."""
    tokenizer = build_tokenizer(TRAINING_TEXT, 512, real.template)
    specials: dict[str, Any] = {"eos_token": real.eos}
    if real.bos:
        specials["bos_token"] = real.bos
    specials["additional_special_tokens"] = list(real.extra)
    tokenizer.add_special_tokens(specials)
    return tokenizer


def save_template_model(folder: Path, real: RealTemplate) -> Path:
    """The tiny Llama with `real`'s tokenizer, on disk, for the CLI and the worker."""
    from tests.tiny_model import build_tiny_model

    return build_tiny_model(folder, tokenizer=template_tokenizer(real))


# DeepSeek-R1-Distill-Qwen (its tool branches left out): the generation prompt opens
# `<think>`, a past reply loses what comes before its `</think>`, and the role markers are
# added tokens its tokenizer does not mark special.
R1_DISTILL = RealTemplate(
    "{% set ns = namespace(system_prompt='') %}"
    "{%- for message in messages %}{%- if message['role'] == 'system' %}"
    "{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}"
    "{{ bos_token }}{{ ns.system_prompt }}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'user' %}{{ '<｜User｜>' + message['content'] }}{%- endif %}"
    "{%- if message['role'] == 'assistant' and message['content'] is not none %}"
    "{% set content = message['content'] %}"
    "{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}"
    "{{ '<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>' }}"
    "{%- endif %}{%- endfor %}"
    "{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\\n' }}{% endif %}",
    bos="<｜begin▁of▁sentence｜>",
    eos="<｜end▁of▁sentence｜>",
)
R1_ROLE_MARKERS = ("<｜User｜>", "<｜Assistant｜>")


def r1_distill_tokenizer() -> Any:
    """The tiny tokenizer with R1-Distill's template: its role markers and think tags are
    added tokens with special=false, as its tokenizer.json has them."""
    from tokenizers import AddedToken

    tokenizer = template_tokenizer(R1_DISTILL)
    markers = [*R1_ROLE_MARKERS, "<think>", "</think>"]
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in markers])
    return tokenizer
