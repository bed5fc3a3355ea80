"""A run over files in several languages says so: one game's scripts side by side in
four languages (Katawa Shoujo's game/ folder: English, Spanish, French and Japanese as
separate labels) made a dataset mixing them without a word."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.languages import sample_language
from dataprep.pipeline import run_pipeline


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (
            "夏生：今天的天气真好啊，我们去海边吧。亚托莉：好的！我是高性能的机器人，所以也会游泳哦！"
            * 2,
            "Chinese",
        ),
        (
            "夏生「おはよう、アトリ。今日はいい天気だね」アトリ「はい！高性能ですから！」" * 2,
            "Japanese",
        ),
        (
            "Hisao: What is that? Lilly: It is the tea, and you should try it. I think that you will."
            * 2,
            "English",
        ),
        (
            "Hisao: ¿Qué es eso? Lilly: Es el té, y yo creo que está muy bueno. Pero no por ahora."
            * 2,
            "Spanish",
        ),
        (
            "Hisao : C'est quoi ? Lilly : C'est le thé, et je pense que vous allez aimer. Mais pas les autres."
            * 2,
            "French",
        ),
        ("Снейп: Что это? Гермиона: Это чай, профессор. Я думаю, вам понравится." * 2, "Russian"),
        ("Hi.", ""),  # too little to tell
    ],
)
def test_a_samples_language(text: str, language: str) -> None:
    assert sample_language(text) == language


def run(tmp_path: Path, files: dict[str, str]) -> list[str]:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    settings = DataprepSettings(lead_aliases=["夏生"], character_aliases=["亚托莉", "アトリ"])
    return run_pipeline(settings, sorted(tmp_path.iterdir())).notes


ZH = "".join(
    f"夏生：今天我们去哪里呢？第{i}次。\n亚托莉：去海边吧！我是高性能的机器人。\n" for i in range(6)
)
JA = "".join(
    f"夏生「今日はどこに行こうか？{i}回目だ」\nアトリ「海に行きましょう！高性能ですから」\n"
    for i in range(6)
)


def test_files_in_two_languages_are_named_in_a_note(tmp_path: Path) -> None:
    notes = run(tmp_path, {"a.txt": ZH, "b.txt": JA, "c.txt": ZH})
    assert (
        "The files read are in 2 languages: 2 files in Chinese (a.txt, c.txt); 1 file in"
        " Japanese (b.txt). The samples mix them: give the files of the language she is to"
        " speak." in notes
    )


def test_files_in_one_language_get_no_note(tmp_path: Path) -> None:
    notes = run(tmp_path, {"a.txt": ZH, "b.txt": ZH.replace("海边", "山上")})
    assert not any("languages" in note for note in notes)
