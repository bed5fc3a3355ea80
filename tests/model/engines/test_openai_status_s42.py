"""Session 42 on what the openai engine's worker shows in its status: vLLM's model path,
run beside config.toml (`vllm serve models/qwen`), is read from the config file's folder
as every path there; the owners see it as that folder's absolute path."""

from __future__ import annotations

from atri.config import Settings
from bot import commands
from bot.commands import Actor
from model.service import ChatService
from tests.model.engines.test_openai import FakeVllm, readme_settings, replicas

ADMIN = Actor("p", "boss", is_admin=True, channel_id="c1", guild_id="g")
OWNER = Actor("p", "owner", is_admin=True, channel_id="c1", guild_id="g", is_owner=True)


async def test_a_relative_vllm_root_is_shown_as_its_absolute_folder(settings: Settings) -> None:
    """The status named it as vLLM reported it, `models/qwen`: a path relative to a folder
    the status does not say, shown so to the bot's owners."""
    folder = settings.root / "models" / "qwen"
    folder.mkdir(parents=True)
    async with replicas(FakeVllm(root="models/qwen")) as urls:
        settings = readme_settings(settings, urls)
        settings.model.openai_model = "atri-base"
        async with await ChatService.open(settings) as service:
            status = await service.status()
            owner = (await commands.status(service, OWNER)).text
            admin = (await commands.status(service, ADMIN)).text
    assert (status.base_model, status.base_is_folder) == (str(folder), True)
    assert f"（{folder}）" in owner
    assert "（qwen）" in admin and str(settings.root) not in admin
