"""A voice message or a video alone got her `media_only` line, which says she cannot read
pictures and stickers: an answer to something nobody sent. Now voice alone gets a line
saying she cannot listen to voice messages yet, a video alone one saying she cannot
watch videos; pictures, stickers and faces keep `media_only`. Through NoneBot (nonebug)
and through `atri serve` over a real OneBot v11 WebSocket, as test_segments_s52.py."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from nonebot.adapters.onebot.v11 import Bot, MessageSegment
from nonebug import App

from bot.lines import lines, lines_for
from bot.qq.segments import media_only_line, nothing_to_read
from model.protocol import ChannelSetting
from model.service import ChatService
from tests.bot.qq.events import GROUP_ID, SELF_ID, group_event
from tests.bot.qq.test_matchers import addressed, expect_reply
from tests.bot.qq.test_quotes_faces_s50 import _answered, _at_her
from tests.bot.qq.test_segments_s52 import MFACE, NAPCAT_STICKER, NAPCAT_VOICE, message
from tests.bot.qq.test_serve_e2e import group_message, serving

# NapCat's video; go-cqhttp and Lagrange post `file` and `url` only.
NAPCAT_VIDEO = {"type": "video", "data": {"file": "v.mp4", "url": "u", "file_size": "9"}}
LAGRANGE_VOICE = {"type": "record", "data": {"file": "a.silk", "url": "u"}}
PICTURE = {"type": "image", "data": {"file": "a.jpg", "url": "u"}}


def test_voice_and_video_alone_each_get_a_line_of_their_own() -> None:
    for voice in (NAPCAT_VOICE, LAGRANGE_VOICE):
        assert nothing_to_read(message(voice))
        assert media_only_line(message(voice)) == lines().voice_only
    assert nothing_to_read(message(NAPCAT_VIDEO))
    assert media_only_line(message(NAPCAT_VIDEO)) == lines().video_only
    assert lines().voice_only == "亚托莉还听不了语音呢……用文字和我说吧！"
    assert lines().video_only == "亚托莉还看不了视频呢……用文字和我说吧！"
    # Pictures, stickers, faces, or voice among them: what she cannot see.
    for seen in (PICTURE, MFACE, NAPCAT_STICKER, {"type": "face", "data": {"id": "5"}}):
        assert media_only_line(message(seen)) == lines().media_only
    assert media_only_line(message(NAPCAT_VOICE, PICTURE)) == lines().media_only


def test_each_language_says_it_with_her_name() -> None:
    english, japanese = lines_for("ATRI", "en"), lines_for("アトリ", "ja")
    assert english.voice_only == "ATRI can't listen to voice messages yet... Tell me in words!"
    assert english.video_only == "ATRI can't watch videos yet... Tell me in words!"
    assert japanese.voice_only.startswith("アトリはまだボイスメッセージが聞けない")
    assert japanese.video_only.startswith("アトリはまだ動画が見られない")
    for said in (english, japanese):
        assert len({said.voice_only, said.video_only, said.media_only}) == 3


async def test_through_nonebot_voice_or_video_said_to_her_gets_its_line(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    """In a group set to "all", one not said to her gets nothing (as a sticker); one said
    to her gets the line for what it is."""
    await echo_service.set_channel_mode(
        ChannelSetting(platform="qq", channel_id=str(GROUP_ID), mode="all")
    )
    plugin.channel_modes().forget()
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        for sent in (NAPCAT_VOICE, NAPCAT_VIDEO):
            ctx.receive_event(bot, addressed(bot, group_event(message(sent))))
        for sent, line in ((NAPCAT_VOICE, lines().voice_only), (NAPCAT_VIDEO, lines().video_only)):
            event = addressed(bot, group_event(MessageSegment.at(SELF_ID) + message(sent)))
            ctx.receive_event(bot, event)
            expect_reply(ctx, event, line)


@pytest.fixture(scope="module")
def ws_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("serve-voice-video")) as url:
        yield url


@pytest.mark.parametrize(
    ("sent", "line"),
    [
        (NAPCAT_VOICE, "voice_only"),
        (LAGRANGE_VOICE, "voice_only"),
        (NAPCAT_VIDEO, "video_only"),
        (MFACE, "media_only"),
    ],
)
async def test_over_onebot_voice_or_video_alone_gets_its_line(
    ws_url: str, sent: dict[str, Any], line: str
) -> None:
    event = group_message(_at_her(sent), user_id=4720)
    assert await _answered(ws_url, event) == getattr(lines(), line)
