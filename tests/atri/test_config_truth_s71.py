"""Session 71: config.toml's comments against the code. `speak_up_max_per_hour = 0` is no
cap, as every other rate cap's 0; `adapters_dir = ""`, an `openai_base_url` without its
scheme, a `llamacpp_kv_tokens` below an explicit `context_window` and `[qq] port = 0` are
refused as the config loads, each with one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import Settings, load_settings
from model.room import SpeakUp
from model.service import ChatService
from tests.atri.test_config_toml_hints_s51 import _error
from tests.model.test_room import said
from tests.model.test_speak_up import Clock, speaking_up, statuses

REPO = Path(__file__).resolve().parents[2]


def test_no_hourly_cap_at_0_leaves_only_the_cooldown() -> None:
    clock = Clock()
    speak_up = SpeakUp(["c1"], 1.0, [], cooldown_seconds=10, max_per_hour=0, clock=clock)
    spoke = 0
    for _ in range(30):  # well past the default cap of 6, all within the hour
        spoke += speak_up.wants_to("c1", "hello")
        assert not speak_up.wants_to("c1", "at once")  # the cooldown still holds
        clock.now += 10
    assert spoke == 30


def test_a_cap_still_caps() -> None:
    speak_up = SpeakUp(["c1"], 1.0, [], cooldown_seconds=0, max_per_hour=6, clock=Clock())
    assert [speak_up.wants_to("c1", "hi") for _ in range(8)] == [True] * 6 + [False] * 2


async def test_the_worker_speaks_up_past_any_count_with_no_cap(echo_settings: Settings) -> None:
    """The tester's case: probability 1, max_per_hour = 0, and she stayed silent."""
    speaking_up(echo_settings, speak_up_probability=1.0, speak_up_max_per_hour=0)
    async with await ChatService.open(echo_settings) as service:
        got = await statuses(service, [said(f"第{n}句", "1", "甲") for n in range(12)])
    assert got == ["ok"] * 12


def test_an_empty_adapters_dir_is_refused(tmp_path: Path) -> None:
    said_ = _error(tmp_path, '[model]\nadapters_dir = ""\n')
    assert said_ == (
        f'{tmp_path / "config.toml"}: [model] adapters_dir = "": must name a folder, not be '
        "empty (the config's own folder): delete the line for the default, adapters"
    )


def test_an_empty_cache_dir_is_still_refused(tmp_path: Path) -> None:
    assert "delete the line for the default, ~/.cache/atri" in _error(
        tmp_path, '[model]\ncache_dir = " "\n'
    )


@pytest.mark.parametrize(
    "value",
    ['"localhost:8000"', '"127.0.0.1:8000/v1"', '"ftp://host/v1"', '"http://"', '"http://[::1"'],
)
def test_an_openai_base_url_without_its_scheme_is_refused(tmp_path: Path, value: str) -> None:
    said_ = _error(tmp_path, f'[model]\nengine = "openai"\nopenai_base_url = {value}\n')
    assert said_.endswith(
        'must be the server\'s base URL with its scheme, like "http://127.0.0.1:8000/v1"'
    )
    assert said_.count("\n") == 0


def test_a_list_of_base_urls_names_the_one_without_a_scheme(tmp_path: Path) -> None:
    toml = '[model]\nopenai_base_url = ["http://a:8000/v1", "b:8001/v1"]\n'
    assert "'b:8001/v1': each must be the server's base URL with its scheme" in _error(
        tmp_path, toml
    )


def test_base_urls_with_a_scheme_load(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[model]\nopenai_base_url = ["http://127.0.0.1:8000/v1", "https://[::1]:8001/v1"]\n',
        encoding="utf-8",
    )
    assert load_settings(path).model.openai_base_urls == [
        "http://127.0.0.1:8000/v1",
        "https://[::1]:8001/v1",
    ]


def test_a_kv_cache_below_an_explicit_window_is_refused_at_load(tmp_path: Path) -> None:
    toml = '[model]\nengine = "llamacpp"\ncontext_window = 2048\nllamacpp_kv_tokens = 100\n'
    assert _error(tmp_path, toml) == (
        f"{tmp_path / 'config.toml'}: [model]: llamacpp_kv_tokens = 100 is smaller than "
        "context_window = 2048; set it to at least that, or 0"
    )


@pytest.mark.parametrize(
    ("engine", "window", "kv"),
    [("llamacpp", 0, 100), ("llamacpp", 2048, 0), ("llamacpp", 2048, 2048), ("local", 2048, 100)],
)
def test_a_kv_cache_the_load_cannot_judge_loads(
    tmp_path: Path, engine: str, window: int, kv: int
) -> None:
    """A window of 0 is the GGUF's own, checked once it loads; other engines ignore kv."""
    path = tmp_path / "config.toml"
    path.write_text(
        f'[model]\nengine = "{engine}"\ncontext_window = {window}\nllamacpp_kv_tokens = {kv}\n',
        encoding="utf-8",
    )
    assert load_settings(path).model.llamacpp_kv_tokens == kv


def test_qq_port_0_is_refused_with_why(tmp_path: Path) -> None:
    assert _error(tmp_path, "[qq]\nport = 0\n") == (
        f"{tmp_path / 'config.toml'}: [qq] port = 0: must be a port from 1 to 65535: the "
        "OneBot implementation connects to this fixed one (0, any free port, works only "
        "for [worker] port)"
    )
    assert "must be at most 65535" in _error(tmp_path, "[qq]\nport = 70000\n")


def test_the_shipped_config_says_so_and_still_loads() -> None:
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    assert text == (REPO / "atri" / "default_config.toml").read_text(encoding="utf-8")
    assert "0 = no cap (speak_up_channels = []" in text
    assert '["*"] trusts every peer\'s header' in text
    assert load_settings(REPO / "config.toml").room.speak_up_max_per_hour == 6
