"""Session 74: fan scripts in shapes not planned for. The lead's inner thoughts (a line of
his wholly in brackets, `夏生（心想）：`, a Ren'Py thought character) were trained as things
he said to her; `亚托莉说：“…”` made a speaker "亚托莉说"; a JSON list of {"name", "text"}
was refused; a file without line breaks was blamed on the aliases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from dataprep.speakers import is_thought_text


def _prep(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, str | bytes],
    config: str = "",
) -> tuple[int, str, Path]:
    """`atri prep` on the files (under scripts/) into out/: (exit code, all it said, out);
    `config`: more of [dataprep]."""
    monkeypatch.chdir(tmp_path)
    # ATRI's aliases unless `config` names others; every sample in train, whatever the scenes.
    (tmp_path / "config.toml").write_text(f"[dataprep]\neval_ratio = 0\n{config}", encoding="utf-8")
    scripts = tmp_path / "scripts"
    for name, content in files.items():
        path = scripts / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(app, ["prep", "scripts", "--out", "out"])
    said = " ".join(f"{result.stdout}\n{result.stderr}".split())
    return result.exit_code, said, tmp_path / "out"


def _exchanges(out: Path) -> list[list[tuple[str, str]]]:
    """Each written sample as (from, value) pairs, the system prompt left out."""
    samples = json.loads((out / "atri_sharegpt.json").read_text(encoding="utf-8"))
    return [
        [(turn["from"], turn["value"]) for turn in sample["conversations"]] for sample in samples
    ]


def _prompts(out: Path) -> set[str]:
    return {value for sample in _exchanges(out) for who, value in sample if who == "human"}


def _replies(out: Path) -> set[str]:
    return {value for sample in _exchanges(out) for who, value in sample if who == "gpt"}


def _thoughts_left_out(out: Path) -> int:
    stats = json.loads((out / "atri_stats.json").read_text(encoding="utf-8"))
    (clean,) = [s for s in stats["stages"] if s["stage"] == "clean text"]
    return clean["dropped"].get("lead_thought", 0)


DUMP = """\
【夏生】「……这是什么？」
【亚托莉】「早上好，夏生先生！」
【夏生】（这家伙，真的是机器人吗……）
【亚托莉】「您在想什么呢？」
【夏生】（笑）没什么。
【亚托莉】（好困……）
【夏生】「你会做饭？」
【亚托莉】「当然！螃蟹料理是我的拿手好戏！」
"""


def test_a_lead_line_wholly_in_brackets_is_his_thought_and_no_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, said, out = _prep(tmp_path, monkeypatch, {"dump.txt": DUMP})
    assert code == 0, said
    prompts = _prompts(out)
    assert not any("这家伙" in p for p in prompts)
    # It ends nothing: her line after it goes on from her line before.
    assert "早上好，{{user}}先生！\n您在想什么呢？" in _replies(out)
    # An aside that starts his line is said all the same; her own brackets are hers.
    assert "（笑）没什么。" in prompts
    assert "（好困……）" in _replies(out)
    assert _thoughts_left_out(out) == 1
    assert "lead_thought = 1" in said


NOVEL = """\
夏生：你到底是什么？
亚托莉说：“我是高性能的机器人！”
夏生：那你会什么？
亚托莉笑着说：“做饭、打扫，什么都会！”
夏生（心想）：真的假的……
夏生：证明给我看。
亚托莉：“好的！请稍等！”
夏生心想：她到底能做出什么来。
夏生：怎么样？
亚托莉得意地说：“螃蟹料理完成了！”
"""


def test_a_thinking_name_is_a_thought_and_a_speech_verb_after_her_name_is_hers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, said, out = _prep(tmp_path, monkeypatch, {"novel.txt": NOVEL})
    assert code == 0, said
    prompts = _prompts(out)
    assert "证明给我看。" in prompts and "怎么样？" in prompts
    assert not any("真的假的" in p or "她到底" in p for p in prompts)
    assert {"我是高性能的机器人！", "做饭、打扫，什么都会！", "螃蟹料理完成了！"} <= _replies(out)
    assert _thoughts_left_out(out) == 2
    stats = json.loads((out / "atri_stats.json").read_text(encoding="utf-8"))
    roles = {s["name"]: s["role"] for s in stats["speakers"]}
    assert roles["亚托莉说"] == roles["亚托莉笑着说"] == "character"
    assert roles["夏生心想"] == "lead"


RENPY_CHARACTERS = """\
define a = Character(_("亚托莉"), image="atri")
define n = Character(name="夏生")
define mc_think = Character("夏生", what_prefix="（", what_suffix="）", what_italic=True)
"""
RENPY_STORY = """\
label ch1:
    a "早上好，夏生先生！"
    n "你是谁？"
    a "我是高性能的机器人！"
    mc_think "这家伙到底是什么……"
    n "会做饭吗？"
    a "当然会！"
    n "(What on earth is she...)"
    n "那就拜托了。"
    a "包在我身上！"
    return
"""


def test_a_renpy_thought_character_and_a_bracketed_line_are_his_thoughts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, said, out = _prep(
        tmp_path,
        monkeypatch,
        {"game/characters.rpy": RENPY_CHARACTERS, "game/ch1.rpy": RENPY_STORY},
    )
    assert code == 0, said
    prompts = _prompts(out)
    assert "会做饭吗？" in prompts and "那就拜托了。" in prompts
    assert not any("这家伙" in p or "What on earth" in p for p in prompts)
    assert _thoughts_left_out(out) == 2


KIRIKIRI = """\
*start|海辺の朝
[cm]
【アトリ】「おはようございます、夏生さん！」[p]
【夏生】「……お前、本当にロボットなのか？」[p]
【アトリ】「はい！　私は高性能ですから！」[p]
【夏生】（なんなんだ、こいつは……）[p]
【夏生】「じゃあ、料理はできるか？」[p]
【アトリ】「もちろんです。カニを茹でますね」[p]
"""
TABLE = """\
speaker,text
夏生,「起きろ」
亚托莉,「再睡五分钟……」
夏生,（やれやれ、面倒だな……）
夏生,「だめだ」
亚托莉,「好过分！」
"""


@pytest.mark.parametrize(
    ("name", "content", "said_next"),
    [
        ("atri01.ks", KIRIKIRI.encode("cp932"), "じゃあ、料理はできるか？"),
        ("export.csv", TABLE, "だめだ"),
    ],
    ids=["kirikiri-cp932", "csv"],
)
def test_a_thought_is_left_out_in_other_formats_too(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    content: str | bytes,
    said_next: str,
) -> None:
    code, said, out = _prep(tmp_path, monkeypatch, {name: content})
    assert code == 0, said
    assert said_next in _prompts(out)
    assert _thoughts_left_out(out) == 1


def test_a_json_list_of_name_and_text_is_read_as_the_csv_text_column_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = [
        {"name": "Natsuki", "text": "Are you awake?"},
        {"name": "Atri", "text": "Good morning, Natsuki!"},
        {"name": "", "text": "She puffed out her chest."},
        {"name": "Natsuki", "content": "Do robots sleep?"},
        {"name": "Atri", "content": "Of course! Even high-performance robots need rest."},
    ]
    export = json.dumps(messages, ensure_ascii=False)
    code, said, out = _prep(tmp_path, monkeypatch, {"export.json": export})
    assert code == 0, said
    assert _exchanges(out)[-1] == [
        ("human", "Are you awake?"),
        ("gpt", "Good morning, {{user}}!"),
        ("human", "Do robots sleep?"),
        ("gpt", "Of course! Even high-performance robots need rest."),
    ]


LINES = ["夏生：你是谁？", "亚托莉：我是高性能的机器人！", "夏生：会做饭吗？", "亚托莉：当然会！"]


@pytest.mark.parametrize("separator", ["\u2028", "\u0085", "\u2029"], ids=["LS", "NEL", "PS"])
def test_unicode_line_separators_are_line_breaks_in_a_file_without_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, separator: str
) -> None:
    code, said, out = _prep(tmp_path, monkeypatch, {"dump.txt": separator.join(LINES) + "\n"})
    assert code == 0, said
    assert _replies(out) == {"我是高性能的机器人！", "当然会！"}


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("\\n".join(LINES), "holds \\n written out"),
        ("".join(f"【夏生】「第{i}次问你？」【亚托莉】「第{i}次回答！」" for i in range(2000)), ""),
    ],
    ids=["escaped-breaks", "long-line"],
)
def test_a_file_without_line_breaks_is_said_so_not_blamed_on_the_aliases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, hint: str
) -> None:
    code, said, out = _prep(tmp_path, monkeypatch, {"dump.txt": text})
    assert code == 1
    assert "dump.txt: is 1 line of" in said and "not separated by line breaks" in said
    assert hint in said
    assert "No speaker matched the character (ATRI), as dump.txt is not split into lines" in said
    assert "add the right names" not in said
    assert not out.exists()


@pytest.mark.parametrize(
    ("line", "thought"),
    [
        ("（这家伙，真的是机器人吗……）", True),
        ("(What on earth…)", True),
        ("（她真的会做饭吗（笑）……）", True),  # an aside inside: still wholly in brackets
        ("((sigh) She never gives up.)", True),  # a Ren'Py thought character's line
        ("（点头）", False),  # an action she answers, as members write theirs in a chat
        ("(nods)", False),
        ("(shakes his head slowly)", False),
        ("（笑）好啊", False),
        ("(a) and (b)", False),
    ],
)
def test_a_thought_is_said_in_brackets_an_action_is_done(line: str, thought: bool) -> None:
    assert is_thought_text(line) is thought
