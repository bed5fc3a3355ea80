"""`/atri status` over QQ: a group's admin sees no folder of the worker's machine, a
superuser (the bot's owner) all of it (`atri serve` in a subprocess on the tiny model,
NoneBot over a real WebSocket)."""

from __future__ import annotations

from pathlib import Path

from websockets.asyncio.client import connect

from tests.bot.qq.events import SUPERUSER_ID
from tests.bot.qq.test_serve_e2e import (
    HEADERS,
    check_quoted_reply,
    group_message,
    reply_to,
    serving,
)


async def test_a_group_admin_sees_no_folder_a_superuser_does(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    adapters = tmp_path / "adapters"
    with serving(tmp_path, model=f'base = "{tiny_model_dir}"') as url:
        async with connect(url, additional_headers=HEADERS) as ws:

            async def said(text: str, **sender: object) -> str:
                event = group_message(text, **sender)  # type: ignore[arg-type]
                return check_quoted_reply(await reply_to(ws, event), event)

            owner = {"user_id": int(SUPERUSER_ID)}
            refused = await said("/atri reload", **owner)
            assert refused == f"{adapters} 里还没有完整的模型版本。"
            admin = await said("/atri status", role="admin")
            shown = await said("/atri status", **owner)
    assert "引擎：local（tiny-llama" in admin and "上次加载" not in admin
    assert str(tmp_path) not in admin and str(tiny_model_dir) not in admin
    assert f"上次加载：{refused}" in shown and f"（{tiny_model_dir}）" in shown
