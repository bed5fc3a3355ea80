"""Background facts as Q&A in ATRI's voice, and the train/eval split by scene."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dataprep.background import (
    Asking,
    background_pool,
    choose_background,
    first_person,
    mix_count,
    parse_markdown,
    read_lore,
)
from dataprep.errors import DataprepError
from dataprep.records import Role, Sample
from dataprep.split import split_by_scene
from tests.dataprep.conftest import EXAMPLE_BACKGROUND


def samples_of(path: Path, templates: list[str], aliases: list[str]) -> list[Sample]:
    return background_pool(read_lore(path), Asking(templates, aliases)).samples


def test_example_background_gives_first_person_answers() -> None:
    assert len(read_lore(EXAMPLE_BACKGROUND).facts) >= 5
    samples = samples_of(EXAMPLE_BACKGROUND, ["说说你的{topic}吧。"], ["亚托莉"])
    questions = [s.prompt for s in samples]
    assert "你叫什么名字？" in questions and "说说你的名字吧。" in questions
    assert all(s.turns[0][0] is Role.LEAD and s.turns[-1][0] is Role.CHARACTER for s in samples)
    assert all(s.from_background for s in samples)


def test_markdown_background(tmp_path: Path) -> None:
    md = "# 关于亚托莉\n\n## 爱好\n亚托莉喜欢吃螃蟹。\n- Q: 你喜欢什么？\n"
    facts = parse_markdown(md)
    assert [(f.topic, f.answer, f.questions) for f in facts] == [
        ("爱好", "亚托莉喜欢吃螃蟹。", ["你喜欢什么？"])
    ]
    path = tmp_path / "bg.md"
    path.write_text(md, encoding="utf-8")
    (only,) = samples_of(path, [], ["亚托莉"])
    assert only.turns == [(Role.LEAD, "你喜欢什么？"), (Role.CHARACTER, "我喜欢吃螃蟹。")]

    # Notepad's "Unicode" (UTF-16 with its mark) is read; "ANSI" (GBK) names its line.
    path.write_text(md, encoding="utf-16")
    assert [f.topic for f in read_lore(path).facts] == ["爱好"]
    path.write_bytes(md.encode("gbk"))
    with pytest.raises(DataprepError, match=r"bg\.md: background file line 1 is not UTF-8"):
        read_lore(path)


def test_first_person_conversion_leaves_first_person_text_alone() -> None:
    assert first_person("我叫亚托莉。", ["亚托莉"]) == "我叫亚托莉。"
    assert first_person("ATRI loves crabs.", ["ATRI"]) is None  # kept as written


def test_bad_background_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "bg.toml"
    path.write_text("[[fact]]\ntopic = 1\n", encoding="utf-8")
    with pytest.raises(DataprepError, match=r"bg.toml: fact number 1 needs an answer string"):
        read_lore(path)
    path.write_text("not = [toml", encoding="utf-8")
    with pytest.raises(DataprepError, match="not valid TOML"):
        read_lore(path)


def test_mix_ratio() -> None:
    assert mix_count(90, 0.1) == 10
    assert mix_count(90, 0.0) == 0
    assert mix_count(0, 0.5) == 0
    pool = background_pool(read_lore(EXAMPLE_BACKGROUND), Asking(["{topic}?"], []))
    assert choose_background(pool, 3, seed=1) == choose_background(pool, 3, seed=1)
    assert len(choose_background(pool, 10_000, seed=1)) == len(pool.samples)


def scene_samples(counts: dict[str, int]) -> list[Sample]:
    return [
        Sample([(Role.LEAD, f"{scene}{i}"), (Role.CHARACTER, "好")], "s.txt", scene)
        for scene, n in counts.items()
        for i in range(n)
    ]


def test_split_keeps_each_scene_on_one_side() -> None:
    samples = scene_samples({f"scene{i}": 1 + i % 4 for i in range(40)})
    train, evaluation = split_by_scene(samples, 0.2, seed=7)
    assert len(train) + len(evaluation) == len(samples)
    train_scenes = {s.scene_key for s in train}
    eval_scenes = {s.scene_key for s in evaluation}
    assert train_scenes and eval_scenes and not train_scenes & eval_scenes
    assert 0.1 <= len(evaluation) / len(samples) <= 0.3
    assert split_by_scene(samples, 0.2, seed=7) == (train, evaluation)


def test_split_edge_cases() -> None:
    one_scene = scene_samples({"only": 5})
    assert split_by_scene(one_scene, 0.5, seed=0) == (one_scene, [])
    two = scene_samples({"a": 5, "b": 5})
    train, evaluation = split_by_scene(two, 0.9, seed=0)
    assert len(train) == 5 and len(evaluation) == 5  # train always keeps a scene
    assert split_by_scene(two, 0.0, seed=0) == (two, [])


def test_split_does_not_change_when_the_script_folder_moves() -> None:
    def at(folder: str) -> list[Sample]:
        return [
            Sample([(Role.LEAD, f"q{i}"), (Role.CHARACTER, f"a{i}")], f"{folder}/{name}", str(i))
            for name in ("ch1.txt", "sub/ch2.txt")
            for i in range(30)
        ]

    def sides(samples: list[Sample]) -> list[list[tuple[str, str]]]:
        folder = samples[0].source.rsplit("/", 1)[0]
        return [
            [(s.source.removeprefix(folder), s.scene) for s in side]
            for side in split_by_scene(samples, 0.2, seed=3)
        ]

    assert sides(at("/home/a/game")) == sides(at("/tmp/tmpx81/elsewhere"))


def test_a_long_line_of_blanks_in_background_reads_at_once() -> None:
    # Each split of the blanks was tried against "Q:" (16k blanks took 5 s).
    started = time.perf_counter()
    facts = parse_markdown(
        "## 生日\n" + " " * 50_000 + "我的生日是八月二十八日。\nQ: 你的生日是哪天？\n"
    )
    assert time.perf_counter() - started < 1
    assert facts[0].questions == ["你的生日是哪天？"]
