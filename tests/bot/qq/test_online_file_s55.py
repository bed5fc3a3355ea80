"""NapCat's newer segments reach her as what a member sees: an online file (在线文件, a
file or folder sent online: `onlinefile`, its name in `fileName`) by its name, a
`miniapp` card as the `json` card it is, a QQ闪传 (`flashtransfer`, no name) as a file.
Before, none had a reader: beside words it was dropped, and alone she answered an online
file or a mini-app with her line for pictures and stickers.

End to end: `atri serve` on the echo engine, reached over a real OneBot v11 WebSocket.
Shapes as NapCat's `OB11MessageOnlineFileSchema`, `OB11MessageMiniAppSchema` and
`OB11MessageFlashTransferSchema` post them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.bot.qq.test_quotes_faces_s50 import ECHO, _answered, _at_her, _text
from tests.bot.qq.test_segments_s52 import BILIBILI, BILIBILI_NOTE
from tests.bot.qq.test_serve_e2e import group_message, serving

ONLINE_FILE = {
    "type": "onlinefile",
    "data": {
        "msgId": "7450000000000000001",
        "elementId": "7450000000000000002",
        "fileName": "期末复习.pdf",
        "fileSize": "1048576",
        "isDir": False,
    },
}
MINI_APP = {"type": "miniapp", "data": {"data": json.dumps(BILIBILI, ensure_ascii=False)}}
FLASH_TRANSFER = {
    "type": "flashtransfer",
    "data": {"fileSetId": "b1c2d3e4-0000-4000-8000-000000000000"},
}


@pytest.fixture(scope="module")
def ws_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("serve-online-file")) as url:
        yield url


async def test_an_online_file_is_read_by_its_name_beside_words_and_alone(ws_url: str) -> None:
    event = group_message(_at_her(_text(" 帮我看看"), ONLINE_FILE), user_id=5501)
    assert await _answered(ws_url, event) == ECHO + "帮我看看（发来了附件：期末复习.pdf）"
    event = group_message(_at_her(ONLINE_FILE), user_id=5502)
    assert await _answered(ws_url, event) == ECHO + "（发来了附件：期末复习.pdf）"


async def test_a_mini_app_is_read_as_the_card_it_is(ws_url: str) -> None:
    event = group_message(_at_her(MINI_APP), user_id=5503)
    assert await _answered(ws_url, event) == ECHO + BILIBILI_NOTE


async def test_a_flash_transfer_is_a_file_without_a_name(ws_url: str) -> None:
    event = group_message(_at_her(_text(" 收一下"), FLASH_TRANSFER), user_id=5504)
    assert await _answered(ws_url, event) == ECHO + "收一下（发来了附件：?）"
    # Alone it is still a file, answered as its note: not her line for pictures.
    event = group_message(_at_her(FLASH_TRANSFER), user_id=5505)
    assert await _answered(ws_url, event) == ECHO + "（发来了附件：?）"
