"""What the served base model renders a chat as, and where its replies stop.

The openai engine cannot see the chat template vLLM serves, so it reads the base's
tokenizer on this machine (offline) and learns two things from it: the token a reply
stops on where the template closes no turn (GLM-4's next <|user|>), and, once at start,
whether each replica renders a probe chat into the same tokens as training did.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from atri.config import Settings
from model.engines.chat_template import (
    TEMPLATE_PROBE,
    chat_rules,
    conform,
    render_chat,
    reply_stop,
    turn_opening_tokens,
)
from model.engines.loading import cached_hub_folder, is_hub_id
from model.engines.vllm_replica import Replica

log = logging.getLogger(__name__)

TEMPLATE_CHECK_TIMEOUT_SECONDS = 10.0


async def check_served_template(
    serving: list[Replica], base_name: str, settings: Settings, tokenizer: Any
) -> list[str]:
    """Once at start: whether each `serving` replica renders a chat as training did
    (with the base's own template, or `[model] chat_template` where set), told by vLLM's
    `POST /tokenize` with `messages` (asking for the base by `base_name`), which renders
    them with the template the server serves (its `--chat-template`, else the model's
    own) and returns the token ids. The replicas that render otherwise are named in one
    warning, and returned; a server without that route (not vLLM) goes unchecked, and
    serving goes on."""
    try:
        messages = conform(TEMPLATE_PROBE, chat_rules(tokenizer))
        text = render_chat(tokenizer, TEMPLATE_PROBE, True)
        expected = list(tokenizer.encode(text, add_special_tokens=False))
    except Exception:
        return []  # the base's own template refuses it: chats say so when they come
    body = {
        "model": base_name,
        "messages": messages,
        "add_generation_prompt": True,
        "add_special_tokens": False,
    }
    served = await asyncio.gather(*(served_tokens(r, body) for r in serving))
    differ = [r.url for r, ids in zip(serving, served, strict=True) if ids not in (None, expected)]
    if differ:
        if settings.model.chat_template.strip():
            trained, fix = (
                "[model] chat_template",
                "start vLLM with the same template (vllm serve ... --chat-template FILE)",
            )
        else:
            trained, fix = (
                f"the base model's own ({tokenizer.name_or_path})",
                "start vLLM without --chat-template, or set [model] chat_template to "
                "the template it serves and train again",
            )
        log.warning(
            "%s render%s chats with another chat template than %s, which training used, "
            "so the model reads prompts in a shape it was not trained on; %s",
            " and ".join(differ),
            "" if len(differ) > 1 else "s",
            trained,
            fix,
        )
    return differ


def base_tokenizer(settings: Settings, base_id: str) -> Any | None:
    """The served base's tokenizer, read offline from the first of: the base card's root
    (the path vLLM read) or `[model] base` as a local folder (a relative path hangs off
    the config file's folder, as every path in config.toml), then either one as a hub id
    in the local Hugging Face cache; with `[model] chat_template` in place of its own
    where set (training labelled under it, and vLLM serves it with `--chat-template`).
    None where there is none (said once in the log): nothing is ever downloaded."""
    names = list(dict.fromkeys(n for n in (base_id.strip(), settings.model.base.strip()) if n))
    folders = [settings.path(n) for n in names]
    folder = next((f for f in folders if (f / "tokenizer_config.json").is_file()), None)
    for name in names:
        if folder is None and is_hub_id(name):
            folder = cached_hub_folder(name, "tokenizer_config.json")
    if folder is None:
        log.warning(
            "openai engine: the base model's tokenizer is not on this machine (neither a "
            "local folder nor the Hugging Face cache holds %s), so replies stop only on the "
            "server's own end tokens, which misses the end of a reply under a template that "
            "closes no turn (GLM-4), and only the usual templates' turn markers (<|...|>, "
            "<start_of_turn>, </s>) are defused in messages; set [model] base to a local copy "
            "of the model to fix it",
            " or ".join(repr(n) for n in names) or "a base, as none is named",
        )
        return None
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(
            str(folder),
            local_files_only=True,
            trust_remote_code=settings.model.trust_remote_code,
        )
    except Exception as exc:
        log.warning(
            "openai engine: the tokenizer in %s could not be read (%s: %s); chats stop on "
            "the server's own end tokens",
            folder,
            type(exc).__name__,
            exc,
        )
        return None
    if settings.model.chat_template.strip():
        tokenizer.chat_template = settings.model.chat_template
    return tokenizer


def base_reply_stops(settings: Settings, tokenizer: Any) -> list[tuple[str, int]]:
    """(marker, token id) every chat stops on besides the server's own end tokens: the
    served base's `reply_stop_of` (said in the log) and the special tokens its template
    opens a person's turn with (`turn_opening_tokens`): vLLM's text drops special tokens,
    so a reply run on into a turn of the person's was kept whole."""
    stop = reply_stop_of(tokenizer)
    if stop is not None:
        log.info(
            "openai engine: the chat template of %s writes no end-of-turn token after a "
            "reply; chats stop on %s (token %d), as training labels",
            "[model] chat_template"
            if settings.model.chat_template.strip()
            else tokenizer.name_or_path,
            *stop,
        )
    stops = [stop] if stop is not None else []
    return stops + [t for t in turn_opening_tokens(tokenizer) if t not in stops]


def reply_stop_of(tokenizer: Any) -> tuple[str, int] | None:
    """(marker, token id) that ends a reply under the tokenizer's chat template, where
    that is not the end-of-turn token the template writes after every reply (ChatML's
    <|im_end|>, which the server stops on) nor the EOS: GLM-4's next <|user|>, which
    training labels (chat_template.reply_stop) and a server stops on only if the model's
    generation config lists it. None for a tokenizer without a template."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    stop = reply_stop(tokenizer)
    if stop is None or stop.after_last_reply or stop.token == tokenizer.eos_token:
        return None
    token_id = tokenizer.convert_tokens_to_ids(stop.token)
    if not isinstance(token_id, int) or token_id == tokenizer.unk_token_id:
        return None
    return stop.token, token_id


async def served_tokens(replica: Replica, body: dict[str, Any]) -> list[int] | None:
    """The token ids vLLM's `/tokenize` (beside `/v1`, at the server's root) gives for a
    chat `body`; None where the server has no such route or answers otherwise."""
    url = replica.url.rstrip("/").removesuffix("/v1") + "/tokenize"
    try:
        response = await replica.client.post(url, json=body, timeout=TEMPLATE_CHECK_TIMEOUT_SECONDS)
        answer = f"HTTP {response.status_code}"
        tokens = response.json().get("tokens") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        answer, tokens = type(exc).__name__, None
    if isinstance(tokens, list) and all(isinstance(t, int) for t in tokens):
        return tokens
    log.info(
        "openai engine: %s rendered no chat (%s), so whether it serves the chat template "
        "training used is not checked",
        url,
        answer,
    )
    return None
