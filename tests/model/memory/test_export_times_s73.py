"""An export whose times are in milliseconds (JavaScript's Date.now(), a bot's own
backup) was refused as "a time before the year 10000" with no word of why (QA s73,
clock): the sentence now says what they look like and what to do."""

from __future__ import annotations

import pytest

from model.memory import parse_export
from model.memory.export_format import ExportError


def export_said_at(created_at: float) -> dict[str, object]:
    said = {"role": "user", "user_id": "6", "content": "hi", "created_at": created_at}
    return {"format": "atri-memory", "version": 9, "scope": "qq:user:6", "messages": [said]}


def test_times_in_milliseconds_are_named_so() -> None:
    with pytest.raises(ExportError) as refused:
        parse_export(export_said_at(1796651717000), "old.json")
    assert str(refused.value) == (
        "old.json: messages[0].created_at must be a time before the year 10000 (seconds since "
        "1970): it looks like milliseconds; divide the times by 1000 (it is 1796651717000); "
        "nothing was imported."
    )


def test_a_time_past_the_year_10000_that_is_no_millisecond_time_is_refused_as_before() -> None:
    with pytest.raises(ExportError) as refused:
        parse_export(export_said_at(1e300), "odd.json")
    assert "before the year 10000 (seconds since 1970) (it is" in str(refused.value)
    assert "milliseconds" not in str(refused.value)
