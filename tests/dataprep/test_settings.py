"""`[dataprep]` settings: bad values give one clear line each."""

from __future__ import annotations

import pytest

from atri.config import ConfigError, DataprepSettings, settings_from_dict


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"context_turns": 0}, "[dataprep] context_turns = 0: must be at least 1"),
        ({"narration": "keep"}, "must be one of 'skip' or 'stage'"),
        ({"eval_ratio": 1.0}, "[dataprep] eval_ratio = 1.0: must be less than 1"),
        ({"custom_regex": "(.*)"}, "needs the two named groups speaker and text"),
        ({"custom_regex": "(?P<speaker>"}, "is not a valid regular expression"),
        ({"scene_markers": ["[unclosed"]}, "is not a valid regular expression"),
        # An empty marker makes every line a scene heading: no dialogue was left.
        ({"scene_markers": [""]}, "holds an empty pattern, which matches everything"),
        (
            {"lead_aliases": ["夏生"], "character_aliases": ["ATRI", " 夏生"]},
            " 夏生 is in both lead_aliases and character_aliases",
        ),
        ({"encoding": "klingon"}, "is not an encoding Python knows"),
        # Found by codecs.lookup, yet bytes-to-bytes or no script's encoding: each was a
        # traceback at the first file.
        ({"encoding": "rot13"}, '"rot13" is not a text encoding scripts are saved in'),
        ({"encoding": "base64"}, "is not a text encoding scripts are saved in"),
        ({"encoding": "undefined"}, "is not a text encoding scripts are saved in"),
        ({"encoding": "punycode"}, "is not a text encoding scripts are saved in"),
        ({"encoding": "unicode_escape"}, "is not a text encoding scripts are saved in"),
        ({"output_formats": []}, "[dataprep] output_formats"),
        ({"min_reply_chars": 9, "max_reply_chars": 3}, "must not be greater than max_reply_chars"),
        ({"lead_alias": ["x"]}, "[dataprep] lead_alias: is not a known key"),
    ],
)
def test_bad_dataprep_values(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings_from_dict({"dataprep": section})
    assert message in str(err.value)


def test_defaults_are_valid_and_complete() -> None:
    defaults = DataprepSettings()
    assert defaults.format == "auto" and defaults.output_formats == [
        "sharegpt",
        "messages",
        "alpaca",
    ]
    assert settings_from_dict({"dataprep": defaults.model_dump()}).dataprep == defaults
