"""An admin's reload that passes over newer versions says so, and why: a version trained
as another character was only a worker-log warning, one saved only as a pickle not even
that, and the admin was told "Already serving" while the version she had just trained
never went live."""

from __future__ import annotations

import json

from atri.config import Settings
from bot.lines import lines_for
from model.protocol import ReloadResult
from model.service import ChatService
from tests.model.conftest import V1, V2, V3, MakeVersion

EILEEN = {"character": "Eileen", "character_names": ["Eileen", "艾琳"]}


async def test_a_reload_says_it_passed_over_another_characters_newer_version(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1)
    async with await ChatService.open(reload_settings) as service:
        first = await service.reloader.check()
        assert first is not None and first.ok, first
        make_version(V2, seed=2, **EILEEN)
        said = await service.reloader.reload()
        assert said.ok and said.code == "already_serving" and said.version == V1
        assert said.skipped == V2
        assert said.reason_code == "other_character"
        assert said.reason_details == {"trained_as": "Eileen", "serves": "亚托莉"}
        assert said.message.startswith(
            f"Already serving adapter version {V1}. The newer version {V2} was passed over: "
            f"Version {V2} was trained as Eileen, but this worker serves 亚托莉"
        )
        # /status shows the same record; the bot words it in her language.
        assert service.reloader.last["skipped"] == V2
        assert lines_for("ATRI", "en").reload_said(said) == (
            f"Already serving adapter version {V1}.\nThe newer adapter version {V2} was "
            "passed over: it was trained as Eileen, but this worker serves 亚托莉. Give "
            "each character its own [model] adapters_dir."
        )
        # Over HTTP, a client from before the field reads what it always read.
        old_client = ReloadResult.model_validate_json(said.model_dump_json())
        assert old_client.ok and old_client.code == "already_serving"


async def test_a_reload_says_it_passed_over_a_newer_pickle_only_version(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1)
    async with await ChatService.open(reload_settings) as service:
        first = await service.reloader.check()
        assert first is not None and first.ok, first
        folder = make_version(V2, seed=2)
        weights = folder / "adapter_model.safetensors"
        weights.rename(weights.with_name("adapter_model.bin"))
        said = await service.reloader.reload()
        assert said.ok and said.code == "already_serving" and said.skipped == V2
        assert said.reason_code == "invalid" and "adapter_model.bin" in said.reason
        english = lines_for("ATRI", "en").reload_said(said).split("\n")
        assert english[:2] == [
            f"Already serving adapter version {V1}.",
            f"The newer adapter version {V2} was passed over: it did not pass the worker's checks.",
        ]
        assert english[2] == f"The worker said: {said.reason}"


async def test_a_reload_with_nothing_newer_says_nothing_more(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1)
    make_version(V3, seed=3)
    async with await ChatService.open(reload_settings) as service:
        first = await service.reloader.check()
        assert first is not None and first.ok, first
        said = await service.reloader.reload()
        assert said.message == f"Already serving adapter version {V3}." and not said.skipped
        assert json.loads(said.model_dump_json())["reason_code"] == ""
