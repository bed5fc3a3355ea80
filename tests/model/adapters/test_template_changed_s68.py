"""A version trained under one chat template is refused once `[model] chat_template`
changes: training records the template in manifest.json, but nothing read it, and the
worker served the version under the new one (prompts in a shape it never learnt)."""

from __future__ import annotations

import pytest

from atri.config import Settings
from atri.errors import ConfigError
from bot.lines import lines_for
from model.service import ChatService
from tests.model.conftest import V1, V2, MakeVersion
from tests.tiny_model import CHATML_TEMPLATE, QWEN_TEMPLATE


async def test_a_version_of_another_template_is_refused_with_its_reason_code(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1, chat_template=CHATML_TEMPLATE)  # the tiny model's own
    reload_settings.model.chat_template = QWEN_TEMPLATE
    async with await ChatService.open(reload_settings) as service:
        refused = await service.reload(V1)
    assert not refused.ok and refused.adapter_version == ""
    assert refused.reason_code == "other_template"
    assert refused.reason.startswith(f"Version {V1} was trained under another chat template")
    assert "[model] chat_template" in refused.reason
    worded = lines_for("ATRI", "en").reload_said(refused)
    assert "another chat template" in worded and refused.reason not in worded
    # The template it was trained under serves it.
    reload_settings.model.chat_template = ""
    async with await ChatService.open(reload_settings) as service:
        assert (await service.reload(V1)).ok


async def test_a_version_recording_no_template_passes_as_before(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1)  # an older manifest: no chat_template
    make_version(V2, seed=2, chat_template=QWEN_TEMPLATE)
    reload_settings.model.chat_template = QWEN_TEMPLATE
    async with await ChatService.open(reload_settings) as service:
        assert (await service.reload(V1)).ok
        assert (await service.reload(V2)).ok


async def test_model_adapter_of_another_template_stops_the_start_naming_the_key(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    reload_settings.model.adapter = str(make_version(V1, chat_template=CHATML_TEMPLATE))
    reload_settings.model.chat_template = QWEN_TEMPLATE
    with pytest.raises(ConfigError) as refused:
        await ChatService.open(reload_settings)
    message = str(refused.value)
    assert message.startswith(f'[model] adapter = "{reload_settings.model.adapter}": it was ')
    assert "another chat template" in message and "[model] chat_template" in message
