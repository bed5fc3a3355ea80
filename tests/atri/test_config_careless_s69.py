"""Session 69: config.toml values a careless editor writes. A secret under a plural name
or its variable's own name is never printed back; seeds, typing renewals and retries are
bounded; a path naming an environment variable, with outer blanks, or a file's path
ending in a slash is refused; near-miss placeholders and scene markers that match every
line are refused; a blank ATRI_CONFIG and a renamed key are named as written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.config import MAX_SEED, ConfigError, Settings, load_settings
from tests.atri.test_config_toml_hints_s51 import _error
from tests.cli_output import says

SECRET = "sk-SECRET1"
EVERY_VARIABLE = (
    "ATRI_ADMIN_TOKEN, ATRI_API_KEYS, ATRI_DISCORD_TOKEN, ATRI_ONEBOT_ACCESS_TOKEN, "
    "ATRI_OPENAI_API_KEY; the value is not shown here"
)


def load(tmp_path: Path, toml: str) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    return load_settings(path)


@pytest.mark.parametrize(
    ("toml", "variable"),
    [
        (f'[worker]\napi_keys = ["{SECRET}"]\n', "ATRI_API_KEYS"),
        (f'ATRI_API_KEYS = "{SECRET}"\n', "ATRI_API_KEYS"),
        (f'[worker]\natri_admin_token = "{SECRET}"\n', "ATRI_ADMIN_TOKEN"),
        (f'[worker]\nadmin_tokens = "{SECRET}"\n', "ATRI_ADMIN_TOKEN"),
        (f'[worker]\napi_key = "{SECRET}"\n', "ATRI_API_KEYS"),
        (f'[discord]\ntokens = ["{SECRET}"]\n', "ATRI_DISCORD_TOKEN"),
        (f'discord_tokens = "{SECRET}"\n', "ATRI_DISCORD_TOKEN"),
        (f'[qq]\npasswords = "{SECRET}"\n', "ATRI_ONEBOT_ACCESS_TOKEN"),
        (f'[model]\nopenai_api_keys = "{SECRET}"\n', "ATRI_OPENAI_API_KEY"),
        # On a line TOML cannot read, where the hint showed the line mended.
        (f"ATRI_API_KEYS = {SECRET},sk-2\n", "ATRI_API_KEYS"),
        (f"[worker]\napi_keys = {SECRET}\n", "ATRI_API_KEYS"),
        (f"worker.api_keys = {SECRET}\n", "ATRI_API_KEYS"),
        (f'[worker]\napi_keys = [\n  "sk-2",\n  {SECRET}==,\n]\n', "ATRI_API_KEYS"),
    ],
)
def test_a_secret_under_a_plural_or_its_variable_s_name_points_to_the_variable(
    tmp_path: Path, toml: str, variable: str
) -> None:
    said = _error(tmp_path, toml)
    assert "SECRET1" not in said
    assert f"set the environment variable {variable} instead (the value is not shown here)" in said


@pytest.mark.parametrize("key", ["secrets", "access_tokens", "passwords", "tokens"])
def test_a_secret_no_one_variable_holds_names_them_all_without_the_value(
    tmp_path: Path, key: str
) -> None:
    said = _error(tmp_path, f'{key} = "{SECRET}"\n')
    assert "SECRET1" not in said
    assert said.endswith(f"({EVERY_VARIABLE})")


def test_persona_show_prints_no_secret_from_the_file(tmp_path: Path) -> None:
    config = tmp_path / "t.toml"
    config.write_text(f'[worker]\napi_keys = ["{SECRET}"]\n', encoding="utf-8")
    result = CliRunner(env={"ATRI_CONFIG": None}).invoke(
        app, ["--config", str(config), "persona", "show"]
    )
    assert result.exit_code != 0
    assert "SECRET1" not in result.output
    assert says(result.output, "set the environment variable ATRI_API_KEYS instead")


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        ("[model]\nmax_tokens = 5\n", "did you mean `max_new_tokens`"),
        ("[model]\nmax_new_tokens = 5\n", "`max_new_tokens` belongs in [generation] or [eval]"),
        (
            "[model]\nopenai_api_requires_token = True\n",
            "true and false are lower case in TOML, like openai_api_requires_token = true",
        ),
    ],
)
def test_a_count_of_tokens_or_a_known_key_is_no_secret(
    tmp_path: Path, toml: str, said: str
) -> None:
    assert said in _error(tmp_path, toml)


@pytest.mark.parametrize("section", ["train", "dataprep"])
@pytest.mark.parametrize(("seed", "bound"), [(-1, "at least 0"), (2**32, "at most 4294967295")])
def test_a_seed_numpy_cannot_take_is_refused(
    tmp_path: Path, section: str, seed: int, bound: str
) -> None:
    with pytest.raises(ValueError):  # what `[train] seed = -1` crashed in
        np.random.seed(seed)
    assert _error(tmp_path, f"[{section}]\nseed = {seed}\n") == (
        f"{tmp_path / 'config.toml'}: [{section}] seed = {seed}: must be {bound}"
    )


def test_the_seeds_at_the_bounds_are_taken(tmp_path: Path) -> None:
    np.random.seed(MAX_SEED)
    settings = load(tmp_path, f"[train]\nseed = {MAX_SEED}\n[dataprep]\nseed = 0\n")
    assert (settings.train.seed, settings.dataprep.seed) == (MAX_SEED, 0)


@pytest.mark.parametrize(
    ("value", "variable"),
    [("$HOME/x", "$HOME"), ("${HOME}/x", "${HOME}"), ("%USERPROFILE%\\\\x", "%USERPROFILE%")],
)
def test_a_path_naming_an_environment_variable_is_refused(
    tmp_path: Path, value: str, variable: str
) -> None:
    said = _error(tmp_path, f'[model]\ncache_dir = "{value}"\n')
    assert f"names the environment variable {variable}, which is not expanded here" in said
    assert "or ~ for your home folder" in said


@pytest.mark.parametrize("value", ["data/atri.sqlite3 ", " data/atri.sqlite3"])
def test_a_path_with_outer_blanks_is_refused(tmp_path: Path, value: str) -> None:
    said = _error(tmp_path, f'[memory]\npath = "{value}"\n')
    assert said.endswith("starts or ends with a blank, which would name another file; remove it")


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("memory", "path"),
        ("discord", "commands_state"),
        ("persona", "card"),
        ("eval", "probes"),
        ("train", "eval_dataset"),
        ("dataprep", "background"),
        ("model", "gguf"),
    ],
)
def test_a_file_s_path_ending_in_a_slash_is_refused(tmp_path: Path, section: str, key: str) -> None:
    said = _error(tmp_path, f'[{section}]\n{key} = "data/"\n')
    assert said.endswith(
        f'[{section}] {key} = "data/": ends in a slash, so it names a folder: '
        "give the file's name too"
    )


def test_a_folder_s_path_may_end_in_a_slash_and_tilde_still_expands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    settings = load(tmp_path, '[model]\ncache_dir = "~/cache/"\nadapters_dir = "versions/"\n')
    assert settings.path(settings.model.cache_dir) == tmp_path / "home" / "cache"
    assert settings.path(settings.model.adapters_dir) == tmp_path / "versions"


def test_an_empty_cache_folder_is_refused(tmp_path: Path) -> None:
    assert _error(tmp_path, '[model]\ncache_dir = ""\n').endswith(
        '[model] cache_dir = "": must name a folder, not be empty (the config\'s own folder): '
        "delete the line for the default, ~/.cache/atri"
    )


@pytest.mark.parametrize(
    ("prompt", "slip"),
    [
        ("你是{char}。", "{char}"),
        ("和{user}聊天", "{user}"),
        ("你是{{Char}}。", "{{Char}}"),
        ("和{{ user }}聊天", "{{ user }}"),
    ],
)
def test_a_near_miss_placeholder_in_the_training_prompt_is_refused(
    tmp_path: Path, prompt: str, slip: str
) -> None:
    said = _error(tmp_path, f'[persona]\ntraining_prompt = "你是{{{{char}}}}。{prompt}"\n')
    assert said.endswith(
        f"holds {slip}, which would stay as written: the placeholders are {{{{char}}}} and "
        "{{user}}, in double braces, lower case, without blanks"
    )


def test_the_placeholders_as_written_are_taken(tmp_path: Path) -> None:
    settings = load(tmp_path, '[persona]\ntraining_prompt = "扮演{{char}}，和{{user}}聊天。"\n')
    assert settings.persona.training_prompt == "扮演{{char}}，和{{user}}聊天。"
    assert "holds {{ char}}" in _error(tmp_path, '[reload]\nsmoke_prompt = "hi {{ char}}"\n')


@pytest.mark.parametrize("marker", [".*", "$", "(?:第一章)?"])
def test_a_scene_marker_matching_an_empty_line_is_refused(tmp_path: Path, marker: str) -> None:
    said = _error(tmp_path, f"[dataprep]\nscene_markers = ['{marker}']\n")
    assert said.endswith(
        f"{marker!r} matches an empty text, so every line would start a new scene; make it "
        "need at least one character"
    )


@pytest.mark.parametrize("seconds", [0.001, 0.5])
def test_typing_renewed_faster_than_a_second_is_refused(tmp_path: Path, seconds: float) -> None:
    assert _error(tmp_path, f"[qq]\ntyping_seconds = {seconds}\n").endswith(
        f"[qq] typing_seconds = {seconds}: must be 0 (off) or at least 1: each renewal is a "
        "request to the OneBot implementation"
    )


def test_typing_off_or_at_a_second_is_taken(tmp_path: Path) -> None:
    assert load(tmp_path, "[qq]\ntyping_seconds = 0\n").qq.typing_seconds == 0
    assert load(tmp_path, "[qq]\ntyping_seconds = 1\n").qq.typing_seconds == 1


def test_out_of_character_retries_are_bounded(tmp_path: Path) -> None:
    assert _error(tmp_path, "[worker]\nooc_max_retries = 1000000000000\n").endswith(
        "[worker] ooc_max_retries = 1000000000000: must be at most 10"
    )
    assert load(tmp_path, "[worker]\nooc_max_retries = 10\n").worker.ooc_max_retries == 10


@pytest.mark.parametrize("blank", [" ", "\r", " \t "])
def test_a_blank_atri_config_is_named(monkeypatch: pytest.MonkeyPatch, blank: str) -> None:
    monkeypatch.setenv("ATRI_CONFIG", blank)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value) == "ATRI_CONFIG is blank: set it to the config file, or unset it."


def test_config_beats_a_blank_atri_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATRI_CONFIG", " ")
    assert load(tmp_path, "[qq]\ntyping_seconds = 2\n").qq.typing_seconds == 2


def test_a_renamed_key_s_bad_value_is_named_as_written(tmp_path: Path) -> None:
    said = _error(tmp_path, "[train]\noutput_dir = 5\n")
    assert said == (
        f"{tmp_path / 'config.toml'}: [train] output_dir = 5: must be a string in quotes "
        "(the key is now [model] adapters_dir: rename it)"
    )


def test_a_flag_s_path_in_a_folder_named_with_a_dollar_is_taken(tmp_path: Path) -> None:
    """A flag's path was expanded by the shell and names a real folder: only the file's
    text is checked for variables and blanks."""
    settings = Settings()
    flag = str(tmp_path / "$work " / "eval.json")
    settings.train.eval_dataset = flag
    assert settings.train.eval_dataset == flag
