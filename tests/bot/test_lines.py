"""The bots' own lines follow the configured character card: her name, the language she
is served in."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest

from atri.config import Secrets, Settings
from bot import commands, lines
from bot.commands import Actor
from bot.lines import EN, JA, ZH, BotLines, lines_for, use_card
from bot.qq.runner import her_names, nonebot_options
from bot.relay import HttpWorker
from model.character.persona import PersonaError, configured_card_path, load_persona
from model.protocol import ChatRequest
from model.service import ChatService


@pytest.fixture
def restore_lines() -> Iterator[None]:
    before = lines.lines()
    yield
    lines._current = before


def card_settings(tmp_path: Path, name: str, description: str) -> Settings:
    card = {"spec": "chara_card_v2", "data": {"name": name, "description": description}}
    (tmp_path / "card.json").write_text(json.dumps(card), encoding="utf-8")
    settings = Settings(root=tmp_path)
    settings.persona.card = "card.json"
    return settings


@pytest.mark.usefixtures("restore_lines")
def test_another_characters_card_names_her_in_its_own_language(tmp_path: Path) -> None:
    said = use_card(card_settings(tmp_path, "Yuki", "A girl who lives in the snow."))
    assert said.refused == "Only admins can do that. Yuki will keep to the rules!"
    assert said.reset_done.format(count=3).startswith("OK, Yuki won't go on from")
    assert lines.lines() is said
    said = use_card(card_settings(tmp_path, "雪", "住在雪山里的女孩。"))
    assert said.mode_done("off") == "好的，雪在这里先不说话了。管理员可以随时叫我回来。"
    # A Japanese card speaks Japanese (it spoke Chinese: there were no Japanese lines).
    said = use_card(card_settings(tmp_path, "ユキ", "雪山に住んでいる女の子です。"))
    assert said.refused == "それは管理者だけができることだよ。ユキ、ちゃんと決まりは守るからね！"
    # ATRI's own card is written in Chinese, but on the offline English model ("auto")
    # she speaks English: so do the bots, naming her as her English version does.
    assert use_card(Settings()) == lines_for("ATRI", "en")


def test_every_language_has_its_own_words() -> None:
    for other in (EN, JA):
        same = [f.name for f in fields(BotLines) if getattr(other, f.name) == getattr(ZH, f.name)]
        assert same == ["name"]


def test_no_line_names_atri_for_someone_else() -> None:
    for language in ("zh", "en", "ja"):
        filled = lines_for("Yuki", language)
        for field in fields(BotLines):
            text = getattr(filled, field.name)
            assert "亚托莉" not in text and "ATRI" not in text, field.name
            text.format(
                count=1,
                version="v",
                depth=0,
                hours=1,
                minutes=2,
                engine="e",
                base="b",
                message="m",
                latency="1 ms",
                servers=1,
                sticker="s",
                filename="f",
                previous="p",
                live="l",
                reason="r",
                folder="d",
                who="w",
                text="t",
                question="q",
                answers="a",
                record="r",
                title="t",
                place="p",
                result=4,
                hand="h",
                channel="<#1>",
                how="/atri reset group",
                trained_as="t",
                serves="s",
                trained_on="o",
                running="r",
                recorded="r",
                loaded="l",
                path="p",
                rate="1%",
                against="a",
                against_rate="2%",
                margin="3%",
                folders="f",
                ends="e",
                group="g",
                account="a",
            )


@pytest.mark.usefixtures("restore_lines")
async def test_commands_answer_in_the_cards_words(
    tmp_path: Path, echo_service: ChatService
) -> None:
    use_card(card_settings(tmp_path, "Yuki", "A girl who lives in the snow."))
    member = Actor(platform="test", user_id="m1", is_admin=False, channel_id="c1")
    refused = await commands.reset_channel(echo_service, member)
    assert (
        refused.refused and refused.text == "Only admins can do that. Yuki will keep to the rules!"
    )
    nothing = await commands.remembered(echo_service, member)
    assert nothing.text == "Yuki has no memory of a conversation with you yet. Talk to me!"


@pytest.mark.usefixtures("restore_lines")
async def test_reload_and_rollback_answer_in_the_cards_language(
    tmp_path: Path, echo_service: ChatService, echo_settings: Settings
) -> None:
    admin = Actor(platform="test", user_id="boss", is_admin=True, is_owner=True)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    away = echo_settings.worker.model_copy(update={"url": f"http://127.0.0.1:{port}"})
    for name, description, no_adapters, unreachable in [
        (
            "雪",
            "住在雪山里的女孩。",
            "echo 引擎不使用模型版本（LoRA 适配器），没有可以加载或退回的。",
            "联系不上模型服务：请确认 [worker] url 指向的 atri worker 正在运行（详情见日志）。",
        ),
        (
            "Yuki",
            "A girl who lives in the snow.",
            "The echo engine takes no adapters: nothing to load or roll back.",
            "Could not reach the worker: is `atri worker` running at [worker] url? The log says more.",
        ),
        (
            "ユキ",
            "雪山に住んでいる女の子です。",
            "echo エンジンはアダプターを使わないので、読み込むものも戻すものもありません。",
            "ワーカーに接続できませんでした。[worker] url の atri worker が動いているか確認してね（詳しくはログに）。",
        ),
    ]:
        said = use_card(card_settings(tmp_path, name, description))
        for command in (commands.reload, commands.rollback):
            answer = await command(echo_service, admin)
            assert not answer.ok and answer.text == no_adapters
        status = await commands.status(echo_service, admin)
        assert said.status_reload.format(message=no_adapters) in status.text
        async with HttpWorker(away, Secrets()) as remote:  # a worker that is not there
            answer = await commands.reload(remote, admin)
        # One sentence in her language (session 72: the bot's English one is logged).
        assert not answer.ok and answer.text == unreachable, answer.text
        # Posted where a whole group reads it: the setting, not the worker's address.
        assert "[worker] url" in answer.text and str(port) not in answer.text


def test_braces_in_her_name_stay_braces() -> None:
    said = lines_for("{Yuki}", "en")
    assert said.reset_done.format(count=2).startswith("OK, {Yuki} won't go on from")
    assert said.refused == "Only admins can do that. {Yuki} will keep to the rules!"


def write_yuki(tmp_path: Path, settings: Settings) -> Path:
    """An English SillyTavern card for Yuki, which `settings` now name; its file."""
    card_file = tmp_path / "yuki.json"
    card_file.write_text(
        json.dumps({"spec": "chara_card_v2", "data": {"name": "Yuki", "description": "A girl."}}),
        encoding="utf-8",
    )
    settings.persona.card = str(card_file)
    return card_file


@pytest.mark.usefixtures("restore_lines")
async def test_a_card_read_once_serves_the_service_the_lines_and_qqs_names(
    tmp_path: Path, echo_settings: Settings
) -> None:
    """`atri serve` reads the card once and hands it down: nothing reads the file again."""
    card_file = write_yuki(tmp_path, echo_settings)
    card = load_persona(configured_card_path(echo_settings))
    card_file.unlink()
    assert use_card(echo_settings, card).refused.startswith("Only admins can do that. Yuki")
    assert her_names(echo_settings, card) == {"Yuki"}
    assert nonebot_options(echo_settings, Secrets(), card)["nickname"] == {"Yuki"}
    async with await ChatService.open(echo_settings, card=card) as service:
        assert (await service.character()).name == "Yuki"
    with pytest.raises(PersonaError, match="cannot be read"):  # what reading it again meets
        her_names(echo_settings)


async def test_another_characters_canned_lines_reach_the_service_and_the_bots(
    tmp_path: Path, echo_settings: Settings
) -> None:
    """Her busy, error and empty-message lines come from her card (a SillyTavern card has
    none: generic ones in its language, with her name), never ATRI's Chinese lines."""
    write_yuki(tmp_path, echo_settings)
    card = load_persona(configured_card_path(echo_settings))
    error = "Huh? Yuki's head short-circuited for a second... Could you say that again?"
    assert nonebot_options(echo_settings, Secrets(), card)["atri_error_reply"] == error
    async with await ChatService.open(echo_settings, card=card) as service:
        empty = await service.chat(ChatRequest(platform="test", user_id="u1", text="  "))
    assert empty.text == "Hm? What did you want to tell Yuki?"
    # A separate worker that cannot be reached: the relay answers with her error line.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    echo_settings.worker.url = f"http://127.0.0.1:{port}"
    async with HttpWorker(echo_settings.worker, Secrets(), error_reply=error) as remote:
        failed = await remote.chat(ChatRequest(platform="test", user_id="u1", text="hi"))
    assert failed.status == "error" and failed.text == error
