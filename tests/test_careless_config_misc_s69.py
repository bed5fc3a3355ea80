"""Careless config values outside atri/config.py, each said in one sentence naming the
key (and the file) to fix: a `[model] context_window` past the local model's positions,
a forced UTF-16 `[dataprep] encoding` on UTF-8 scripts, a missing `[persona] card` or
`[train] eval_dataset`, and a broken `[model] chat_template` in a config not named
config.toml."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from atri.config import ConfigError, DataprepSettings, Settings
from dataprep.encoding import decode_report
from dataprep.pipeline import run_pipeline
from model.character.persona import PersonaError, configured_persona, load_persona
from model.character.prompt import PromptTooLong, Window, check_room
from model.engines import create_engine
from model.engines.chat_template import ChatTemplateError, check_configured_template, render_chat
from model.engines.local import context_window_of
from model.training.data_files import resolve_data_files
from model.training.errors import TrainError
from tests.atri.memory_cli import atri
from tests.tiny_model import TRAINING_TEXT, build_tokenizer

# The tiny model's config.json: `tests.tiny_model.tiny_shape`.
TINY_POSITIONS = 4096
JA = "夏生「おはよう」\nアトリ「おはようございます！　高性能ですから！」\n"


# [model] context_window on the local engine.


async def test_a_context_window_past_the_models_positions_is_refused(
    tiny_settings: Settings,
) -> None:
    """1000000 on a 4,096-position model let prompts and replies run past its position
    embeddings; llamacpp refused the same, and now the local engine does too."""
    tiny_settings.model.context_window = 1_000_000
    with pytest.raises(ConfigError) as refused:
        await create_engine(tiny_settings)
    message = str(refused.value)
    assert message == (
        f'[model] context_window = 1000000 is longer than "{tiny_settings.model.base}" was '
        f"built for ({TINY_POSITIONS} positions, max_position_embeddings in its config); "
        f"set at most {TINY_POSITIONS}, or 0 for that."
    )


async def test_the_window_is_refused_before_the_weights_load(
    tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 7B model loaded for minutes before the refusal: the folder's config.json is read
    first."""
    from model.engines import loading

    def no_loading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the weights were loaded")

    monkeypatch.setattr(loading, "load_pretrained", no_loading)
    tiny_settings.model.context_window = 1_000_000
    with pytest.raises(ConfigError, match="is longer than"):
        await create_engine(tiny_settings)


@pytest.mark.parametrize(
    ("configured", "window"), [(0, TINY_POSITIONS), (1024, 1024), (TINY_POSITIONS, TINY_POSITIONS)]
)
async def test_a_context_window_within_the_models_positions_is_taken(
    tiny_settings: Settings, configured: int, window: int
) -> None:
    tiny_settings.model.context_window = configured
    engine = await create_engine(tiny_settings)
    try:
        assert engine.context_window == window
    finally:
        await engine.close()


def test_a_model_that_does_not_say_its_positions_takes_any_window(settings: Settings) -> None:
    """As before: nothing to compare with."""
    no_positions = SimpleNamespace(config=SimpleNamespace())
    settings.model.context_window = 1_000_000
    assert context_window_of(settings, no_positions) == 1_000_000
    settings.model.context_window = 0
    assert context_window_of(settings, no_positions) == 2048


def test_the_hint_to_raise_the_window_is_only_where_the_model_takes_more() -> None:
    """ "raise [model] context_window" read as raising it past the model's positions."""
    with pytest.raises(PromptTooLong) as too_long:
        check_room("word " * 200, lambda text: len(text.split()), Window(100, 20))
    said = too_long.value.of_the_character()
    assert said.endswith("or raise [model] context_window where the model takes more.")


# [dataprep] encoding forced to UTF-16 or UTF-32.


@pytest.mark.parametrize("forced", ["utf-16", "utf-16-le", "UTF_16BE", "utf-32"])
@pytest.mark.parametrize("text", [JA, "Natsuki: Good morning.\nATRI: Good morning!\n"])
def test_utf8_bytes_are_read_as_utf8_despite_a_forced_utf16(forced: str, text: str) -> None:
    decoded = decode_report(text.encode(), "a.txt", forced)
    assert (decoded.text, decoded.encoding, decoded.instead_of) == (text, "utf-8", forced)


@pytest.mark.parametrize("forced", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_text_in_the_forced_utf16_is_still_read_in_it(forced: str) -> None:
    """UTF-16 or UTF-32 text has a NUL in its newlines: never taken for UTF-8."""
    decoded = decode_report(JA.encode(forced), "a.txt", forced)
    assert (decoded.text, decoded.instead_of) == (JA, None)


def test_a_folder_of_utf8_scripts_under_a_forced_utf16_says_so(tmp_path: Path) -> None:
    """Before: garbage, said as "no dialogue found as plain" without a word of the
    encoding, while cp1252 or big5 got "Read as utf-8, not as [dataprep] encoding"."""
    (tmp_path / "fan.txt").write_bytes(JA.encode("utf-8"))
    settings = DataprepSettings(
        lead_aliases=["夏生"], character_aliases=["アトリ"], encoding="utf-16", eval_ratio=0
    )
    result = run_pipeline(settings, [tmp_path])
    assert [s.turns[-1][1] for s in result.train] == ["おはようございます！\u3000高性能ですから！"]
    assert [n for n in result.notes if n.startswith("Read as")] == [
        'Read as utf-8, not as [dataprep] encoding "utf-16": fan.txt; they carry a byte-order'
        " mark or are valid UTF-8, which utf-16 would have garbled."
    ]


# Missing files and a broken template name the key and the file they were set in.


def test_a_missing_persona_card_names_the_key(settings: Settings) -> None:
    settings.persona.card = "nosuch.png"
    with pytest.raises(PersonaError) as refused:
        configured_persona(settings)
    assert str(refused.value) == (
        f"{settings.root / 'nosuch.png'}: character card cannot be read (No such file or "
        "directory); fix [persona] card."
    )


def test_the_packaged_card_names_no_key() -> None:
    assert load_persona().name


def test_a_missing_eval_dataset_names_the_key(settings: Settings) -> None:
    dataset = settings.root / "atri_sharegpt.json"
    dataset.write_text(json.dumps([]), encoding="utf-8")
    settings.train.dataset = str(dataset)
    settings.train.eval_dataset = "nosuch.json"
    with pytest.raises(TrainError) as refused:
        resolve_data_files(settings)
    assert str(refused.value) == (
        f"{settings.root / 'nosuch.json'}: eval dataset file not found; fix [train] "
        "eval_dataset (or --eval-dataset)."
    )
    (settings.root / "nosuch.json").mkdir()
    with pytest.raises(TrainError, match=r"\(\[train\] eval_dataset or --eval-dataset\)\.$"):
        resolve_data_files(settings)


@pytest.mark.parametrize(("engine", "command"), [("local", "chat"), ("openai", "serve")])
def test_a_broken_chat_template_names_the_config_file_it_is_in(
    tmp_path: Path, engine: str, command: str
) -> None:
    config = tmp_path / "t.toml"
    config.write_text(
        f'[model]\nengine = "{engine}"\nbase = "no-such-model-folder"\n'
        'openai_base_url = "http://127.0.0.1:9/v1"\nchat_template = "{{ messages"\n',
        encoding="utf-8",
    )
    code, out = atri(config, command)
    flat = " ".join(out.split())
    assert code == 2, out
    assert "error: [model] chat_template in t.toml is not a Jinja template" in flat


def test_a_chat_the_configured_template_refuses_names_its_config_file(tmp_path: Path) -> None:
    configured = "{# in t.toml #}{{ raise_exception('Only user messages, please') }}"
    check_configured_template(configured, str(tmp_path / "t.toml"))
    tokenizer = build_tokenizer(TRAINING_TEXT, 512, configured)
    with pytest.raises(ChatTemplateError, match=r"^\[model\] chat_template in t\.toml refuses"):
        render_chat(tokenizer, [{"role": "user", "content": "hi"}], True)
