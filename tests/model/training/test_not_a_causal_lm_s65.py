"""A base that is no causal language model (a T5 folder given a chat template): `atri
train` ended in transformers' "Unrecognized configuration class" traceback, 60 lines
listing every causal architecture."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration
from typer.testing import CliRunner

from atri.cli import app
from tests.cli_output import says
from tests.model.training.test_train_eval import write_config

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def test_a_t5_base_is_one_sentence(tmp_path: Path, tiny_model_dir: Path) -> None:
    base = tmp_path / "t5"
    T5ForConditionalGeneration(
        T5Config(vocab_size=512, d_model=16, d_ff=32, num_layers=1, num_heads=2, d_kv=8)
    ).save_pretrained(base)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = CHAT_TEMPLATE  # past the template check, to the model's load
    tokenizer.save_pretrained(base)
    config = write_config(tmp_path, base, max_steps=1)
    result = CliRunner().invoke(app, ["--config", str(config), "train"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert says(result.output, f'[model] base = "{base}" is a model of type "t5", which is not')
