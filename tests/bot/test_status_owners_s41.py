"""`/atri status` tells a server's or group's admin nothing the worker hides from callers
without its token: its folders (a reload's record, the loaded versions, a base model read
from a folder) are for the bot's owners, as a reload is."""

from __future__ import annotations

from pathlib import Path

from atri.config import Settings
from bot import commands
from bot.commands import Actor
from model.service import ChatService

ADMIN = Actor("p", "boss", is_admin=True, channel_id="c1", guild_id="g")
# In a private chat: the worker's counters (loaded versions among them) are shown there only.
OWNER = Actor("p", "owner", is_admin=True, is_owner=True)


async def test_an_admin_sees_no_folder_of_the_worker_s_machine(
    tiny_settings: Settings, tiny_model_dir: Path
) -> None:
    tiny_settings.reload.enabled = False
    async with await ChatService.open(tiny_settings) as service:
        refused = await service.reload()  # nothing in the adapters folder yet
        assert refused.code == "no_version" and refused.folder
        admin = (await commands.status(service, ADMIN)).text
        owner = (await commands.status(service, OWNER)).text
    # The admin's view: engine, queue, version, the base model by its name.
    assert "排队中：0" in admin and f"引擎：local（{tiny_model_dir.name}）" in admin
    for private in (refused.folder, str(tiny_model_dir), str(tiny_settings.root)):
        assert private not in admin
    assert "上次加载" not in admin and "loaded_adapters" not in admin
    # The owner's: all of it, as the worker answers its token.
    assert f"上次加载：{refused.folder} 里还没有完整的模型版本。" in owner
    assert f"（{tiny_model_dir}）" in owner and "loaded_adapters: []" in owner


async def test_an_admin_still_sees_a_reload_that_names_no_folder(
    echo_service: ChatService,
) -> None:
    await echo_service.reload()  # the echo engine takes no adapters: no folder in it
    shown = (await commands.status(echo_service, ADMIN)).text
    assert "上次加载：echo 引擎不使用模型版本" in shown


async def test_a_base_model_read_from_a_relative_folder_is_shown_by_its_name(
    tiny_settings: Settings, tiny_model_dir: Path
) -> None:
    """`[model] base = "models/tiny-llama"` (a folder beside the config) read like a hub
    id to the bot, which guessed from the text alone: an admin was shown the worker's
    path in full. The worker says it read its base from a folder."""
    (tiny_settings.root / "models").mkdir()
    (tiny_settings.root / "models" / "tiny-llama").symlink_to(tiny_model_dir)
    tiny_settings.model.base = "models/tiny-llama"
    tiny_settings.reload.enabled = False
    async with await ChatService.open(tiny_settings) as service:
        assert (await service.status()).base_is_folder
        admin = (await commands.status(service, ADMIN)).text
        owner = (await commands.status(service, OWNER)).text
    assert "引擎：local（tiny-llama）" in admin and "models/" not in admin
    # The owner's: its absolute path, as read (session 42: it was given as written).
    assert f"引擎：local（{tiny_settings.root / 'models' / 'tiny-llama'}）" in owner


async def test_a_hub_id_is_shown_as_it_is(echo_service: ChatService) -> None:
    """A base that is no folder (a hub id, the echo engine's name) is not cut."""
    echo_service.engine.base_id = "Qwen/Qwen2.5-7B-Instruct"  # type: ignore[misc]
    assert not (await echo_service.status()).base_is_folder
    shown = (await commands.status(echo_service, ADMIN)).text
    assert "（Qwen/Qwen2.5-7B-Instruct）" in shown
