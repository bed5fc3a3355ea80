"""The new user's path on the shipped config.toml, edited in nothing but paths:
`atri prep` (each format) → `atri train` → `atri eval` → a chat answered by the new version.

On the offline model, with a few training steps: it checks that the defaults hold
together (the training prompt and `context_turns` exchanges fit `max_seq_length`, the
version carries its prompt, the worker serves it), not how well she talks.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.config import load_settings
from model.protocol import ChatRequest
from tests.conftest import _model_cache_dir

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "dataprep" / "fixtures"
# Each script format `atri prep` detects by itself, with the files it needs.
FORMATS = {
    "plain_zh": ["plain_zh.txt"],
    "plain_en": ["plain_en.txt"],
    "plain_ja": ["plain_ja.txt"],
    "kirikiri": ["script.ks"],
    "renpy": ["script.rpy", "characters.rpy"],
    "voice_list": ["voice.list"],
}
TWO_PROBES = """
[[probe]]
category = "identity"
zh = "你是谁？"
en = "Who are you?"

[[probe]]
category = "daily"
zh = "今天做什么？"
en = "What shall we do today?"
"""


def shipped_config(tmp_path: Path) -> Path:
    """The repository's config.toml with only the offline model's cache folder moved."""
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    text = text.replace('cache_dir = "~/.cache/atri"', f'cache_dir = "{_model_cache_dir()}"', 1)
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_prep_train_eval_chat_on_the_shipped_config(tmp_path: Path) -> None:
    from model.engines.loading import load_base_model
    from model.training.dataset import tokenize_dataset
    from model.training.sharegpt import load_sharegpt

    config = shipped_config(tmp_path)
    runner = CliRunner()
    settings = load_settings(config)
    tokenizer = load_base_model(settings).tokenizer
    max_len = settings.train.max_seq_length
    for name, files in FORMATS.items():
        scripts = tmp_path / "scripts" / name
        scripts.mkdir(parents=True)
        for file in files:
            shutil.copy(FIXTURES / file, scripts / file)
        out = tmp_path / "prepped" / name
        result = runner.invoke(app, ["--config", str(config), "prep", str(scripts), "-o", str(out)])
        assert result.exit_code == 0, (name, result.output)
        conversations = load_sharegpt(out / "atri_sharegpt.json")
        # The short training prompt, not the card: every sample fits whole.
        assert {c.system for c in conversations} == {
            # The offline default model speaks English, so her card and prompt do too.
            "You are ATRI. Talk with {{user}} as ATRI, in ATRI's own voice, and never step "
            "out of the role."
        }
        fitted = tokenize_dataset(tokenizer, conversations, max_len)
        assert fitted.skipped == 0 and fitted.truncated == 0, name
        assert max(fitted.lengths) < max_len // 2, (name, max(fitted.lengths))

    # Train on the English script (the offline model is English-only) where the shipped
    # config looks for the dataset.
    shutil.copytree(tmp_path / "prepped" / "plain_en", tmp_path / "data" / "dataset")
    # Flags, not config edits: two small steps keep this fast on a 2-core CI machine.
    fast = ["--max-steps", "2", "--batch-size", "2", "--grad-accum", "1"]
    result = runner.invoke(app, ["--config", str(config), "train", *fast])
    assert result.exit_code == 0, result.output
    versions = sorted(p for p in (tmp_path / "adapters").iterdir() if not p.name.startswith("."))
    assert len(versions) == 1
    version = versions[0]
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["system_prompt"].startswith("You are ATRI. ")
    assert manifest["chat_template"] == tokenizer.chat_template

    probes = tmp_path / "probes.toml"
    probes.write_text(TWO_PROBES, encoding="utf-8")
    result = runner.invoke(app, ["--config", str(config), "eval", "--probes", str(probes)])
    assert result.exit_code == 0, result.output
    assert (version / "eval.json").is_file()

    asyncio.run(chat_with_the_new_version(config, version.name, manifest["system_prompt"]))


async def chat_with_the_new_version(config: Path, version: str, prompt: str) -> None:
    from model.service import ChatService

    settings = load_settings(config)
    settings.reload.enabled = False  # the test switches by itself, deterministically
    settings.generation.max_new_tokens = 8
    # A two-step adapter is not in character yet: neither regenerate its replies nor let
    # its eval.json's OOC rate keep it from going live.
    settings.worker.ooc_max_retries = 0
    settings.reload.max_ooc_rate_increase = 1.0
    async with await ChatService.open(settings) as service:
        result = await service.reload()
        assert result.ok, result.message
        assert service.system_prompt == prompt
        reply = await service.chat(ChatRequest(platform="test", user_id="1", text="Hi ATRI!"))
        assert reply.status == "ok" and reply.adapter_version == version
        assert reply.text


pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")
