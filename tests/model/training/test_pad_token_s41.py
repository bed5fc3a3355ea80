"""Session 41: a base model whose tokenizer has neither a pad nor an end-of-text token.
Training padded its batches with None (a TypeError deep in the data loader); now it
pads with another special token of the tokenizer, and a tokenizer with none at all is
one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from model.engines.chat_template import special_tokens
from model.engines.loading import NoPadTokenError, prepare_tokenizer
from tests.model.training.test_train_eval import write_config
from tests.tiny_model import CHATML_TEMPLATE, TRAINING_TEXT, build_tiny_model, build_tokenizer


@pytest.fixture(scope="module")
def no_pad_no_eos_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama, its tokenizer without pad and EOS: <|endoftext|> and ChatML's
    <|im_start|> and <|im_end|> stay special tokens of its vocabulary, named by no role."""
    tokenizer = build_tokenizer(TRAINING_TEXT, 512, CHATML_TEMPLATE)
    tokenizer.eos_token = None
    tokenizer.pad_token = None
    return build_tiny_model(tmp_path_factory.mktemp("no-pad-no-eos"), tokenizer=tokenizer)


def test_training_pads_with_another_special_token(tmp_path: Path, no_pad_no_eos_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(no_pad_no_eos_dir)
    assert tokenizer.pad_token is None and tokenizer.eos_token is None
    prepare_tokenizer(tokenizer)
    assert tokenizer.pad_token in special_tokens(tokenizer)
    assert tokenizer.decode([tokenizer.pad_token_id] * 3 + [5], skip_special_tokens=True) == (
        tokenizer.decode([5])
    )

    # Batches of 2 samples of different lengths, and a held-out loss: both padded.
    config = write_config(
        tmp_path, no_pad_no_eos_dir, max_steps=2, batch_size=2, eval_steps=1, packing=False
    )
    result = CliRunner(env={"COLUMNS": "400"}).invoke(app, ["--config", str(config), "train"])
    assert result.exit_code == 0, result.output
    assert "held-out loss" in result.output


def test_a_tokenizer_without_any_special_token_is_one_sentence() -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.train_from_iterator(TRAINING_TEXT, trainers.BpeTrainer(vocab_size=300))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw)
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    )

    with pytest.raises(NoPadTokenError) as caught:
        prepare_tokenizer(tokenizer, base="some/model")
    assert str(caught.value) == (
        '[model] base = "some/model" has a tokenizer without any special token (no padding, '
        "end-of-text or turn marker token) to pad a batch with; choose a chat (instruct) "
        "model for [model] base."
    )
