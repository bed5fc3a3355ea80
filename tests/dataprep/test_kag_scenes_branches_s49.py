"""KiriKiri KAG / TyranoScript scenes and branches (inline fixtures written for these tests,
shaped as a study of public games found them): KAG3 save-point labels (`*|`, `*p12|`)
before every message, which made each message a scene of its own and no exchange ever."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.pipeline import PrepResult, run_pipeline

SETTINGS = DataprepSettings(lead_aliases=["由"], character_aliases=["黒狐"], eval_ratio=0)


def _run(tmp_path: Path, *texts: str) -> PrepResult:
    paths = []
    for i, text in enumerate(texts):
        path = tmp_path / f"scene{i:02d}.ks"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return run_pipeline(SETTINGS, paths)


def _exchanges(result: PrepResult) -> list[list[str]]:
    return [[text for _, text in s.turns] for s in result.train + result.evaluation]


def _scenes(result: PrepResult) -> list[str]:
    return [s.scene for s in result.train + result.evaluation]


def _pages(labels: list[str]) -> str:
    """A morning scene of KAG3 messages, each after the label given for it."""
    said = [
        ("黒狐", "「ふあ～あ。おはよう……」"),
        ("由", "「あ、おはよう、黒狐」"),
        ("黒狐", "「今日は早いね」"),
        ("由", "「うん、目が覚めちゃって」"),
        ("黒狐", "「じゃあ朝ごはん作ってあげる」"),
    ]
    return "".join(
        f"{label}\n@nm t={who}\n{text}[p]\n"
        for label, (who, text) in zip(labels, said, strict=True)
    )


# The same, cut where the fourth message starts a scene.
CUT = [
    ["あ、おはよう、黒狐", "今日は早いね"],
    ["うん、目が覚めちゃって", "じゃあ朝ごはん作ってあげる"],
]
MORNING = [
    ["あ、おはよう、黒狐", "今日は早いね"],
    ["あ、おはよう、黒狐", "今日は早いね", "うん、目が覚めちゃって", "じゃあ朝ごはん作ってあげる"],
]


@pytest.mark.parametrize(
    "labels",
    [
        # An anonymous save point before every message (akaaka's scene.ks).
        ["*A_03_10_01|朝から元気な意外性", "*|", "*|", "*|", "*|"],
        # Named save points with no title.
        ["*A_03_10_01|朝から元気な意外性", "*p1|", "*p2|", "*p3|", "*p4|"],
        # The scene's own title repeated before every page.
        ["*p0|第一話", "*p1|第一話", "*p2|第一話", "*p3|第一話", "*p4|第一話"],
        # A save point right after a plain label.
        ["*start", "*p1|", "*|", "*p3|", "*|"],
    ],
)
def test_a_save_point_before_each_message_starts_no_scene(
    tmp_path: Path, labels: list[str]
) -> None:
    result = _run(tmp_path, _pages(labels))
    assert _exchanges(result) == MORNING
    assert len(set(_scenes(result))) == 1


def test_a_save_point_a_file_jumps_to_starts_a_scene(tmp_path: Path) -> None:
    scene = _pages(["*start", "*p1|", "*p2|", "*p3|", "*p4|"])
    result = _run(tmp_path, scene, '*menu\n[link target="*p3"]朝ごはん[endlink]\n[s]\n')
    # The player may come in at *p3: what comes before it is no history of its lines.
    assert _exchanges(result) == CUT
    jumped = _run(tmp_path, scene, "*menu\n@jump storage=scene00.ks target=*p3\n")
    assert _exchanges(jumped) == CUT


@pytest.mark.parametrize(
    "labels",
    [
        # A label with a title of its own, or none at all, starts a scene as before.
        ["*start", "*p1|", "*p2|", "*next|夜の公園", "*p4|"],
        ["*start", "*p1|", "*p2|", "*next", "*p4|"],
    ],
)
def test_a_label_naming_a_scene_starts_one(tmp_path: Path, labels: list[str]) -> None:
    assert _exchanges(_run(tmp_path, _pages(labels))) == CUT


def test_a_save_point_still_ends_the_message_and_its_name(tmp_path: Path) -> None:
    # No wait closes the messages (a macro file not given ends them): the save point does.
    scene = (
        "*start|朝\n@nm t=由\n「あ、おはよう、黒狐」\n*|\n@nm t=黒狐\n「今日は早いね」\n*|\n"
        "窓の外は晴れていた。\n*|\n"
    )
    result = _run(tmp_path, scene)
    assert _exchanges(result) == [["あ、おはよう、黒狐", "今日は早いね"]]


# TyranoScript / KAG `[if]` blocks holding alternatives: each a branch from the exchange
# before the first `[if]`, as a Ren'Py menu's choices are.
DATE = DataprepSettings(lead_aliases=["悠真"], character_aliases=["莉子"], eval_ratio=0)
ASK = "*start\n#悠真\n今日、一緒に出かけない？[p]\n"
AFTER = "#悠真\nじゃあ行こう。[p]\n#莉子\nうん！楽しみだね。[p]\n"


def _date(tmp_path: Path, text: str) -> list[list[str]]:
    path = tmp_path / "date.ks"
    path.write_text(text, encoding="utf-8")
    return _exchanges(run_pipeline(DATE, [path]))


@pytest.mark.parametrize(
    "blocks",
    [
        # Random lines, one `[if]` each (NeetAndAngel's date_riko.ks).
        "[iscript]\ntf.rand = Math.floor(Math.random() * 3)\n[endscript]\n"
        '[if exp="tf.rand == 0"]\n#莉子\n可以哦，我跟你去[p]\n[endif]\n'
        '[if exp="tf.rand == 1"]\n#莉子\n真拿你没办法，我陪你去吧[p]\n[endif]\n'
        '[if exp="tf.rand == 2"]\n#莉子\n拒绝萝莉控！[p]\n[endif]\n',
        # One chain.
        '[if exp="tf.rand == 0"]\n#莉子\n可以哦，我跟你去[p]\n'
        '[elsif exp="tf.rand == 1"]\n#莉子\n真拿你没办法，我陪你去吧[p]\n'
        "[else]\n#莉子\n拒绝萝莉控！[p]\n[endif]\n",
        # The line forms, and blocks ending with no wait of their own.
        '@if exp="tf.rand == 0"\n#莉子\n可以哦，我跟你去\n@elsif exp="tf.rand == 1"\n#莉子\n'
        "真拿你没办法，我陪你去吧\n@else\n#莉子\n拒绝萝莉控！\n@endif\n[p]\n",
    ],
)
def test_each_if_block_is_a_branch_from_the_exchange_before(tmp_path: Path, blocks: str) -> None:
    assert _date(tmp_path, ASK + blocks + AFTER) == [
        ["今日、一緒に出かけない？", "可以哦，我跟你去"],
        ["今日、一緒に出かけない？", "真拿你没办法，我陪你去吧"],
        ["今日、一緒に出かけない？", "拒绝萝莉控！"],
        # After the last `[endif]`: afresh, none of the blocks its history.
        ["じゃあ行こう。", "うん！楽しみだね。"],
    ]


def test_a_chain_saying_nothing_leaves_the_exchange_going_on(tmp_path: Path) -> None:
    # A chain of stage commands, an `[endif]` with no `[if]`, an `[if]` inside a line.
    quiet = '[if exp="f.rain"]\n[bg storage="rain.jpg"]\n[else]\n[bg storage="sun.jpg"]\n[endif]\n'
    blocks = (
        '[if exp="f.love > 3"]\n#莉子\nいいよ、[if exp="f.rain"]傘を持って[endif]行こう！[p]\n'
        "[else]\n#莉子\nやだ。[p]\n[endif]\n[endif]\n"
    )
    assert _date(tmp_path, ASK + quiet + blocks + quiet + AFTER) == [
        ["今日、一緒に出かけない？", "いいよ、傘を持って行こう！"],
        ["今日、一緒に出かけない？", "やだ。"],
        ["じゃあ行こう。", "うん！楽しみだね。"],
    ]


def test_an_if_inside_an_if_block_forks_from_that_block(tmp_path: Path) -> None:
    blocks = (
        '[if exp="f.love > 3"]\n#莉子\nいいよ！[p]\n#悠真\nどこに行く？[p]\n'
        '[if exp="tf.rand == 0"]\n#莉子\n海！[p]\n[else]\n#莉子\n山！[p]\n[endif]\n'
        "[else]\n#莉子\nやだ。[p]\n[endif]\n"
    )
    assert _date(tmp_path, ASK + blocks + AFTER) == [
        ["今日、一緒に出かけない？", "いいよ！"],
        ["今日、一緒に出かけない？", "いいよ！", "どこに行く？", "海！"],
        ["今日、一緒に出かけない？", "いいよ！", "どこに行く？", "山！"],
        ["今日、一緒に出かけない？", "やだ。"],
        ["じゃあ行こう。", "うん！楽しみだね。"],
    ]


# KAG speaker macros keeping the name in f.name (akaaka's macro_charaname.ks).
SPEAKER_MACROS = "".join(
    f'@macro name="【{tag}】"\n[eval exp={exp}]\n@current layer=message0 page=fore\n'
    "[nowait]　【[emb exp=f.name]】　[endnowait]\n[eval exp=\"f.name=''\"]\n@endmacro\n"
    for tag, exp in [
        ("由", "%name|f.name='Yue'"),
        ("黒狐", "\"f.name='Kurogitsune'\""),
        ("鈴来くん", "%name|f.name='鈴来くん'"),
    ]
)


def test_a_macro_setting_the_name_it_shows_names_its_speaker_at_each_call(tmp_path: Path) -> None:
    scene = (
        "*A_03_10_01|morning\n@【黒狐】\nSeriously, trash again...\n@endmessage\n*|\n"
        "@【由】\nOh, morning, Kurogitsune.\n@endmessage\n*|\n"
        "@【黒狐】\nMorning. You're up early today.\n@endmessage\n*|\n"
    )
    festival = "*s0_02_09|festival\n@【鈴来くん】 name=\"f.name='Suzuki'\"\nOkonomiyaki!\n*|\n"
    settings = DataprepSettings(
        lead_aliases=["Yue"], character_aliases=["Kurogitsune"], eval_ratio=0
    )
    paths = []
    for name, text in [("macro.ks", SPEAKER_MACROS), ("a.ks", scene), ("s.ks", festival)]:
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(tmp_path / name)
    result = run_pipeline(settings, paths)
    assert {s.name: s.lines for s in result.stats.speakers} == {
        "Kurogitsune": 2,
        "Yue": 1,
        "Suzuki": 1,  # the call's own `name=` argument
    }
    assert _exchanges(result) == [["Oh, morning, Kurogitsune.", "Morning. You're up early today."]]
