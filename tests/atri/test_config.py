"""config.toml: defaults, validation messages, file choice, secrets."""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path

import pytest

from atri.config import ConfigError, Secrets, Settings, load_settings, settings_from_dict

REPO = Path(__file__).resolve().parents[2]


def test_shipped_config_equals_embedded_defaults() -> None:
    shipped = load_settings(REPO / "config.toml")
    assert shipped.model_dump() == Settings().model_dump()


def _commented_keys(lines: list[str]) -> list[tuple[str, str, str, bool]]:
    """(section, key, the comment it stands under, whether that comment is another key's
    too) for every key of the file, each found in its own section (`seed`, `enabled`,
    `max_new_tokens` … are in several). A key under another key shares the comment of
    the block above the first."""
    found = []
    section, previous = "", ""
    comment: list[str] = []
    for line in lines:
        if line.startswith("["):
            section, comment, previous = line.strip("[] "), [], ""
        elif line.startswith("#"):
            comment = [*comment, line] if previous.startswith("#") else [line]
        elif key := re.match(r"([a-z_0-9]+) =", line):
            own = previous.startswith("#")
            shared = own or bool(re.match(r"[a-z_0-9]+ =", previous))
            found.append((section, key[1], " ".join(comment) if shared else "", not own))
        if line.strip() and not line.startswith((" ", "]")):
            previous = line
    return found


def test_shipped_config_comments_every_key() -> None:
    lines = (REPO / "config.toml").read_text(encoding="utf-8").splitlines()
    data = tomllib.loads("\n".join(lines))
    commented = {(s, k): (comment, shared) for s, k, comment, shared in _commented_keys(lines)}
    for section, keys in data.items():
        for key in keys:
            comment, shared = commented[(section, key)]
            assert comment, f"[{section}] {key} has no comment"
            if not shared:
                continue
            # A key that shares the comment of a block ("LoRA rank, scaling and dropout")
            # is named there, or a word of its name is: `seed` under the comment of
            # logging_steps said nothing about it.
            stems = [word[:4] for word in key.split("_") if len(word) >= 4]
            said = comment.lower()
            assert key in said or any(re.search(rf"\b{stem}", said) for stem in stems), (
                f"[{section}] {key} has no comment of its own, and the one above its block "
                "does not name it"
            )


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[memory]\nmax_history_tokens = -5",
            "config.toml: [memory] max_history_tokens = -5: must be a positive integer",
        ),
        (
            '[memory]\nscope = "everyone"',
            "config.toml: [memory] scope = \"everyone\": must be one of 'user', 'user_in_channel' or 'channel'",
        ),
        (
            '[generation]\ntemperature = "hot"',
            'config.toml: [generation] temperature = "hot": must be a number',
        ),
        ("[generation]\ntop_p = 1.5", "config.toml: [generation] top_p = 1.5: must be at most 1"),
        # A number key given a whole number: not "a positive integer" (1.5 is fine).
        (
            "[generation]\ntemperature = 0",
            "config.toml: [generation] temperature = 0: must be a positive number",
        ),
        (
            '[dataprep]\nrenpy_language = "game/tl/chinese"',
            'config.toml: [dataprep] renpy_language = "game/tl/chinese": must be "auto", '
            '"original", or a language as game/tl/ names its folder, like "chinese"',
        ),
        # A blank nickname matches the start of every message: she answered them all.
        (
            '[qq]\nnicknames = ["亚托莉", ""]',
            'config.toml: [qq] nicknames = ["亚托莉", ""]: holds an empty name',
        ),
        (
            '[dataprep]\ncharacter_aliases = [" ", "ATRI"]',
            'config.toml: [dataprep] character_aliases = [" ", "ATRI"]: holds an empty name',
        ),
        (
            "[dataprep]\ncharacter_aliases = []",
            "config.toml: [dataprep] character_aliases = []: must not be empty",
        ),
        # APScheduler dates its next run: past year 9999 the worker crashed at start.
        (
            "[reload]\ninterval_seconds = 1000000000000",
            "config.toml: [reload] interval_seconds = 1000000000000: must be at most 604800",
        ),
        (
            '[reload]\nsmoke_prompt = ""',
            'config.toml: [reload] smoke_prompt = "": must not be empty',
        ),
        (
            '[model]\nchat_template = "templates/chatml.jinja"',
            'config.toml: [model] chat_template = "templates/chatml.jinja": must be the Jinja '
            "template's text (it has no {{ or {%), not a file name",
        ),
        (
            "[room]\nmax_age_hours = -1",
            "config.toml: [room] max_age_hours = -1: must be a positive number",
        ),
        ("[worker]\nport = 70000", "config.toml: [worker] port = 70000: must be at most 65535"),
        ("[worker]\nport = -1", "config.toml: [worker] port = -1: must be at least 0"),
        (
            "[memory]\nmax_history_messages = 9223372036854775808",
            "config.toml: [memory] max_history_messages = 9223372036854775808: "
            "must be at most 10000",
        ),
        (
            "[memory]\nmax_history_messages = 0",
            "config.toml: [memory] max_history_messages = 0: must be a positive integer",
        ),
        (
            "[room]\nmax_prompt_lines = 10001",
            "config.toml: [room] max_prompt_lines = 10001: must be at most 10000",
        ),
        (
            "[room]\nmax_lines_per_channel = 100001",
            "config.toml: [room] max_lines_per_channel = 100001: must be at most 100000",
        ),
        (
            "[worker]\nbatch_window_ms = 20000",
            "config.toml: [worker] batch_window_ms = 20000: must be at most 1000",
        ),
        (
            '[worker]\nurl = "http://10.0.0.5:0"',
            'config.toml: [worker] url = "http://10.0.0.5:0": no worker listens on port 0; '
            "use the address `atri worker` prints when it starts",
        ),
        (
            '[worker]\nurl = "127.0.0.1:8765"',
            'config.toml: [worker] url = "127.0.0.1:8765": must be the worker\'s address with its '
            'scheme, like "http://127.0.0.1:8765"',
        ),
        (
            '[worker]\nurl = "http://127.0.0.1:99999"',
            'config.toml: [worker] url = "http://127.0.0.1:99999": its port must be a number '
            "from 1 to 65535",
        ),
        (
            '[worker]\nurl = "http://127.0.0.1:8765/v1"',
            'config.toml: [worker] url = "http://127.0.0.1:8765/v1": must be the worker\'s own '
            "address, without /v1",
        ),
        ('[qq]\nenabled = "yes"', 'config.toml: [qq] enabled = "yes": must be true or false'),
        (
            "[memory]\nmax_history_tokenz = 5",
            "config.toml: [memory] max_history_tokenz: is not a known key",
        ),
        (
            '[train]\ntarget_modules = "q_proj"',
            'config.toml: [train] target_modules = "q_proj": must be a list',
        ),
        # It trained no layer, and said so only once the base model had loaded.
        (
            "[train]\ntarget_modules = []",
            "config.toml: [train] target_modules = []: must name the layers that get LoRA, "
            'like ["q_proj", "v_proj"], or be ["all-linear"] for every linear layer',
        ),
        # peft would have looked for a layer named "all-linear" and trained q_proj only.
        (
            '[train]\ntarget_modules = ["all-linear", "q_proj"]',
            'config.toml: [train] target_modules = ["all-linear", "q_proj"]: "all-linear" must '
            "be the only entry: it already means every linear layer, so drop it or the other "
            "names",
        ),
        # She called a nameless user nothing, the bots posted "……" for a busy or error
        # line, an adapter was trained with no system prompt: blanks only are empty too.
        ('[persona]\nuser_name = ""', 'config.toml: [persona] user_name = "": must not be empty'),
        (
            '[persona]\ntraining_prompt = "   "',
            'config.toml: [persona] training_prompt = "   ": must not be empty',
        ),
        # (busy_reply and error_reply: tests/atri/test_config_replies_s52.py)
        # Every fact was asked the same question, each time with another answer.
        (
            '[dataprep]\nbackground_questions = ["能说说你的{topic}吗？", "你好吗？"]',
            'config.toml: [dataprep] background_questions = ["能说说你的{topic}吗？", "你好吗？"]: '
            "'你好吗？' has no {topic}, so every fact would be asked the same question",
        ),
        # It listened on every interface: open to the network, said only once listening.
        (
            '[worker]\nhost = ""',
            'config.toml: [worker] host = "": must not be empty; write "0.0.0.0" to listen on '
            'every interface, or "127.0.0.1" for this machine only',
        ),
        (
            '[qq]\nhost = " "',
            'config.toml: [qq] host = " ": must not be empty; write "0.0.0.0" to listen on '
            'every interface, or "127.0.0.1" for this machine only',
        ),
        (
            '[reload]\nsmoke_prompt = "  "',
            'config.toml: [reload] smoke_prompt = "  ": must not be empty',
        ),
        ("memory = 3", "config.toml: memory = 3: must be a table"),
    ],
)
def test_bad_values_name_key_value_and_expectation(toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_dict(tomllib.loads(toml))
    assert str(info.value).startswith(message)


def test_worker_port_0_means_any_free_port_and_other_urls_pass() -> None:
    settings = settings_from_dict(tomllib.loads("[worker]\nport = 0"))
    assert settings.worker.port == 0
    for url in ("http://10.0.0.5:8765", "http://worker", "http://[::1]:80/", ""):
        assert settings_from_dict({"worker": {"url": url}}).worker.url == url


def test_broken_toml_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[model\nbase = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_settings(path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig"])
def test_a_config_saved_by_windows_notepad_is_read(tmp_path: Path, encoding: str) -> None:
    """Notepad's "Unicode" (UTF-16 with a byte-order mark) was "cannot be read ('utf-8'
    codec can't decode byte 0xff in position 0…)"."""
    path = tmp_path / "config.toml"
    path.write_bytes('[persona]\nuser_name = "夏生"\n'.encode(encoding))
    assert load_settings(path).persona.user_name == "夏生"


def test_a_config_in_another_encoding_says_which_line_and_how_to_fix(tmp_path: Path) -> None:
    """Saved as "ANSI" (GBK on a Chinese Windows): refused, naming the first line that is
    not UTF-8, never read as a guess that would misspell the names in it."""
    path = tmp_path / "config.toml"
    path.write_bytes('[persona]\n# 设置\nuser_name = "夏生"\n'.encode("gbk"))
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value) == (
        f"{path}: line 2 is not UTF-8 text (the file was saved in another encoding); save it"
        " as UTF-8 (in Notepad: Save as, Encoding: UTF-8)."
    )


def test_config_choice_flag_then_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    by_env = tmp_path / "env.toml"
    by_env.write_text('[memory]\nscope = "channel"\n', encoding="utf-8")
    by_flag = tmp_path / "flag.toml"
    by_flag.write_text('[memory]\nscope = "user_in_channel"\n', encoding="utf-8")
    monkeypatch.setenv("ATRI_CONFIG", str(by_env))
    assert load_settings().memory.scope == "channel"
    assert load_settings(by_flag).memory.scope == "user_in_channel"
    monkeypatch.setenv("ATRI_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match=r"missing\.toml: config file not found"):
        load_settings()


def test_relative_paths_hang_off_the_config_folder(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "atri.toml"
    path.parent.mkdir()
    path.write_text('[memory]\npath = "db/chat.sqlite3"\n', encoding="utf-8")
    settings = load_settings(path)
    assert settings.path(settings.memory.path) == tmp_path / "conf" / "db" / "chat.sqlite3"


def test_secrets_come_from_env_and_never_show(caplog: pytest.LogCaptureFixture) -> None:
    token = "not-a-real-token." + "x" * 30  # long, like a Discord token
    secrets = Secrets.from_env({"ATRI_DISCORD_TOKEN": token, "ATRI_ADMIN_TOKEN": "  "})
    assert secrets.discord_token is not None
    assert secrets.discord_token.get_secret_value() == token
    assert secrets.admin_token is None
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("atri.test").info("secrets: %s / %r", secrets, secrets)
    assert token not in caplog.text
    assert token not in str(secrets.model_dump())


def test_a_secret_no_http_header_can_carry_is_one_sentence_that_hides_it() -> None:
    """A token outside printable ASCII was sent as other bytes and never matched."""
    for token in ("亚托莉的口令", "pass\x07word"):
        with pytest.raises(ConfigError, match="ATRI_ADMIN_TOKEN holds a character") as caught:
            Secrets.from_env({"ATRI_ADMIN_TOKEN": token})
        assert token not in str(caught.value)
    assert Secrets.from_env({"ATRI_ADMIN_TOKEN": "a b~!"}).admin_token is not None


def test_old_key_names_are_read_under_their_new_names_with_a_notice() -> None:
    s = settings_from_dict(
        {"train": {"output_dir": "runs/v"}, "dataprep": {"atri_aliases": ["Mia"]}},
        source="old.toml",
    )
    assert s.model.adapters_dir == "runs/v"
    assert s.dataprep.character_aliases == ["Mia"]
    assert any("[train] output_dir is now [model] adapters_dir" in n for n in s.notices)
    assert any(
        "[dataprep] atri_aliases is now [dataprep] character_aliases" in n for n in s.notices
    )


def test_an_old_and_a_new_key_that_disagree_are_refused() -> None:
    with pytest.raises(ConfigError, match="keep only \\[model\\] adapters_dir"):
        settings_from_dict({"reload": {"adapters_dir": "a"}, "model": {"adapters_dir": "b"}})
