"""What `atri prep` leaves behind and says: earlier files survive a failed run, the
speakers it saw, empty versus dialogue-less files, --format hints, no empty eval file."""

from __future__ import annotations

import errno
import gzip
import json
import os
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from atri.config import DataprepSettings, Settings
from dataprep import writers
from dataprep.cli import run_prep
from dataprep.errors import DataprepError
from dataprep.pipeline import prepare, run_pipeline
from tests.cli_output import says
from tests.dataprep.conftest import FIXTURES

SYSTEM = "你是亚托莉，正在和{{user}}说话。"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def prep(tmp_path: Path, scripts: list[Path], out: Path, **dataprep: object) -> tuple[int, str]:
    console = Console(record=True, width=1000)
    settings = Settings(root=tmp_path, dataprep=DataprepSettings(**dataprep))  # type: ignore[arg-type]
    code = run_prep(settings, scripts, out, None, SYSTEM, console)
    return code, console.export_text()


@pytest.fixture
def earlier(tmp_path: Path) -> Path:
    out = tmp_path / "dataset"
    code, said = prep(tmp_path, [FIXTURES / "plain_zh.txt"], out)
    assert code == 0 and (out / "atri_sharegpt.json").is_file()
    assert "3 eval samples in 1 held-out scene;" in said  # one scene, not "1 … scenes"
    (out / "notes.md").write_text("mine", encoding="utf-8")  # not ours: never touched
    return out


def make_empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    return path


def make_binary(tmp_path: Path) -> Path:
    path = tmp_path / "picture.txt"
    path.write_bytes(bytes(range(256)) * 40)
    return path


def make_prose(tmp_path: Path) -> Path:
    path = tmp_path / "prose.txt"
    path.write_text("海风吹过堤防。\n远处传来汽笛声。\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("make", "settings", "why"),
    [
        (lambda tmp: tmp / "typo.txt", {}, "typo.txt: file not found"),
        (make_empty, {}, "empty.txt: the file is empty"),
        (make_binary, {}, "picture.txt: is not text in any encoding tried"),
        (make_prose, {}, "prose.txt: no dialogue found as plain"),
        (
            lambda tmp: FIXTURES / "plain_zh.txt",
            {"character_aliases": ["Eileen"]},
            "No speaker matched the character (Eileen) in [dataprep] character_aliases",
        ),
        (
            lambda tmp: FIXTURES / "plain_zh.txt",
            {"lead_aliases": ["Max"]},
            "No speaker matched the lead in [dataprep] lead_aliases",
        ),
    ],
)
def test_a_failed_run_leaves_earlier_files_byte_for_byte(
    tmp_path: Path, earlier: Path, make, settings: dict[str, object], why: str
) -> None:
    before = snapshot(earlier)
    code, text = prep(tmp_path, [make(tmp_path)], earlier, **settings)
    assert code == 1
    assert why in text
    assert f"{earlier} was left as it was" in text or "Nothing was written" in text
    assert "written to" not in text
    # The speakers table only when some line was read (not an empty table).
    assert ("speakers seen" in text) == bool(settings)
    assert snapshot(earlier) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unmatched_aliases_name_the_most_frequent_speakers(tmp_path: Path) -> None:
    code, text = prep(
        tmp_path, [FIXTURES / "plain_zh.txt"], tmp_path / "o", character_aliases=["Eileen"]
    )
    assert code == 1
    # One sentence, the speakers most lines first, and the key to change.
    assert (
        "the most frequent speakers are 亚托莉 (7 lines), 夏生 (7 lines), 机器人少女 (2 lines),"
        in text
    )
    assert "水菜萌 (1 line):" in text  # not "(1 lines)"
    assert "add the right names to [dataprep] character_aliases." in text
    assert not (tmp_path / "o").exists()


def test_speakers_are_listed_with_counts_and_the_side_they_matched(tmp_path: Path) -> None:
    result = run_pipeline(DataprepSettings(), [FIXTURES / "plain_zh.txt"])
    seen = {s.name: (s.lines, s.role) for s in result.stats.speakers}
    assert seen["夏生"] == (7, "lead")
    assert seen["亚托莉"] == (7, "character")
    assert seen["机器人少女"] == (2, "character")
    assert seen["水菜萌"] == (1, "other")
    code, text = prep(tmp_path, [FIXTURES / "plain_zh.txt"], tmp_path / "o")
    assert code == 0
    assert "speakers seen" in text
    row = next(line for line in text.splitlines() if "水菜萌" in line)
    assert "1" in row and "lead" not in row and "character" not in row
    assert "character" in next(line for line in text.splitlines() if "机器人少女" in line)


def test_format_is_suggested_only_when_another_format_parses(tmp_path: Path) -> None:
    renpy_as_text = tmp_path / "script.txt"
    shutil.copy(FIXTURES / "eileen" / "script.rpy", renpy_as_text)
    result = run_pipeline(DataprepSettings(), [renpy_as_text], fmt="voice_list")
    (error,) = result.errors
    assert "no dialogue found as voice_list" in error and "try --format renpy" in error
    result = run_pipeline(DataprepSettings(), [make_prose(tmp_path)])
    (error,) = result.errors
    assert "--format" not in error
    assert error.endswith(
        "expected lines like 名字：台词, 【名字】「台词」, [名字]台词 or Name: text."
    )


def test_empty_and_dialogue_less_files_are_told_apart(tmp_path: Path) -> None:
    result = run_pipeline(DataprepSettings(), [make_empty(tmp_path), make_prose(tmp_path)])
    assert [r.error for r in result.files] == [
        f"{tmp_path / 'empty.txt'}: the file is empty; expected a game script.",
        f"{tmp_path / 'prose.txt'}: no dialogue found as plain; expected lines like"
        " 名字：台词, 【名字】「台词」, [名字]台词 or Name: text.",
    ]
    stages = {s.stage: s for s in result.stats.stages}
    assert stages["read"].dropped == {"empty": 1, "no dialogue": 1}


def test_one_scene_writes_no_eval_file_and_says_why(tmp_path: Path) -> None:
    script = tmp_path / "one.txt"
    script.write_text(
        "夏生：早上好。\n亚托莉：早上好！今天也是高性能的一天。\n"
        "夏生：去海边吗？\n亚托莉：好的，我去准备。\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, text = prep(tmp_path, [script], out, eval_ratio=0.2)
    assert code == 0
    assert not (out / "atri_sharegpt_eval.json").exists()
    assert not (out / "atri_messages_eval.jsonl").exists()
    info = json.loads((out / "dataset_info.json").read_text(encoding="utf-8"))
    assert set(info) == {"atri", "atri_messages", "atri_alpaca"}
    assert all((out / entry["file_name"]).is_file() for entry in info.values())
    assert "No held-out (eval) file was written: all samples come from 1 scene" in text
    assert "[dataprep] scene_markers" in text and "[dataprep] eval_ratio = 0" in text


def test_a_new_run_without_eval_removes_the_old_eval_file(tmp_path: Path, earlier: Path) -> None:
    assert (earlier / "atri_sharegpt_eval.json").is_file() or True
    (earlier / "atri_sharegpt_eval.json").write_text("[]\n", encoding="utf-8")
    code, _ = prep(tmp_path, [FIXTURES / "plain_zh.txt"], earlier, eval_ratio=0)
    assert code == 0
    assert not (earlier / "atri_sharegpt_eval.json").exists()  # training would pick it up
    assert (earlier / "notes.md").read_text(encoding="utf-8") == "mine"


def test_config_sections_survive_in_messages(tmp_path: Path) -> None:
    data = "夏生：你好\n".encode("gb18030") * 3
    path = tmp_path / "gbk.txt"
    path.write_bytes(data)
    code, text = prep(tmp_path, [path], tmp_path / "o", encoding="utf-8")
    assert code == 1
    assert "fix [dataprep] encoding or set it to" in text
    assert "fix  encoding" not in text


def test_stray_byte_is_reported_and_the_file_still_used(tmp_path: Path) -> None:
    text = (FIXTURES / "plain_zh.txt").read_bytes()
    lines = text.split(b"\n")
    lines[4] = lines[4][:9] + b"\xff" + lines[4][9:]
    path = tmp_path / "stray.txt"
    path.write_bytes(b"\n".join(lines))
    code, out = prep(tmp_path, [path], tmp_path / "o")
    assert code == 0
    assert "stray.txt: 1 byte(s) could not be read as utf-8 and became �, on 1 of" in " ".join(
        out.split()
    )
    assert "lines, the first on line 5" in " ".join(out.split())
    result = run_pipeline(DataprepSettings(), [path])
    assert result.files[0].replaced_bytes == 1 and result.train


def test_prepare_returns_the_problem_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "never"
    result = prepare(DataprepSettings(), [make_prose(tmp_path)], out, system_prompt=SYSTEM)
    assert result.problem is not None and not out.exists()


def test_an_output_path_that_is_a_file_is_one_sentence(tmp_path: Path) -> None:
    # `--out` naming a file (or a folder under one) ended in a FileExistsError traceback.
    taken = tmp_path / "dataset.json"
    taken.write_text("[]", encoding="utf-8")
    for out in (taken, taken / "sub"):
        code, said = prep(tmp_path, [FIXTURES / "plain_zh.txt"], out)
        assert code == 1
        assert f"{taken} is a file, not a folder" in said and "Traceback" not in said
        assert taken.read_text(encoding="utf-8") == "[]"
        assert [p.name for p in tmp_path.iterdir()] == ["dataset.json"]  # no staging left


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (gzip.compress("夏生：你好\n".encode()), "a gzip archive"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "a PNG image"),
        (b"XP3\r\n \n\x1a\x8bg\x01" + bytes(200), "a KiriKiri XP3 archive"),
        (b"PK\x03\x04" + bytes(200), "a zip archive"),
    ],
)
def test_a_packed_or_binary_file_says_what_it_is(tmp_path: Path, data: bytes, kind: str) -> None:
    # It said "save it as UTF-8 or set [dataprep] encoding", which cannot help.
    path = tmp_path / "script.txt"
    path.write_bytes(data)
    code, said = prep(tmp_path, [path], tmp_path / "out")
    assert code == 1
    assert f"script.txt: is {kind}, not a script" in said
    assert "encoding" not in said


def test_a_file_that_cannot_be_written_is_one_sentence_and_keeps_earlier_files(
    tmp_path: Path, earlier: Path
) -> None:
    # An OSError while writing (here a real one: a file name longer than the file system
    # allows) ended in a traceback, after the staging folder was already half written.
    before = snapshot(earlier)
    long_name = "Eileen" * 50
    code, said = prep(
        tmp_path,
        [FIXTURES / "eileen" / "script.rpy"],
        earlier,
        lead_aliases=["Max"],
        character_aliases=[long_name, "Eileen"],
    )
    assert code == 1
    assert "Traceback" not in said
    assert says(
        said, f"{earlier / long_name.lower()}_sharegpt.json: cannot be written (File name too long)"
    )
    assert snapshot(earlier) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_disk_full_while_writing_is_one_sentence(
    tmp_path: Path, earlier: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(earlier)
    real_write = writers._Writer.write

    def fill_disk(self: writers._Writer, rows: list[str]) -> None:
        real_write(self, rows)  # some bytes reach the staging file first
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.file.name)

    monkeypatch.setattr(writers._Writer, "write", fill_disk)
    with pytest.raises(DataprepError) as caught:
        prepare(DataprepSettings(), [FIXTURES / "plain_zh.txt"], earlier, system_prompt=SYSTEM)
    assert str(caught.value) == (
        f"{earlier / 'atri_sharegpt.json'}: cannot be written: its disk is full (No space "
        "left on device); free some space, then run `atri prep` again."
    )
    assert snapshot(earlier) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_failed_move_into_the_folder_puts_the_earlier_files_back(tmp_path: Path) -> None:
    # The earlier run wrote sharegpt only; something else took the messages file's name.
    out = tmp_path / "dataset"
    code, _ = prep(tmp_path, [FIXTURES / "plain_zh.txt"], out, output_formats=["sharegpt"])
    assert code == 0
    (out / "atri_messages.jsonl").mkdir()
    (out / "atri_messages.jsonl" / "keep.txt").write_text("mine", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    code, said = prep(tmp_path, [FIXTURES / "plain_zh.txt"], out)
    assert code == 1
    assert says(said, f"{out / 'atri_messages.jsonl'}: cannot be written")
    assert "Traceback" not in said
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert (out / "atri_messages.jsonl" / "keep.txt").read_text(encoding="utf-8") == "mine"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ('{"atri": {"file_name": "atri_sharegpt.json"},', "not valid JSON on line 1"),
        ('["atri_sharegpt.json"]', "not a JSON object of dataset entries"),
        ('{"mine": "mine.json"}', 'its entry "mine" is not an object'),
    ],
)
def test_a_malformed_dataset_info_is_one_sentence_and_never_replaced(
    tmp_path: Path, earlier: Path, body: str, why: str
) -> None:
    # It was replaced by this run's entries, so whatever else it registered was lost.
    (earlier / "dataset_info.json").write_text(body, encoding="utf-8")
    before = snapshot(earlier)
    code, text = prep(tmp_path, [FIXTURES / "plain_zh.txt"], earlier)
    assert code == 1
    info = earlier / "dataset_info.json"
    assert f"{info}: cannot be updated ({why}); it may register other datasets" in " ".join(
        text.split()
    )
    assert "Traceback" not in text and f"Nothing was written to {earlier}." in text
    assert snapshot(earlier) == before


def test_a_dialogue_less_file_adds_no_utterance_to_the_stages(tmp_path: Path) -> None:
    # Its narration was counted: extract said 4 lines → 6 utterances (and narration = 3),
    # more utterances than lines, and more than the files' own counts (3).
    talk = tmp_path / "talk.txt"
    talk.write_text("海风吹过。\n夏生：你好。\n亚托莉：你好！\n", encoding="utf-8")
    notes = tmp_path / "notes.txt"
    notes.write_text("海浪拍打着礁石。\n远处传来海鸥的叫声。\n太阳升起。\n", encoding="utf-8")
    result = run_pipeline(DataprepSettings(eval_ratio=0), [talk, notes])
    assert [r.utterances for r in result.files] == [3, 0]
    stages = {s.stage: s for s in result.stats.stages}
    assert (stages["extract"].count_in, stages["extract"].count_out) == (3, 3)
    assert stages["speakers"].count_in == 3
    assert stages["speakers"].dropped["narration"] == 1
    assert result.stats.roles["narration"] == 1
    assert [s.reply for s in result.train] == ["你好！"]


def test_every_file_is_on_the_disk_before_it_replaces_the_earlier_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dataset file moved in before its data reached the disk could be empty after a
    power cut, with the earlier file gone: each is flushed to the disk first."""
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(Path(os.readlink(f"/proc/self/fd/{fd}")).name)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    out = tmp_path / "out"
    prepare(DataprepSettings(), [FIXTURES / "plain_zh.txt"], out, system_prompt=SYSTEM)
    # (dataset_info.json and atri_stats.json go through write_text_atomic, synced under
    # the temporary name they are written as; stats.png is a picture, drawn again at will.)
    datasets = {
        p.name for p in out.iterdir() if p.name.startswith("atri_") and "_stats." not in p.name
    }
    assert {"atri_sharegpt.json", "atri_sharegpt_eval.json"} <= datasets
    assert datasets - set(synced) == set()
