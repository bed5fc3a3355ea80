"""Slips in a hand-written config.toml name what was likely meant: the key a misspelling
is close to, the section a misplaced key belongs in, and a section as a section."""

from __future__ import annotations

import tomllib

import pytest

from atri.config import ConfigError, settings_from_dict


def _error(toml: str) -> str:
    with pytest.raises(ConfigError) as info:
        settings_from_dict(tomllib.loads(toml))
    return str(info.value)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[generation]\ntemprature = 0.5",
            "config.toml: [generation] temprature: is not a known key; did you mean `temperature`?",
        ),
        (
            "[model]\nmax_new_tokens = 64",
            "config.toml: [model] max_new_tokens: is not a known key in [model]: "
            "`max_new_tokens` belongs in [generation] or [eval]",
        ),
        (
            "temperature = 0.5",
            "config.toml: temperature: is not a known key at the top level: "
            "`temperature` belongs in [generation]",
        ),
        (
            "[model]\ntemprature = 0.5",
            "config.toml: [model] temprature: is not a known key; did you mean "
            "`temperature` in [generation]?",
        ),
        (
            "[genration]\ntop_k = 3",
            "config.toml: [genration]: is not a known section; did you mean [generation]?",
        ),
        (
            "[Generation]\ntop_k = 3",
            "config.toml: [Generation]: is not a known section; did you mean [generation]?",
        ),
    ],
)
def test_a_slip_names_what_was_likely_meant(toml: str, message: str) -> None:
    assert _error(toml) == message


def test_a_key_like_nothing_still_says_to_check_the_spelling() -> None:
    assert _error("[model]\nzzz = 1").endswith(
        "is not a known key (check the spelling against the commented config.toml)"
    )


def test_an_unknown_section_like_nothing_lists_the_sections() -> None:
    message = _error("[foo]\nx = 1")
    assert "[foo]: is not a known section (the sections: model, generation," in message
