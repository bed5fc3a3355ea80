"""The whole pipeline: files in each format → written datasets that `datasets` loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import docx
import pytest
from datasets import load_dataset
from rich.console import Console

from atri.config import DataprepSettings, Settings
from dataprep.cli import run_prep
from dataprep.pipeline import prepare, run_pipeline
from tests.dataprep.conftest import EXAMPLE_BACKGROUND, FIXTURES

SYSTEM = "你是亚托莉，一个高性能的仿生机器人。"
ALL_FIXTURES = ["plain_zh.txt", "plain_en.txt", "plain_ja.txt", "script.ks", "voice.list"]


def check_sharegpt(rows: list[dict]) -> None:
    """LLaMA-Factory's sharegpt rules: human first, strict alternation, ATRI last."""
    for row in rows:
        roles = [m["from"] for m in row["conversations"]]
        assert roles[0::2] == ["human"] * len(roles[0::2])
        assert roles[1::2] == ["gpt"] * len(roles[1::2])
        assert len(roles) % 2 == 0 and roles[-1] == "gpt"
        assert all(m["value"].strip() for m in row["conversations"])


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    settings = DataprepSettings(
        eval_ratio=0.3, background=str(EXAMPLE_BACKGROUND), background_ratio=0.2
    )
    scripts = [FIXTURES / name for name in ALL_FIXTURES]
    out = tmp_path_factory.mktemp("prep") / "out"
    result = prepare(settings, scripts, out, system_prompt=SYSTEM)
    return out, result


def test_written_files_load_with_datasets(written: tuple[Path, object], tmp_path: Path) -> None:
    out, _ = written
    names = {p.name for p in out.iterdir()}
    assert names == {
        "atri_sharegpt.json",
        "atri_sharegpt_eval.json",
        "atri_messages.jsonl",
        "atri_messages_eval.jsonl",
        "atri_alpaca.json",
        "atri_alpaca_eval.json",
        "dataset_info.json",
        "atri_stats.json",
        "atri_stats.png",
    }
    cache = str(tmp_path / "hf-cache")
    for name in ("atri_sharegpt.json", "atri_sharegpt_eval.json"):
        ds = load_dataset("json", data_files=str(out / name), split="train", cache_dir=cache)
        assert len(ds) > 0 and set(ds.column_names) == {"conversations", "system"}
        assert ds[0]["system"] == SYSTEM
        check_sharegpt(list(ds))
    messages = load_dataset(
        "json", data_files=str(out / "atri_messages.jsonl"), split="train", cache_dir=cache
    )
    roles = [m["role"] for m in messages[0]["messages"]]
    assert roles[0] == "system" and roles[1] == "user" and roles[-1] == "assistant"
    for name in ("atri_alpaca.json", "atri_alpaca_eval.json"):
        alpaca = load_dataset("json", data_files=str(out / name), split="train", cache_dir=cache)
        assert {"instruction", "input", "output", "system", "history"} <= set(alpaca.column_names)
    assert (out / "atri_stats.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dataset_info_matches_llamafactory(written: tuple[Path, object]) -> None:
    out, _ = written
    info = json.loads((out / "dataset_info.json").read_text(encoding="utf-8"))
    assert info["atri"] == {
        "file_name": "atri_sharegpt.json",
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system"},
        "tags": {
            "role_tag": "from",
            "content_tag": "value",
            "user_tag": "human",
            "assistant_tag": "gpt",
        },
    }
    assert info["atri_eval"]["file_name"] == "atri_sharegpt_eval.json"
    for entry in info.values():
        assert (out / entry["file_name"]).is_file()


def test_split_is_by_scene_and_background_is_mixed_in(written: tuple[Path, object]) -> None:
    _, result = written
    train_scenes = {s.scene_key for s in result.train if not s.from_background}
    eval_scenes = {s.scene_key for s in result.evaluation}
    assert eval_scenes and not train_scenes & eval_scenes
    background = [s for s in result.train if s.from_background]
    assert background and result.stats.samples["background"] == len(background)
    assert not any(s.from_background for s in result.evaluation)


def test_stats_account_for_every_atri_line(written: tuple[Path, object]) -> None:
    out, result = written
    stats = json.loads((out / "atri_stats.json").read_text(encoding="utf-8"))
    atri = stats["character_lines"]
    assert atri["in"] == atri["kept"] + sum(atri["dropped"].values())
    assert atri["dropped"]["interjection_only"] >= 2  # 嗯・・・ and Hmm...
    assert atri["dropped"]["no_lead_before"] >= 1
    stages = {s["stage"]: s for s in stats["stages"]}
    assert stages["read"]["count_in"] == len(ALL_FIXTURES) == stages["read"]["count_out"]
    assert stages["filter"]["count_in"] - stages["filter"]["count_out"] == sum(
        stages["filter"]["dropped"].values()
    )
    assert stats["samples"]["train"] == len(result.train)
    # "clean text" reads more lines than "speakers" kept (other speakers' lines end
    # exchanges, so they are cleaned too); its unit says so, or the table looked wrong.
    roles = stats["roles"]
    said = roles["lead"] + roles["character"] + roles["other"]
    assert stages["speakers"]["count_out"] < stages["clean text"]["count_in"] == said
    assert stages["clean text"]["unit"] == "all spoken lines"


def test_user_placeholder_in_replies_only(written: tuple[Path, object]) -> None:
    _, result = written
    replies = [s.reply for s in result.train + result.evaluation]
    assert any("{{user}}" in r for r in replies)
    assert not any("夏生" in r for r in replies)


def test_docx_dump_with_paragraphs_and_a_table(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("夏生：今天去哪？")
    document.add_paragraph("亚托莉：去海边捡贝壳吧！")
    table = document.add_table(rows=2, cols=2)
    for row, (who, line) in zip(
        table.rows, [("夏生", "带上水壶。"), ("亚托莉", "遵命！")], strict=True
    ):
        row.cells[0].text, row.cells[1].text = who, line
    document.add_paragraph("夏生：那就出发。")
    document.add_paragraph("亚托莉：出发！")
    path = tmp_path / "dump.docx"
    document.save(str(path))
    result = run_pipeline(DataprepSettings(eval_ratio=0), [path])
    # The table sits between the paragraphs and is read there.
    assert [s.reply for s in result.train] == ["去海边捡贝壳吧！", "遵命！", "出发！"]
    assert result.files[0].encoding == "docx"


def test_bad_files_are_reported_and_others_still_processed(tmp_path: Path, fixtures: Path) -> None:
    shutil.copy(fixtures / "plain_zh.txt", tmp_path / "good.txt")
    (tmp_path / "broken.docx").write_bytes(b"not a zip at all")
    (tmp_path / "notes.txt").write_text("今天天气很好。\n明天也会很好。\n", encoding="utf-8")
    result = run_pipeline(DataprepSettings(), [tmp_path, tmp_path / "missing.txt"])
    errors = result.errors
    assert len(errors) == 3
    assert any("broken.docx: is not a readable Word document" in e for e in errors)
    assert any(
        "notes.txt: no dialogue found as plain; expected lines like 名字：台词" in e for e in errors
    )
    assert any("missing.txt: file not found" in e for e in errors)
    assert result.train  # good.txt still gave samples
    assert all(e.count(". ") == 0 and e.endswith(".") for e in errors)


def test_forced_format_overrides_detection(fixtures: Path) -> None:
    result = run_pipeline(DataprepSettings(), [fixtures / "script.ks"], fmt="plain")
    assert result.files[0].format == "plain"


def test_run_prep_prints_stats_table(tmp_path: Path, fixtures: Path) -> None:
    console = Console(record=True, width=160)
    settings = Settings(root=tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    code = run_prep(
        settings, [fixtures / "plain_zh.txt", empty], tmp_path / "out", None, SYSTEM, console
    )
    text = console.export_text()
    assert code == 0
    assert "skipped: " in text and "empty.txt: the file is empty" in text
    assert "ATRI lines" in text and "interjection_only = 1" in text
    assert (tmp_path / "out" / "atri_sharegpt.json").is_file()


def test_a_mistyped_path_among_others_writes_nothing(tmp_path: Path, fixtures: Path) -> None:
    # Before: read without it, the dataset lacked that chapter, with status 0.
    console = Console(record=True, width=160)
    out = tmp_path / "out"
    scripts = [fixtures / "plain_zh.txt", tmp_path / "nope.txt", tmp_path / "nada.txt"]
    code = run_prep(Settings(root=tmp_path), scripts, out, None, SYSTEM, console)
    assert code == 1 and not out.exists()
    text = " ".join(console.export_text().split())
    assert f"{tmp_path / 'nope.txt'}, {tmp_path / 'nada.txt'}: not found; check the paths" in text


def test_run_prep_bad_format_and_nothing_found(tmp_path: Path) -> None:
    console = Console(record=True, width=160)
    assert run_prep(Settings(root=tmp_path), [tmp_path], tmp_path / "o", "yaml", "", console) == 2
    assert run_prep(Settings(root=tmp_path), [tmp_path], tmp_path / "o", None, "", console) == 1
    text = " ".join(console.export_text().split())
    assert "No script files found" in text
    # Every extension a folder is searched for is named (.ast and .csv were missing).
    assert ".ast, .bkscr, .ccs, .csv, .docx, .json, .ks, .lab, .list, .nani, .rpy, .scn," in text
    assert ".srt, .tsv, .txt or .vtt files" in text


def test_stats_png_drawn_by_a_child_process_for_big_scripts_gives_the_same_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts = [FIXTURES / "plain_zh.txt", FIXTURES / "plain_en.txt"]
    settings = DataprepSettings(eval_ratio=0.3)
    prepare(settings, scripts, tmp_path / "here", system_prompt=SYSTEM)
    monkeypatch.setattr("dataprep.output_folder.PLOT_CHILD_BYTES", 0)  # every script is "big"
    prepare(settings, scripts, tmp_path / "child", system_prompt=SYSTEM)
    here = sorted(p.name for p in (tmp_path / "here").iterdir())
    assert "atri_stats.png" in here
    assert sorted(p.name for p in (tmp_path / "child").iterdir()) == here
    for name in here:
        assert (tmp_path / "child" / name).read_bytes() == (tmp_path / "here" / name).read_bytes()


def test_with_no_python_to_start_stats_png_is_drawn_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dataprep.output_folder.PLOT_CHILD_BYTES", 0)
    monkeypatch.setattr("sys.executable", str(tmp_path / "no-python"))
    prepare(DataprepSettings(), [FIXTURES / "plain_zh.txt"], tmp_path / "out", system_prompt=SYSTEM)
    assert (tmp_path / "out" / "atri_stats.png").read_bytes()[:4] == b"\x89PNG"


def test_traditional_names_match_simplified_aliases_when_converting(tmp_path: Path) -> None:
    # With traditional_to_simplified the lines were converted but the names were not, so
    # aliases written in Simplified matched no speaker of a Traditional script.
    script = tmp_path / "trad.txt"
    script.write_text("斑鳩夏生：妳在做什麼？\n亞托莉：我在看海，斑鳩夏生。\n", encoding="utf-8")
    settings = DataprepSettings(
        traditional_to_simplified=True,
        lead_aliases=["斑鸠夏生"],
        character_aliases=["亚托莉"],
        eval_ratio=0,
    )
    result = run_pipeline(settings, [script])
    assert [s.turns[-1][1] for s in result.train] == ["我在看海，{{user}}。"]
    assert {(s.name, s.role) for s in result.stats.speakers} == {
        ("斑鳩夏生", "lead"),
        ("亞托莉", "character"),
    }
