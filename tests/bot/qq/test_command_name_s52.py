"""`[bot] command_name = "eileen"` under `atri serve`, and `ATRI_COMMAND_NAME` in
someone's own NoneBot project: QQ answers `/eileen …`, and `/atri …` is a message like
any other."""

from __future__ import annotations

from pathlib import Path

from websockets.asyncio.client import connect

from atri.config import Settings
from tests.bot.qq.test_env_keys_s51 import load_with_env_file
from tests.bot.qq.test_serve_e2e import HEADERS, private_answer, serving
from tests.bot.qq.test_standalone_qa40 import lines_said

EILEEN = '[bot]\ncommand_name = "eileen"'


async def test_qq_answers_the_configured_command_and_not_atri(tmp_path: Path) -> None:
    with serving(tmp_path, extra=EILEEN) as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            assert await private_answer(ws, "/eileen reset") == (
                "好的，亚托莉不会再接着我们之前的对话了（0 条）：它只是存档，没有删除，要彻底删除请用 /eileen forget。重新开始吧！"
            )
            assert await private_answer(ws, "/atri reset") == "亚托莉听到了：/atri reset"
            usage = await private_answer(ws, "/eileen")
            assert "/eileen reset 或 重置记忆" in usage and "/eileen mode" in usage
            assert "/atri" not in usage


async def test_a_standalone_project_names_its_command_in_its_env(
    tmp_path: Path, echo_settings: Settings
) -> None:
    echo_settings.reload.enabled = False
    usage, chat = await lines_said(
        tmp_path, echo_settings, texts=("/eileen", "/atri"), ATRI_COMMAND_NAME="eileen"
    )
    assert "/eileen reset" in usage and "/atri" not in usage
    assert "/eileen" not in chat  # a message to her: the worker is gone, her error line


def test_a_bad_name_in_the_env_is_one_sentence(tmp_path: Path) -> None:
    done = load_with_env_file(tmp_path, "ATRI_COMMAND_NAME=Eileen")
    said = done.stdout + done.stderr
    assert done.returncode != 0 and "loaded" not in done.stdout, said
    assert (
        "ATRI_COMMAND_NAME in NoneBot's .env (or the environment) must be 1 to 26 lower-case "
        "letters of any script, digits, - or _" in said
    )
    assert "write ATRI_COMMAND_NAME=eileen." in said
    assert "Traceback" not in said
