"""Rendering a chat with the base model's own template, whatever that template refuses.

ATRI's chats have a system prompt (the character), and a group's history can hold two
user messages in a row. Many real templates refuse one or the other: Gemma raises
"System role not supported", Mistral and Llama-2 raise unless user and assistant
alternate, Phi-3's first template drops a system message without a word, and Mistral
v0.3's shows it only while the chat ends with a user message (so never in training).
Each template is tried once on small probe chats; a chat is then reshaped the way its
model was trained to take one (the system prompt opens the first user message, messages
of one role in a row become one) and rendered. Train, serve and eval all render here,
so a model sees its prompts in the same shape everywhere.
"""

from __future__ import annotations

import functools
import logging
import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atri.errors import ConfigError, UserError
from model.character.prompt import (
    TURN_OPENERS,
    USER_TURN_MARKERS,
    ChatMessages,
    split_reply_so_far,
)
from model.engines.special_text import Defuse, defused, defuser

log = logging.getLogger(__name__)

# How the system prompt and the message after it are joined when the template has no
# system role, and how messages of one role in a row are joined.
JOIN = "\n\n"
_PROBE = "ATRI-PROBE-SYSTEM-PROMPT"
_PROBE_REPLY = "ATRI-PROBE-REPLY"
_PROBE_LAST_REPLY = "ATRI-PROBE-LAST-REPLY"
_PROBE_USER = "ATRI-PROBE-USER"
_PROBE_FIRST_USER = "ATRI-PROBE-FIRST-USER"
# The longest plain-text name of a person's turn a template's render is read for
# (`_plain_name_before`): longer text between her reply and their words is no role's name.
MAX_PLAIN_PREFIX_CHARS = 32
# A token's text in a render ("</s>", "<|endoftext|>"): not part of a plain role name.
_TOKEN_LIKE = re.compile(r"<[^<>\s]{1,40}>")


class ChatTemplateError(UserError):
    """The model's chat template refuses a chat even in the shape it was trained on."""


class BrokenTemplateError(ConfigError):
    """`[model] chat_template` is not a Jinja template that compiles."""


# The `[model] chat_template` texts checked at start-up (stripped), each with the name of
# the config file it was set in: a template found here is the configured one, and what it
# refuses names that key, not the base model.
_CONFIGURED: dict[str, str] = {}


def check_configured_template(template: str, config_file: str = "") -> None:
    """`[model] chat_template`, compiled once at start-up (before any model loads) the
    way transformers compiles it for every render; one that does not compile is one
    sentence with Jinja's error and its line, instead of a failure in every chat. Checked
    once a process: `atri train` and `atri eval` reach it again through the model load.
    `config_file`: the file it was read from (`Settings.config_file`), named in what is
    said of it ("" for config.toml)."""
    if not template.strip() or template.strip() in _CONFIGURED:
        return
    from jinja2 import TemplateSyntaxError

    in_file = Path(config_file).name if config_file else "config.toml"
    try:
        compile_like_transformers(template)
    except TemplateSyntaxError as exc:
        raise BrokenTemplateError(
            f"[model] chat_template in {in_file} is not a Jinja template that compiles "
            f"({(exc.message or type(exc).__name__).rstrip('.')}, line {exc.lineno} of the "
            "template); "
            "fix it, or leave it empty for the base model's own."
        ) from None
    except Exception:
        pass  # compiled or not, a chat that meets it says what it refuses (`checked`)
    _CONFIGURED[template.strip()] = in_file


def compile_like_transformers(template: str) -> Any:
    """`template` compiled by jinja2 in the environment transformers renders chat templates
    in (`chat_template_utils._compile_jinja_template`): its sandbox, parser options and
    extensions (loop controls, the `{% generation %}` block), so the same templates
    compile and fail. Its globals and its own `tojson` (a filter jinja2 also has) matter
    only when rendering. Here so that the openai engine, which renders nothing itself,
    does not import transformers (about a second) to check `[model] chat_template`."""
    from jinja2 import nodes
    from jinja2.ext import Extension, loopcontrols
    from jinja2.parser import Parser
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Generation(Extension):
        """`{% generation %}…{% endgeneration %}`, parsed as transformers' AssistantTracker
        parses it; its body renders as it stands."""

        tags = {"generation"}  # noqa: RUF012 (jinja2 types it a set)

        def parse(self, parser: Parser) -> list[nodes.Node]:
            next(parser.stream)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[Generation, loopcontrols]
    )
    return env.from_string(template)


def _whose(template: str) -> str:
    """Which template a message speaks of: the configured one or the base model's."""
    if template.strip() in _CONFIGURED:
        return "[model] chat_template"
    return "the base model's chat template"


@dataclass(frozen=True)
class TemplateRules:
    system: bool  # the template shows a system message
    alternating: bool  # user and assistant must alternate, user first


_RULES: dict[str, TemplateRules] = {}


def template_rules(template: str, render: Callable[[ChatMessages], str]) -> TemplateRules:
    """What `template` takes, found by rendering probe chats once per template."""
    rules = _RULES.get(template)
    if rules is None:
        rules = _RULES[template] = _probe(render)
        if not rules.system:
            log.warning(
                "%s has no system role; ATRI puts the system prompt at the start of the "
                "first user message",
                _whose(template),
            )
        if rules.alternating:
            log.info(
                "%s needs user and assistant to alternate; messages of one role in a row "
                "are joined into one",
                _whose(template),
            )
    return rules


def _probe(render: Callable[[ChatMessages], str]) -> TemplateRules:
    def renders(messages: ChatMessages) -> str | None:
        try:
            return render(messages)
        except Exception:
            return None

    # Mistral v0.3 shows the system message in the last user message only: a training
    # chat, which ends with a reply, would have none.
    asked = [{"role": "system", "content": _PROBE}, _user("hi")]
    answered = [*asked, {"role": "assistant", "content": "hello"}]
    system = all(_PROBE in (renders(chat) or "") for chat in (asked, answered))
    two_users = renders([_user("hi"), _user("there")])
    reply_first = renders([{"role": "assistant", "content": "hi"}, _user("there")])
    alternating = two_users is None or reply_first is None or _reply_between_users(renders)
    return TemplateRules(system=system, alternating=alternating)


def _reply_between_users(renders: Callable[[ChatMessages], str | None]) -> bool:
    """Whether the template writes her turn's opening between two user messages in a row
    without refusing them: Phi-3's first template writes `<|assistant|>` after every user
    message, so a group's history showed her silent after each member's line. What opens
    her turn is read from a chat with her reply between the two."""
    replied = renders(
        [
            _user(_PROBE_FIRST_USER),
            {"role": "assistant", "content": _PROBE_REPLY},
            _user(_PROBE_USER),
        ]
    )
    in_a_row = renders([_user(_PROBE_FIRST_USER), _user(_PROBE_USER)])
    if replied is None or in_a_row is None:
        return False
    her_turn = _between(replied, _PROBE_FIRST_USER, _PROBE_REPLY).strip()
    return bool(her_turn) and her_turn in _between(in_a_row, _PROBE_FIRST_USER, _PROBE_USER)


def _between(text: str, first: str, second: str) -> str:
    start = text.find(first)
    end = text.find(second, start + len(first)) if start >= 0 else -1
    return text[start + len(first) : end] if end >= 0 else ""


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


@functools.lru_cache(maxsize=8)
def user_turn_markers(template: str) -> tuple[str, ...]:
    """The `prompt.TURN_OPENERS` and `prompt.USER_TURN_MARKERS` a chat template opens a
    person's turn with, which a reply under it is cut at (`clean_reply`): those its
    render of a chat writes (GLM-4's writes `<|{{ role }}|>`, naming none in its text),
    or where it cannot render, those its text holds. A template that writes none of them
    but names the turn in plain text (DeepSeek-LLM's "User: ") gives that name as a line's
    start ("\nUser:", `plain_role_names`). None for no template (the echo engine): a
    reply is then cut at any of `TURN_OPENERS`."""
    if not template.strip():
        return ()
    text = _probe_render(template)
    if text is None:
        return tuple(m for m in (*TURN_OPENERS, *USER_TURN_MARKERS) if m in template)
    found = tuple(marker for marker in (*TURN_OPENERS, *USER_TURN_MARKERS) if marker in text)
    if found:
        return found
    person = _plain_name_before(text, _PROBE_REPLY, _PROBE_USER)
    return ("\n" + person,) if person else ()


def turn_opening_tokens(tokenizer: Any) -> list[tuple[str, int]]:
    """(marker, token id) of each of the tokenizer's `user_turn_markers` that is one token
    of its own (ChatML's <|im_start|>, Llama-3's <|start_header_id|>, Gemma's
    <start_of_turn>, Phi-3's <|user|>): generation stops on them as on the end of a turn.
    A reply that runs on into one is a turn the model writes for the person (one that
    missed its end-of-turn token), and decoding drops special tokens, so `clean_reply`,
    which cuts a reply at these markers, never saw them and her reply went on with
    "user\n" and their made-up words. Stopping cuts there before any text is made and
    spares generating the made-up turn; plain-text markers (Llama-2's "[INST]") stay in
    the text, where `clean_reply` cuts them."""
    template = str(getattr(tokenizer, "chat_template", None) or "")
    found = []
    for marker in user_turn_markers(template) if template.strip() else ():
        if marker not in special_tokens(tokenizer):
            continue
        token_id = tokenizer.convert_tokens_to_ids(marker)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
            found.append((marker, token_id))
    return found


@functools.lru_cache(maxsize=8)
def plain_role_names(template: str) -> tuple[str, ...]:
    """The plain-text names a template that writes no turn markers opens the person's
    and her turns with ("User:" and "Assistant:" of DeepSeek-LLM's, "### Instruction:"
    and "### Response:" of Alpaca's). A member's message holding "\n\nAssistant: I am
    an AI" would render as a turn of hers, so messages defuse these names as they do
    special tokens' text (`special_tokens`, special_text)."""
    text = _probe_render(template) if template.strip() else None
    if text is None or any(m in text for m in (*TURN_OPENERS, *USER_TURN_MARKERS)):
        return ()
    names = (
        _plain_name_before(text, _PROBE_FIRST_USER, _PROBE_REPLY),
        _plain_name_before(text, _PROBE_REPLY, _PROBE_USER),
    )
    return tuple(dict.fromkeys(name for name in names if name))


@functools.lru_cache(maxsize=8)
def _probe_render(template: str) -> str | None:
    """A probe chat (a person, her reply, the person again) as `template` renders it;
    None where it cannot."""
    try:
        from transformers.utils.chat_template_utils import render_jinja_template

        chat = [
            _user(_PROBE_FIRST_USER),
            {"role": "assistant", "content": _PROBE_REPLY},
            _user(_PROBE_USER),
        ]
        # Its own bos and eos are the tokenizer's: empty here, so a template that adds
        # them to a string (DeepSeek-LLM's `content + eos_token`) renders too.
        rendered: Any = render_jinja_template(
            [chat], chat_template=template, bos_token="", eos_token=""
        )
        return str(rendered[0][0])
    except Exception:
        return None


def _plain_name_before(rendered: str, before: str, after: str) -> str:
    """The plain text a probe render opens the turn holding `after` with, following the
    turn holding `before`: the line before `after`'s words, without tokens ("User:" of
    "…REPLY</s>User: there", "### Instruction:" of "…REPLY\n\n### Instruction:\nthere");
    "" where that is no name (blanks, punctuation, a long text)."""
    start = rendered.find(before)
    end = rendered.rfind(after)
    if start < 0 or end < start:
        return ""
    between = rendered[start + len(before) : end]
    lines = [line.strip() for line in between.splitlines() if line.strip()]
    name = _TOKEN_LIKE.sub("", lines[-1]).strip() if lines else ""
    if not any(c.isalpha() for c in name) or len(name) > MAX_PLAIN_PREFIX_CHARS:
        return ""
    return name


# The user turn that leads a chat opening with her reply (her greeting, or history cut to
# fit) under a template with a system role that needs user first: short and wordless.
OPENING_TURN = "…"


def conform(messages: ChatMessages, rules: TemplateRules) -> ChatMessages:
    """`messages` in the shape `rules` allow. Where roles must alternate, runs of one
    role are joined, and a chat that opens with a reply is led by the system prompt as a
    user message where the template has no system role, else by a short user turn
    (OPENING_TURN); without a system prompt, the opening replies are left out. Where
    there is no system role, the system prompt opens the first user message."""
    head = [dict(messages[0])] if messages and messages[0]["role"] == "system" else []
    system = head[0]["content"] if head else ""
    rest = [dict(m) for m in messages[len(head) :]]
    if rules.alternating:
        rest = _joined_runs(rest)
        if rest and rest[0]["role"] != "user":
            if system and rules.system:
                # The system prompt stays the system message: made a user message, it
                # left the system slot to the template's own default (Mistral-Small-3's
                # ~400-token persona) and made her card a user's instruction.
                return [*head, _user(OPENING_TURN), *rest]
            if system:
                return [_user(system), *rest]
            while rest and rest[0]["role"] != "user":
                rest.pop(0)
    if rules.system or not system:
        return head + rest if rules.system else rest
    if rest and rest[0]["role"] == "user":
        rest[0]["content"] = system + JOIN + rest[0]["content"]
        return rest
    return [_user(system), *rest]


def _joined_runs(messages: ChatMessages) -> ChatMessages:
    out: ChatMessages = []
    for m in messages:
        if out and out[-1]["role"] == m["role"]:
            out[-1]["content"] += JOIN + m["content"]
        else:
            out.append(m)
    return out


def chat_rules(tokenizer: Any) -> TemplateRules:
    """What the tokenizer's chat template takes (probed once per template)."""
    return template_rules(
        str(tokenizer.chat_template), lambda chat: apply_template(tokenizer, chat, True)
    )


def render_chat(
    tokenizer: Any, messages: ChatMessages, add_generation_prompt: bool, model: str = ""
) -> str:
    """`messages` rendered with the tokenizer's chat template, reshaped to what it takes;
    special tokens' text and plain role names inside a message are defused
    (`message_defuser`). `model` names the base in the sentence a refusing template is.
    With the generation prompt, a chat that ends with her unfinished reply
    (`split_reply_so_far`) is rendered up to the user's turn, and the reply follows the
    generation prompt as it is, for the model to go on."""
    safe = defused(messages, message_defuser(tokenizer))
    so_far = ""
    if add_generation_prompt:
        safe, so_far = split_reply_so_far(safe)
    return (
        checked(
            lambda: apply_template(
                tokenizer, conform(safe, chat_rules(tokenizer)), add_generation_prompt
            ),
            str(tokenizer.chat_template),
            model,
        )
        + so_far
    )


# Per tokenizer: (its size and chat template when read, its special tokens, the texts a
# message defuses). Training asks once per conversation, and reading them costs ~0.3 ms
# on a tokenizer with Llama-3's 256.
_SPECIALS: weakref.WeakKeyDictionary[
    Any, tuple[tuple[int, str], tuple[str, ...], tuple[str, ...]]
] = weakref.WeakKeyDictionary()

# A chat with every role, a past reply and the generation prompt: what the template writes
# around its messages (the served-template check renders it on both sides too).
TEMPLATE_PROBE: ChatMessages = [
    {"role": "system", "content": "You are ATRI."},
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "how are you?"},
]


def special_tokens(tokenizer: Any) -> tuple[str, ...]:
    """The tokenizer's special tokens, and the added tokens its chat template writes
    around messages though the tokenizer does not mark them special (DeepSeek-R1's
    <｜User｜> and <｜Assistant｜>): a message holding one would forge a turn. Longest
    first (a token is never taken for a shorter one it starts with); read again when
    tokens were added or the template changed since."""
    return _read_specials(tokenizer)[1]


def message_defuser(tokenizer: Any) -> Defuse:
    """What a message's text goes through before the tokenizer's chat template renders
    it (special_text): its `special_tokens` and the plain-text role names the template
    opens turns with (`plain_role_names`) defused."""
    return defuser(_read_specials(tokenizer)[2])


def _read_specials(tokenizer: Any) -> tuple[tuple[int, str], tuple[str, ...], tuple[str, ...]]:
    template = str(getattr(tokenizer, "chat_template", None))
    key = (len(tokenizer), template)
    known = _SPECIALS.get(tokenizer)
    if known is not None and known[0] == key:
        return known
    names = set(declared_special_tokens(tokenizer)) | set(_template_markers(tokenizer))
    specials = tuple(sorted((n for n in names if n), key=len, reverse=True))
    roles = plain_role_names(template) if getattr(tokenizer, "chat_template", None) else ()
    defused_texts = tuple(sorted({*specials, *roles}, key=len, reverse=True))
    _SPECIALS[tokenizer] = (key, specials, defused_texts)
    return _SPECIALS[tokenizer]


def declared_special_tokens(tokenizer: Any) -> set[str]:
    """The tokens the tokenizer itself marks special (decoding drops them)."""
    names = set(getattr(tokenizer, "all_special_tokens", None) or [])
    added = getattr(tokenizer, "added_tokens_decoder", None) or {}
    names |= {str(t.content) for t in added.values() if getattr(t, "special", False)}
    return {n for n in names if n}


def _template_markers(tokenizer: Any) -> list[str]:
    """The added tokens not marked special that the chat template writes in the probe
    chat outside its messages: markup (not words nor whitespace), as role markers are."""
    added = getattr(tokenizer, "added_tokens_decoder", None) or {}
    plain = [str(t.content) for t in added.values() if not getattr(t, "special", False)]
    candidates = [t for t in plain if len(t.strip()) > 1 and _is_markup(t)]
    if not candidates or not getattr(tokenizer, "chat_template", None):
        return []
    try:
        chat = conform(TEMPLATE_PROBE, chat_rules(tokenizer))
        text = apply_template(tokenizer, chat, True)
    except Exception:
        return []  # a template that refuses the probe says so where a chat is rendered
    contents = " ".join(m["content"] for m in TEMPLATE_PROBE)
    return [t for t in candidates if t in text and t not in contents]


def _is_markup(token: str) -> bool:
    return any(not (c.isalnum() or c.isspace()) for c in token)


def reply_end(text: str, start: int, end: int, specials: Sequence[str]) -> tuple[int, bool]:
    """(where the reply text[start:end] ends with the token that stops it, whether the
    tokenizer's EOS must be added after `text` for that). A template's own end-of-turn
    token (ChatML's <|im_end|>) is kept where the reply already ends with it; GLM-4 writes
    none, its model stops by writing the next role marker (<|user|>), so that special
    token is taken, or, after the last reply, the EOS, as GLM-4's own fine-tuning labels."""
    if text[start:end].rstrip().endswith(tuple(specials)):
        return end, False
    rest = text[end:]
    gap = len(rest) - len(rest.lstrip())
    marker = next((s for s in specials if rest.startswith(s, gap)), None)
    if marker is not None:
        return end + gap + len(marker), False
    if not rest.strip():
        return len(text), True
    return end, False  # plain text follows: no token to stop on


@dataclass(frozen=True)
class ReplyStop:
    """The special token that ends a reply under a chat template."""

    token: str
    # Whether the template writes it after the chat's last reply too (ChatML's
    # <|im_end|>, which a server stops on by itself); GLM-4's next <|user|> is written only
    # where another turn follows.
    after_last_reply: bool


def reply_stop(tokenizer: Any) -> ReplyStop | None:
    """The special token that ends a reply under the tokenizer's chat template: its
    end-of-turn token, or the next role marker where it writes none (GLM-4's <|user|>).
    Training labels it (model.training.dataset), so generation must stop on it too."""
    return template_reply_stop(
        lambda chat: apply_template(tokenizer, conform(chat, chat_rules(tokenizer)), False),
        special_tokens(tokenizer),
    )


def template_reply_stop(
    render: Callable[[ChatMessages], str], specials: Sequence[str]
) -> ReplyStop | None:
    """`reply_stop` for a template known by its `render` (a chat in, the text the model
    reads out, reshaped to what the template takes) and its special tokens, longest
    first: the GGUF's template for llama.cpp, a tokenizer_config.json's for a server.
    One probe chat holds a reply with a turn after it (what stops it) and a last reply
    (whether the same token follows that one too)."""
    chat = [
        _user("hi"),
        {"role": "assistant", "content": _PROBE_REPLY},
        _user("there"),
        {"role": "assistant", "content": _PROBE_LAST_REPLY},
    ]
    try:
        text = render(chat)
    except Exception:
        return None
    start = text.find(_PROBE_REPLY)
    last = text.rfind(_PROBE_LAST_REPLY)
    if start < 0 or last < start:
        return None
    end = start + len(_PROBE_REPLY)
    stop = text[end : reply_end(text, start, end, specials)[0]].strip()
    if stop not in specials:
        return None
    after_last = text[last + len(_PROBE_LAST_REPLY) :].lstrip().startswith(stop)
    return ReplyStop(stop, after_last)


def apply_template(tokenizer: Any, messages: ChatMessages, add_generation_prompt: bool) -> str:
    text = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )
    return str(text)


def checked(render: Callable[[], str], template: str, model: str = "") -> str:
    """A render of a conformed chat under `template`; a template that still refuses it
    is one sentence, naming `[model] chat_template` where that is the template, else the
    base model (`model`: how config.toml names it, where known)."""
    try:
        return render()
    except Exception as exc:
        if template.strip() in _CONFIGURED:
            fix = "fix it so that it takes them, or leave it empty for the base model's own"
            whose = f"[model] chat_template in {_CONFIGURED[template.strip()]}"
        else:
            fix = "give one that takes them as [model] chat_template in config.toml"
            whose = (
                f'The chat template of [model] base = "{model}"'
                if model
                else "The base model's chat template"
            )
        raise ChatTemplateError(
            f"{whose} refuses a chat of system, user and assistant messages "
            f"({type(exc).__name__}: {exc}); {fix}."
        ) from None
