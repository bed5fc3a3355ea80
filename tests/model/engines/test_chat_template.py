"""The one probe of a chat template for the token that ends a reply (chat_template.py's
`template_reply_stop`), on the real templates of tests/model/chat_templates.py, and the
start-up check of `[model] chat_template`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from model.engines.chat_template import (
    BrokenTemplateError,
    ChatTemplateError,
    ReplyStop,
    check_configured_template,
    compile_like_transformers,
    render_chat,
    reply_stop,
    template_reply_stop,
)
from tests.model.chat_templates import REAL_TEMPLATES, template_tokenizer
from tests.tiny_model import CHATML_TEMPLATE, TRAINING_TEXT, build_tokenizer

# Each real template's reply stop, and whether it follows the chat's last reply too.
EXPECTED = {
    "gemma2": ReplyStop("<end_of_turn>", after_last_reply=True),
    "mistral": ReplyStop("</s>", after_last_reply=True),
    "mistral03": ReplyStop("</s>", after_last_reply=True),
    "llama2": ReplyStop("</s>", after_last_reply=True),
    "llama3": ReplyStop("<|eot_id|>", after_last_reply=True),
    "phi3": ReplyStop("<|end|>", after_last_reply=True),
    "qwen25": ReplyStop("<|im_end|>", after_last_reply=True),
    "yi": ReplyStop("<|im_end|>", after_last_reply=True),
    "deepseek": ReplyStop("<｜end▁of▁sentence｜>", after_last_reply=True),
    # GLM-4 closes no turn: a reply ends at the next <|user|>, which the last has not.
    "glm4": ReplyStop("<|user|>", after_last_reply=False),
    "qwen3": ReplyStop("<|im_end|>", after_last_reply=True),
}


@pytest.mark.parametrize("name", sorted(REAL_TEMPLATES))
def test_the_reply_stop_of_each_real_template(name: str) -> None:
    assert reply_stop(template_tokenizer(REAL_TEMPLATES[name])) == EXPECTED[name]


def test_a_rendered_template_is_probed_once() -> None:
    """A template known only by its render (llama.cpp's GGUF): one render gives both the
    stop and whether it follows the last reply."""
    renders: list[list[dict[str, str]]] = []

    def render(chat: list[dict[str, str]]) -> str:
        renders.append(chat)
        # GLM-4's shape in ChatML's tokens: turns open with <|im_start|>, none is closed.
        return "".join(f"<|im_start|>{m['role']}\n{m['content']}" for m in chat)

    stop = template_reply_stop(render, ["<|im_start|>", "<|im_end|>"])
    assert stop == ReplyStop("<|im_start|>", after_last_reply=False)
    assert len(renders) == 1


def test_no_stop_where_the_template_refuses_or_writes_plain_text() -> None:
    def refuse(chat: list[dict[str, str]]) -> str:
        raise ValueError("Conversation roles must alternate")

    assert template_reply_stop(refuse, ["<|im_end|>"]) is None
    plain = build_tokenizer(
        TRAINING_TEXT,
        512,
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}",
    )
    assert reply_stop(plain) is None
    assert reply_stop(build_tokenizer(TRAINING_TEXT, 512, CHATML_TEMPLATE)) == ReplyStop(
        "<|im_end|>", after_last_reply=True
    )


@pytest.mark.parametrize(
    ("template", "error", "line"),
    [
        ("{% if %}", "Expected an expression, got 'end of statement block'", 1),
        ("{{ messages", "unexpected end of template, expected 'end of print statement'", 1),
        (
            "{% for m in messages %}\n{{ m['content'] }}\n{% endif %}",
            "Encountered unknown tag 'endif'. Jinja was looking for the following tags: "
            "'endfor' or 'else'. The innermost block that needs to be closed is 'for'",
            3,
        ),
        ("{{ messages | no_such_filter }}", "No filter named 'no_such_filter'", 1),
    ],
)
def test_a_configured_template_that_does_not_compile_is_one_sentence(
    template: str, error: str, line: int
) -> None:
    """Before, it passed the config check and every chat failed with a traceback and a
    sentence blaming the base model's template."""
    with pytest.raises(BrokenTemplateError) as caught:
        check_configured_template(template)
    message = str(caught.value)
    assert message.startswith("[model] chat_template in config.toml is not a Jinja template")
    assert f"({error}, line {line} of the template)" in message
    assert "\n" not in message


def test_a_template_that_compiles_passes_the_check() -> None:
    check_configured_template("")
    check_configured_template(CHATML_TEMPLATE)
    # It compiles: what it refuses is said where a chat meets it.
    check_configured_template("{{ raise_exception('no chats') }}")


# Templates transformers compiles (its {% generation %} block, loop controls, tojson with
# its arguments) and ones it refuses (an unknown tag or filter, an unclosed block; an
# unknown test under an `if` is left to the render by both).
COMPILES_OR_NOT = [
    *(t.template for t in REAL_TEMPLATES.values()),
    CHATML_TEMPLATE,
    "{% for m in messages %}{% generation %}{{ m.content }}{% endgeneration %}{% endfor %}",
    "{% for m in messages %}{% if loop.index > 2 %}{% break %}{% endif %}{% continue %}"
    "{% endfor %}",
    "{{ messages | tojson(indent=2) }}{{ strftime_now('%Y') }}{{ namespace(a=1).a }}",
    "{% generation %}unclosed",
    "{% endgeneration %}",
    "{% do messages.append(1) %}",
    "{{ messages | no_such_filter }}",
    "{% if messages is no_such_test %}{% endif %}",
    "{% for m in messages %}",
    "{% raw %}{{ not a tag",
]


@pytest.mark.parametrize("template", COMPILES_OR_NOT)
def test_the_check_compiles_a_template_as_transformers_does(template: str) -> None:
    """The check compiles without transformers; the same templates pass and fail."""
    from jinja2 import TemplateSyntaxError
    from transformers.utils.chat_template_utils import _compile_jinja_template

    def verdict(compile_: object) -> str:
        try:
            compile_(template)  # type: ignore[operator]
        except TemplateSyntaxError as exc:
            return f"{exc.message} (line {exc.lineno})"
        return "compiles"

    assert verdict(compile_like_transformers) == verdict(_compile_jinja_template)


def test_the_check_does_not_import_transformers() -> None:
    """The openai engine checked `[model] chat_template` through transformers' renderer:
    about a second of import in a process that otherwise never needs transformers."""
    code = (
        "import sys\n"
        "from model.engines.chat_template import check_configured_template\n"
        "check_configured_template('{% for m in messages %}{{ m.content }}{% endfor %}')\n"
        "assert 'transformers' not in sys.modules, 'transformers imported'\n"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-500:]


def test_a_chat_the_configured_template_refuses_names_the_key() -> None:
    configured = "{# configured #}{{ raise_exception('Only user messages, please') }}"
    check_configured_template(configured)
    with pytest.raises(ChatTemplateError) as caught:
        render_chat(build_tokenizer(TRAINING_TEXT, 512, configured), [_user("hi")], True)
    message = str(caught.value)
    assert message.startswith("[model] chat_template in config.toml refuses a chat")
    assert "Only user messages, please" in message and "base model's chat" not in message

    own = "{# the model's own #}{{ raise_exception('Only user messages, please') }}"
    with pytest.raises(ChatTemplateError, match=r"^The base model's chat template refuses"):
        render_chat(build_tokenizer(TRAINING_TEXT, 512, own), [_user("hi")], True)


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}
