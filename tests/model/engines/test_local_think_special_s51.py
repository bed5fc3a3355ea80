"""Session 51: a tokenizer may mark `<think>`/`</think>` as special tokens. The local
engine decoded replies skipping special tokens, so the `</think>` that ends a reply's
reasoning vanished before without_reasoning looked for it: after a prompt that opens
`<think>`, every reply came out empty. The markers now survive decoding, the template's
other special tokens do not; the smoke test strips reasoning as served replies do."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from atri.config import Settings
from model.engines.local import LocalEngine, reply_decoder
from tests.model.chat_templates import RealTemplate, template_tokenizer
from tests.model.engines.test_open_think_s50 import CHAT, OPEN_THINK, REASONING, REPLY
from tests.tiny_model import CHATML_TEMPLATE, build_tiny_model

THINK_SPECIAL = RealTemplate(OPEN_THINK, extra=("<|im_start|>", "<think>", "</think>"))


def test_the_tiny_tokenizer_marks_think_special_and_skipping_drops_it() -> None:
    tokenizer = template_tokenizer(THINK_SPECIAL)
    ids = tokenizer.encode(f"{REASONING}</think>{REPLY}", add_special_tokens=False)
    assert tokenizer.convert_tokens_to_ids("</think>") in tokenizer.all_special_ids
    assert "</think>" not in tokenizer.decode(ids, skip_special_tokens=True)  # the old way


def test_the_reply_decoder_keeps_the_markers_and_drops_other_special_tokens() -> None:
    tokenizer = template_tokenizer(THINK_SPECIAL)
    written = f"<think>{REASONING}</think>{REPLY}<|im_end|><|im_start|>"
    ids = tokenizer.encode(written, add_special_tokens=False)
    assert reply_decoder(tokenizer)(ids) == f"<think>{REASONING}</think>{REPLY}"


def test_a_tokenizer_without_special_markers_decodes_as_before() -> None:
    tokenizer = template_tokenizer(RealTemplate(CHATML_TEMPLATE))
    ids = tokenizer.encode(f"{REASONING}</think>{REPLY}<|im_end|>", add_special_tokens=False)
    expected = tokenizer.decode(ids, skip_special_tokens=True)
    assert reply_decoder(tokenizer)(ids) == expected


async def think_special_engine(tmp_path: Path, settings: Settings, written: str) -> LocalEngine:
    """The tiny model under THINK_SPECIAL, made to write `written` (its tokens as the
    tokenizer encodes them, `</think>` one special token)."""
    import torch

    tokenizer = template_tokenizer(THINK_SPECIAL)
    settings.model.base = str(build_tiny_model(tmp_path / "model", tokenizer=tokenizer))
    settings.model.prefix_cache = False
    settings.generation.max_new_tokens = 200
    settings.generation.do_sample = False
    engine = await LocalEngine.load(settings)
    script = engine.tokenizer.encode(written, add_special_tokens=False)
    marker = engine.tokenizer.convert_tokens_to_ids("</think>")
    assert (marker in script) == ("</think>" in written)

    def scripted(**kwargs: Any) -> Any:
        ids = kwargs["input_ids"]
        out = torch.cat([ids, torch.tensor([script] * ids.shape[0], dtype=ids.dtype)], dim=1)
        if not kwargs.get("return_dict_in_generate"):
            return out
        scores = [torch.zeros(ids.shape[0], len(engine.tokenizer)) for _ in script]
        return SimpleNamespace(sequences=out, scores=scores)

    engine.model.generate = scripted
    return engine


async def test_a_reply_after_a_special_think_marker_is_kept(
    tmp_path: Path, settings: Settings
) -> None:
    engine = await think_special_engine(tmp_path, settings, f"{REASONING}</think>\n\n{REPLY}")
    try:
        (got,) = await engine.generate([CHAT], settings.generation)
    finally:
        await engine.close()
    assert got.text.strip() == REPLY


@pytest.mark.parametrize(
    ("written", "smoke"),
    [(f"{REASONING}</think>\n\n{REPLY}", REPLY), (REASONING, "")],
    ids=["reply after reasoning", "all reasoning"],
)
async def test_the_smoke_reply_is_the_reply_without_its_reasoning(
    tmp_path: Path, settings: Settings, written: str, smoke: str
) -> None:
    engine = await think_special_engine(tmp_path, settings, written + "<|im_end|>")
    try:
        text = await engine.smoke_test("", CHAT, 200)
    finally:
        await engine.close()
    assert text.strip() == smoke
