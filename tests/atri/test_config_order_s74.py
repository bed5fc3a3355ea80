"""Session 74: config checks that came too late or said it badly. A `[model]
context_window` past the local model's positions was refused only after the memory
database was made; `[eval] max_new_tokens`, `[reload] smoke_max_new_tokens` and `atri
eval --max-new-tokens` were not held to the window as `[generation] max_new_tokens` is; a
config that is a broken link was "not found"; a quote left open got the parser's words;
an unknown key's value (a slip of a secret's name) was printed back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from atri.config import OFFLINE_DEFAULT_POSITIONS, ConfigError, load_settings
from model.character.prompt import PROMPT_LEAST_TOKENS
from model.engines.gguf_header import gguf_header
from model.engines.offline_gguf import OFFLINE_GGUF, offline_gguf_dir
from tests.atri.test_config_slips_s73 import atri_in, refused

ROOT = Path(__file__).resolve().parents[2]
SECRET = "abc123-very-secret"


def _refused(folder: Path, toml: str, *command: str) -> str:
    """The one sentence `atri --config config.toml COMMAND…` stops with on `toml` (exit
    code 2, no traceback, nothing written: `refused`), without its "error: "."""
    return refused(folder, toml, *command, of_the_file=False).removeprefix("error: ")


# 1. A window past the local model's positions, before memory opens.


@pytest.mark.parametrize("command", ["chat", "serve", "worker"])
def test_a_window_past_the_offline_models_is_refused_before_anything_is_written(
    tmp_path: Path, command: str
) -> None:
    said = _refused(tmp_path, "[model]\ncontext_window = 100000\n[worker]\nport = 0\n", command)
    assert said == (
        f"{tmp_path / 'config.toml'}: [model] context_window = 100000 is longer than "
        f'"builtin:smollm2-135m" was built for ({OFFLINE_DEFAULT_POSITIONS} positions, '
        f"max_position_embeddings in its config); set at most {OFFLINE_DEFAULT_POSITIONS}, "
        "or 0 for that."
    )


def test_a_window_past_a_model_folders_positions_is_refused_as_the_config_loads(
    tmp_path: Path,
) -> None:
    (tmp_path / "mymodel").mkdir()
    (tmp_path / "mymodel" / "config.json").write_text(
        json.dumps({"max_position_embeddings": 4096}), encoding="utf-8"
    )
    said = _refused(tmp_path, '[model]\nbase = "mymodel"\ncontext_window = 5000\n', "chat")
    assert said.endswith(
        'context_window = 5000 is longer than "mymodel" was built for (4096 '
        "positions, max_position_embeddings in its config); set at most 4096, "
        "or 0 for that."
    )


def test_a_window_the_model_holds_or_another_engine_runs_is_taken(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    for toml in (
        f"[model]\ncontext_window = {OFFLINE_DEFAULT_POSITIONS}\n",
        # vLLM's window is its own: the offline default's positions say nothing of it.
        '[model]\nengine = "openai"\ncontext_window = 100000\n',
        # A hub id's positions are read once it downloads.
        '[model]\nbase = "Org/Model"\ncontext_window = 100000\n',
    ):
        path.write_text(toml, encoding="utf-8")
        assert load_settings(path).model.context_window in (OFFLINE_DEFAULT_POSITIONS, 100_000)


def test_the_offline_defaults_positions_are_its_files() -> None:
    """The number the config knows without the model's files is the packaged model's."""
    with gguf_header(offline_gguf_dir() / OFFLINE_GGUF) as header:
        assert header.values["llama.context_length"] == OFFLINE_DEFAULT_POSITIONS


# 2. Every reply length held to the window the config sets.


@pytest.mark.parametrize(
    ("section", "key"),
    [("eval", "max_new_tokens"), ("reload", "smoke_max_new_tokens")],
)
def test_each_reply_length_that_fills_the_window_is_refused(
    tmp_path: Path, section: str, key: str
) -> None:
    too_long = 256 - PROMPT_LEAST_TOKENS + 1
    toml = f"[model]\ncontext_window = 256\n[{section}]\n{key} = {too_long}\n"
    said = _refused(tmp_path, toml, "chat")
    assert said == (
        f"{tmp_path / 'config.toml'}: [{section}] {key} = {too_long} leaves no room for a "
        "prompt in [model] context_window = 256, as the prompt and the reply share the "
        f"window and a prompt takes at least {PROMPT_LEAST_TOKENS} tokens: lower {key}, "
        "like 64, or raise context_window where the model takes more"
    )
    path = tmp_path / "config.toml"
    path.write_text(toml.replace(str(too_long), str(too_long - 1)), encoding="utf-8")
    assert getattr(getattr(load_settings(path), section), key) == too_long - 1


@pytest.mark.parametrize("recall", [[], ["--recall"]])
def test_the_max_new_tokens_flag_that_fills_the_window_is_refused(
    tmp_path: Path, recall: list[str]
) -> None:
    said = _refused(
        tmp_path, "[model]\ncontext_window = 256\n", "eval", "--max-new-tokens", "5000", *recall
    )
    assert said == (
        "--max-new-tokens 5000 leaves no room for a prompt in [model] context_window = 256, "
        "as the prompt and the reply share the window and a prompt takes at least "
        f"{PROMPT_LEAST_TOKENS} tokens: lower --max-new-tokens, like 64, or raise "
        "context_window where the model takes more."
    )


# 3. A config that is a broken link.


def test_a_config_given_as_a_broken_link_names_its_target(tmp_path: Path) -> None:
    link = tmp_path / "config.toml"
    link.symlink_to(tmp_path / "moved" / "atri.toml")
    run = atri_in(tmp_path, "--config", str(link), "memory", "list")
    assert run.returncode != 0
    said = (run.stdout + run.stderr).strip()
    assert said == (
        f"error: {link}: is a link to {tmp_path / 'moved' / 'atri.toml'}, which does not "
        "exist (given by --config); point the link at the config file, or give the config "
        "file itself."
    )


def test_a_broken_link_in_the_folder_is_said_not_passed_over(tmp_path: Path) -> None:
    """Before, ./config.toml as a broken link was no config: the defaults were read."""
    (tmp_path / "config.toml").symlink_to("gone.toml")
    run = atri_in(tmp_path, "memory", "list")
    assert run.returncode != 0
    assert (run.stdout + run.stderr).strip() == (
        f"error: {tmp_path / 'config.toml'}: is a link to {tmp_path / 'gone.toml'}, which "
        "does not exist (in this folder); point the link at the config file, or give the "
        "config file itself."
    )
    assert not (tmp_path / "data").exists()


# 4. A quote left open.


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        (
            '[persona]\nuser_name = "小明\n[memory]\nscope = "user"\n',
            'line 2 is not valid TOML: the text of `user_name` has no closing "; end it with '
            '" on the same line (text over several lines goes between """ and """).',
        ),
        (  # the parser named no line at all here
            "[persona]\nuser_name = '小明\n",
            "line 2 is not valid TOML: the text of `user_name` has no closing '; end it with "
            "' on the same line (text over several lines goes between ''' and ''').",
        ),
        (
            '# a "quoted" comment\n[persona]\ntraining_prompt = """你是{{char}}\n',
            'line 3 is not valid TOML: the text of `training_prompt` opened with """ is never '
            'closed; end it with """ where the text ends.',
        ),
    ],
)
def test_a_quote_left_open_is_said_in_plain_words(tmp_path: Path, toml: str, said: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_settings(path)
    assert str(refused.value) == f"{path}: {said}"


# 5. No value of an unknown key, or of one named like a secret, in an error.


def test_an_unknown_keys_value_is_never_shown(tmp_path: Path) -> None:
    said = _refused(tmp_path, f'[discord]\ntokne = "{SECRET}"\n', "chat")
    assert SECRET not in said
    assert said.startswith(f"{tmp_path / 'config.toml'}: [discord] tokne: is not a known key")


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        (
            f"[worker]\nopenai_api_requires_token = {json.dumps(SECRET)}\n",
            "[worker] openai_api_requires_token: must be true or false",
        ),
        (f"[discord]\ndb_pass = {json.dumps(SECRET)}\n", "[discord] db_pass: is not a known key"),
        (  # unreadable TOML: the hint shows no mended line
            f"[discord]\ntokne = {SECRET}\n",
            "line 2 (`tokne`): put text in double quotes (the value is not shown here)).",
        ),
    ],
)
def test_a_secret_looking_keys_value_is_never_shown(tmp_path: Path, toml: str, said: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_settings(path)
    assert SECRET not in str(refused.value)
    assert said in str(refused.value)


def test_a_known_keys_value_is_still_shown(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[memory]\nmax_history_tokens = -5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"max_history_tokens = -5: must be a positive"):
        load_settings(path)
