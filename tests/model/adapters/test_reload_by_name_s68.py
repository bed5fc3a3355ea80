"""The bots' owners name the version a reload switches to (`/atri-admin reload
version:…`, QQ `/atri reload …`), as `POST /reload {"version"}` could: after a rollback,
going forward again to the version left was otherwise impossible from a chat, since the
plain reload passes over a version rolled back from."""

from __future__ import annotations

from pydantic import SecretStr

from atri.config import Secrets, Settings
from bot import commands
from bot.commands import Actor
from bot.lines import lines
from bot.relay import HttpWorker
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.model.conftest import V1, V2, MakeVersion

TOKEN = "reload-by-name-token"
OWNER = Actor("qq", "1", is_admin=True, channel_id="g1", is_owner=True)
GROUP_ADMIN = Actor("qq", "2", is_admin=True, channel_id="g1")


async def test_an_owner_goes_forward_again_to_the_version_rolled_back_from(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1)
    make_version(V2)
    secrets = Secrets(admin_token=SecretStr(TOKEN))
    async with (
        await ChatService.open(reload_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
    ):
        worker_settings = reload_settings.worker.model_copy(update={"url": url})
        async with HttpWorker(worker_settings, secrets) as remote:
            assert (await commands.reload(remote, OWNER)).ok
            assert (await service.status()).adapter_version == V2
            assert (await commands.rollback(remote, OWNER)).ok
            assert (await service.status()).adapter_version == V1
            # The plain reload stays on V1: V2 was rolled back from.
            await commands.reload(remote, OWNER)
            assert (await service.status()).adapter_version == V1
            refused = await commands.reload(remote, GROUP_ADMIN, V2)
            assert refused.text == lines().owners_only_in("qq")
            assert (await service.status()).adapter_version == V1
            named = await commands.reload(remote, OWNER, f" {V2} ")
            assert named.ok, named.text
            assert V2 in named.text
            assert (await service.status()).adapter_version == V2
            # A name that is no version is refused with a sentence; the live one stays.
            wrong = await commands.reload(remote, OWNER, "../../etc")
            assert not wrong.ok and wrong.text
            assert (await service.status()).adapter_version == V2
