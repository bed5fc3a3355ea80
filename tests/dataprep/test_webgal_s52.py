"""Session 52: WebGAL scenes (`game/scene/*.txt`, `角色:台词;`) are read as WebGAL reads
them. Before, they were plain dumps: every command a speaker (`changeFigure`, `changeBg`
and `choose` said lines), `;` and voice flags (`-v1.wav -left`) left in the replies, a
line with no name given to nobody, and narration (`:旁白;`) a line of no one's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, compile_markers, detect_format, detect_format_why, parse
from dataprep.formats.common import UNRESOLVED_VARIABLE
from dataprep.pipeline import run_pipeline

SCENE = """\
; 第一幕：教室
changeBg:classroom.webp -next;
bgm:morning.mp3 -volume=80;
changeFigure:atri_smile.png -left -next;
:教室里很安静。;
夏生:早上好，亚托莉。 -v_natsuki_001.ogg;
亚托莉:早上好，夏生先生！ -vocal=atri_001.ogg -left;
今天的天气真好呢。 -left; 没有名字：还是亚托莉在说
夏生:是啊。;
setVar:mood=1;
亚托莉:[高性能](style=color:#f00\\;)的[我](わたし)，一定能帮上忙！|请交给我吧。;
choose:去海边:sea|回家:home;
label:sea;
亚托莉:海边！;
"""


def lines(text: str, **options: object) -> list[tuple[str | None, str]]:
    said = parse(text, "start.txt", "webgal", ParseOptions(**options))  # type: ignore[arg-type]
    return [(u.speaker, u.text) for u in said]


def test_speakers_narration_and_the_speaker_carried_over() -> None:
    assert lines(SCENE) == [
        (None, "教室里很安静。"),
        ("夏生", "早上好，亚托莉。"),
        ("亚托莉", "早上好，夏生先生！"),
        ("亚托莉", "今天的天气真好呢。"),
        ("夏生", "是啊。"),
        ("亚托莉", "高性能的我，一定能帮上忙！请交给我吧。"),
        ("亚托莉", "海边！"),
    ]


def test_a_choice_and_a_label_end_the_exchange(tmp_path: Path) -> None:
    said = parse(SCENE, "start.txt", "webgal", ParseOptions())
    assert said[-2].branch != said[-1].branch
    assert len({u.branch for u in said[:-1]}) == 1
    result = run_pipeline(_settings(), [_write(tmp_path, SCENE)])
    replies = [s.reply for s in result.train]
    assert "海边！" not in replies


def test_say_speaker_clear_and_a_line_with_no_colon() -> None:
    text = (
        "say:你好。 -speaker=亚托莉;\n"
        "say:还是我。;\n"
        "say:这是旁白。 -clear;\n"
        "没有冒号，也是旁白。;\n"
        "夏生:嗯。;\n"
        "说话的还是夏生 -speaker=亚托莉;\n"
        "say:又是旁白。 -clear=true;\n"
    )
    assert lines(text) == [
        ("亚托莉", "你好。"),
        ("亚托莉", "还是我。"),
        (None, "这是旁白。"),
        (None, "没有冒号，也是旁白。"),
        ("夏生", "嗯。"),
        ("亚托莉", "说话的还是夏生"),
        (None, "又是旁白。"),
    ]


def test_escapes_ruby_line_breaks_and_variables() -> None:
    text = (
        "亚托莉:时间是10\\:30\\;别迟到\\|好吗\\.; 这里是注释\n"
        "时间是10\\:30。;\n"
        "亚托莉:你好，{name}！;\n"
        "亚托莉:分数是{$stage.score}。;\n"
        "亚托莉:\\{不是变量\\}。;\n"
        "Atri:Good morning,|Natsuki.;\n"
    )
    said = parse(text, "a.txt", "webgal", ParseOptions())
    assert [(u.speaker, u.text, u.dropped) for u in said] == [
        ("亚托莉", "时间是10:30;别迟到|好吗.", None),
        ("亚托莉", "时间是10:30。", None),  # an escaped colon ends no speaker
        ("亚托莉", "你好，{name}！", None),  # left for the run to fill or name
        ("亚托莉", "分数是{$stage.score}。", UNRESOLVED_VARIABLE),
        ("亚托莉", "{不是变量}。", None),
        ("Atri", "Good morning, Natsuki.", None),
    ]


def test_concat_goes_on_with_the_line_before() -> None:
    text = (
        "亚托莉:我是高性能的…… -notend;\n"
        "changeFigure:atri_proud.png -left -next;\n"
        "机器人哦！ -concat;\n"
        "夏生:是吗。;\n"
        ":他笑了。 -concat;\n"
        ":又笑了。 -concat=true;\n"
    )
    assert lines(text) == [
        ("亚托莉", "我是高性能的……机器人哦！"),
        ("夏生", "是吗。"),
        (None, "他笑了。又笑了。"),
    ]


def test_intro_is_narration_and_a_scene_marker_starts_a_scene() -> None:
    text = (
        "intro:回忆不需要剧本，|反正一说出口 -hold;\n亚托莉:早。;\nintro:第二章;\n亚托莉:晚安。;\n"
    )
    said = parse(text, "a.txt", "webgal", ParseOptions(scene_marker=compile_markers(["第.章"])))
    assert [(u.speaker, u.text, u.scene) for u in said] == [
        (None, "回忆不需要剧本，反正一说出口", "0"),
        ("亚托莉", "早。", "0"),
        ("亚托莉", "晚安。", "1"),
    ]


def test_argument_lines_belong_to_the_statement_above() -> None:
    text = "亚托莉:早上好\n  |夏生先生！\n  -v1.wav;\n夏生:早。;\n"
    assert lines(text) == [("亚托莉", "早上好夏生先生！"), ("夏生", "早。")]


def test_commands_old_and_new_are_never_said() -> None:
    text = (
        "setBgAni:bg_down 3s;\nsetFigAni:shake 1s -left;\npixiInit;\nend;\n"
        'getUserInput:name -title=你叫什么;\nsetTransform:{"position": {"x": 500}} -next;\n'
        "wait:500;\nchangeScene:chapter2.txt;\n"
    )
    assert lines(text) == []


def test_config_txt_says_nothing_and_is_told_as_webgal() -> None:
    config = "Game_name:欢迎使用WebGAL！;\nGame_key:0f87dstRg;\nTitle_img:title.webp;\n"
    assert detect_format(config, "config.txt") == "webgal"
    assert lines(config) == []


def test_detected_from_its_lines() -> None:
    fmt, why = detect_format_why(SCENE, "start.txt")
    assert fmt == "webgal" and "changeBg" in why
    # A dialogue-only scene, told by its narration and statements.
    spoken = "".join(f":旁白{i}。;\n亚托莉:台词{i}。;\n" for i in range(4))
    assert detect_format(spoken, "chapter1.txt") == "webgal"
    # One command of its own among lines that end as statements do.
    assert detect_format("changeBg:a.png -next\n你好。;\n很好。;\n", "b.txt") == "webgal"


def test_a_scene_without_semicolons_is_told_too() -> None:
    text = (
        "{name}:呼——\n{name}:终于到了。\n:我打开了灯。\nintro:未完待续 -hold;\nchangeScene:b.txt\n"
    )
    assert detect_format(text, "main1.txt") == "webgal"


def test_the_name_the_player_types_is_the_lead(tmp_path: Path) -> None:
    (tmp_path / "start.txt").write_text(
        "getUserInput:pname -title=你叫什么 -buttonText=确定;\nchangeScene:room.txt;\n", "utf-8"
    )
    room = "changeBg:room.webp -next;\n{pname}:早上好。;\n亚托莉:早上好，{pname}先生！;\n"
    (tmp_path / "room.txt").write_text(room, "utf-8")
    result = run_pipeline(_settings(), [tmp_path])
    assert [(s.prompt, s.reply) for s in result.train] == [("早上好。", "早上好，夏生先生！")]
    # Without the scene that asks for it, `{pname}` is no one known.
    alone = run_pipeline(_settings(), [tmp_path / "room.txt"])
    assert alone.train == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("夏生：早上好。\n亚托莉：早上好！\n夏生：走吧。\n亚托莉：好的。\n", "dump.txt"),
        ("Natsuki: Morning.\nAtri: Good morning!\nlabel: a note;\n", "dump.txt"),
        ("BGM：morning.mp3\n夏生：早。\n选项：去海边\n", "dump.txt"),
        (SCENE, "scene.ks"),
        (SCENE, "scene.rpy"),
    ],
)
def test_other_formats_are_not_taken_for_webgal(text: str, name: str) -> None:
    assert detect_format(text, name) != "webgal"


def test_no_fixture_of_another_format_is_taken_for_webgal() -> None:
    fixtures = Path(__file__).parent / "fixtures"
    taken = [
        str(path)
        for path in fixtures.rglob("*")
        if path.is_file()
        and detect_format(path.read_text("utf-8", errors="replace"), path.name) == "webgal"
    ]
    assert taken == []


def test_a_scene_of_narration_only_suggests_no_other_format(tmp_path: Path) -> None:
    scene = (
        "changeBg:sea.webp -next;\nbgm:wave.mp3;\nintro:很久以前;\n:海很蓝。;\nchangeScene:b.txt;\n"
    )
    result = run_pipeline(_settings(), [_write(tmp_path, scene)])
    (report,) = result.stats.files
    assert report.error is not None and "no dialogue found as webgal" in report.error
    assert "--format" not in report.error


def test_atri_prep_on_a_scene_folder_writes_samples(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[dataprep]\neval_ratio = 0\nuser_placeholder = false\nlead_aliases = ["夏生"]\n'
        'character_aliases = ["亚托莉"]\n',
        encoding="utf-8",
    )
    scenes = tmp_path / "game" / "scene"
    scenes.mkdir(parents=True)
    (scenes / "start.txt").write_text(SCENE, encoding="utf-8")
    (tmp_path / "game" / "config.txt").write_text("Game_name:测试;\nGame_key:k;\n", "utf-8")
    out = tmp_path / "out"
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app, ["--config", str(config), "prep", str(tmp_path / "game"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Read as webgal" in result.output
    written = json.loads((out / "character_sharegpt.json").read_text("utf-8"))
    assert [[t["value"] for t in c["conversations"]] for c in written] == [
        ["早上好，亚托莉。", "早上好，夏生先生！\n今天的天气真好呢。"],
        [
            "早上好，亚托莉。",
            "早上好，夏生先生！\n今天的天气真好呢。",
            "是啊。",
            "高性能的我，一定能帮上忙！请交给我吧。",
        ],
    ]


def _settings() -> DataprepSettings:
    return DataprepSettings(
        lead_aliases=["夏生"], character_aliases=["亚托莉"], eval_ratio=0, user_placeholder=False
    )


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "start.txt"
    path.write_text(text, encoding="utf-8")
    return path
