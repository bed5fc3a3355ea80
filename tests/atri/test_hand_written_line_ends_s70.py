"""Hand-written files saved with old Mac line ends (a lone CR): TOML refused them as "invalid
character '\\r'" with no advice. They are read, config and card alike; a line blamed for
another encoding is counted with those line ends too. Notepad's encoding names get a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import ConfigError, load_settings, settings_from_dict
from atri.text_files import NotUtf8Error, decode_hand_written
from model.character.persona import load_persona

CONFIG = '[worker]\nrate_limit_per_minute = 7\n[dataprep]\nlead_aliases = ["夏生"]\n'
CARD = 'name = "Mio"\ndescription = "A girl by the sea."\ngreeting = "Hi!"\n'


def test_a_config_with_lone_cr_line_ends_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(CONFIG.replace("\n", "\r").encode())
    settings = load_settings(path)
    assert settings.worker.rate_limit_per_minute == 7
    assert settings.dataprep.lead_aliases == ["夏生"]


def test_a_card_with_lone_cr_line_ends_is_read(tmp_path: Path) -> None:
    path = tmp_path / "mio.toml"
    path.write_bytes(CARD.replace("\n", "\r").encode())
    persona = load_persona(path)
    assert (persona.name, persona.greeting) == ("Mio", "Hi!")


def test_crlf_stays_as_it_is_and_lone_crs_count_as_lines() -> None:
    assert decode_hand_written(b"a = 1\rb = 2\r\nc = 3\n") == "a = 1\nb = 2\r\nc = 3\n"
    with pytest.raises(NotUtf8Error) as err:
        decode_hand_written(b"a = 1\rb = 2\rc = \xff\r")
    assert err.value.line == 3


@pytest.mark.parametrize(
    ("name", "hint"), [("ANSI", "gbk on Chinese Windows"), ("Unicode", "is utf-16")]
)
def test_notepads_encoding_names_are_explained(name: str, hint: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings_from_dict({"dataprep": {"encoding": name}})
    assert hint in str(err.value)
