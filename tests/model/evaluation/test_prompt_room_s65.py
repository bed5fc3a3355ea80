"""A character prompt longer than the model's context window: `atri eval` sent it anyway,
and the model's embedding ended the run in a traceback (GPT-2's 1024 positions under a
1146-token card). It is one sentence, before any probe, and eval honours `[model]
context_window` as the worker does."""

from __future__ import annotations

import pytest

from atri.config import Settings
from model.evaluation.runner import EvalError, evaluate
from tests.model.conftest import V1, MakeVersion


def test_a_prompt_the_window_cannot_hold_is_one_sentence(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    version = make_version(V1)
    reload_settings.model.context_window = 96
    with pytest.raises(EvalError, match="leaves no room for a probe") as caught:
        evaluate(reload_settings, version)
    assert "96-token context window" in str(caught.value) and "\n" not in str(caught.value)
    assert not (version / "eval.json").exists()


def test_an_empty_reply_is_out_of_character() -> None:
    """A reasoning model that spent its budget thinking wrote nothing to each probe, and
    the report said 0% out of character (the reload job's OOC gate reads that figure)."""
    from atri.config import OOCSettings
    from model.character.ooc import OOCDetector
    from model.evaluation.runner import EMPTY_REPLY, _flagged

    detector = OOCDetector.for_character(OOCSettings(), "en")
    assert _flagged("  \n", detector) == (EMPTY_REPLY,)
    assert _flagged("Good morning!", detector) == ()
