"""Any character: a Ren'Py script of Eileen and Max, with nothing of ATRI anywhere; a
TyranoScript one; several characters prepared into one folder."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from rich.console import Console

from atri.config import DataprepSettings, Settings
from atri.locks import exclusive_folder
from dataprep.cli import run_prep
from dataprep.pipeline import run_pipeline
from model.training.dataset_index import sibling_eval_file
from tests.dataprep.conftest import FIXTURES

EILEEN = FIXTURES / "eileen"
SYSTEM = "You are Eileen, talking with {{user}}."


def test_another_character_from_a_renpy_script(tmp_path: Path) -> None:
    config = tomllib.loads((EILEEN / "eileen.toml").read_text(encoding="utf-8"))
    settings = Settings(root=tmp_path, dataprep=DataprepSettings(**config["dataprep"]))
    console = Console(record=True, width=1000)
    out = tmp_path / "eileen"
    assert run_prep(settings, [EILEEN / "script.rpy"], out, None, SYSTEM, console) == 0
    text = console.export_text()
    names = {p.name for p in out.iterdir()}
    assert "eileen_sharegpt.json" in names and "eileen_alpaca.json" in names
    info = json.loads((out / "dataset_info.json").read_text(encoding="utf-8"))
    assert "eileen" in info and info["eileen"]["file_name"] == "eileen_sharegpt.json"
    # The default [train] dataset is ATRI's file: say how to train on this one.
    assert f"atri train --dataset {out / 'eileen_sharegpt.json'}" in text
    assert "Eileen lines" in text
    stats = json.loads((out / "eileen_stats.json").read_text(encoding="utf-8"))
    assert stats["character"] == "Eileen"
    for path in out.iterdir():
        if path.suffix in (".json", ".jsonl"):
            body = path.read_text(encoding="utf-8")
            assert "ATRI" not in body and "atri" not in body and "亚托莉" not in body, path
    assert "ATRI" not in text and "亚托莉" not in text.replace("atri train", "")
    rows = json.loads((out / "eileen_sharegpt.json").read_text(encoding="utf-8"))
    rows += json.loads((out / "eileen_sharegpt_eval.json").read_text(encoding="utf-8"))
    # Training on her file finds her held-out file without [train] eval_dataset.
    assert sibling_eval_file(out / "eileen_sharegpt.json") == out / "eileen_sharegpt_eval.json"
    replies = [m["value"] for row in rows for m in row["conversations"] if m["from"] == "gpt"]
    assert (
        "{{user}}... I'm not sure.\nAsk me again after the festival!!!" in replies
    )  # English kept
    assert not any("Hmm" in r or r == "Oh?" for r in replies)  # noise is gone everywhere
    assert not any("code" in r or "Score" in r or "hud" in r for r in replies)
    prompts = [m["value"] for row in rows for m in row["conversations"] if m["from"] == "human"]
    assert "Eileen, will you marry me?" in prompts  # the lead's own lines keep his words


def test_default_character_keeps_the_file_names_training_reads(tmp_path: Path) -> None:
    settings = Settings(root=tmp_path)
    console = Console(record=True, width=1000)
    out = tmp_path / "data" / "dataset"
    code = run_prep(settings, [FIXTURES / "plain_zh.txt"], out, None, "", console)
    assert code == 0
    assert (out / "atri_sharegpt.json").is_file()
    assert settings.path(settings.train.dataset) == out / "atri_sharegpt.json"
    assert "atri train --dataset" not in console.export_text()  # the default already fits


@pytest.mark.parametrize("alias", ["akane", "あかね"])
def test_a_tyranoscript_character_is_named_by_its_id_or_its_display_name(alias: str) -> None:
    # `#akane` lines were credited to "akane": an alias あかね (the name the player sees)
    # matched nothing. Either names her now, and the table shows あかね.
    result = run_pipeline(
        DataprepSettings(lead_aliases=["yamato"], character_aliases=[alias], eval_ratio=0),
        [FIXTURES / "tyrano"],
    )
    assert result.errors == []  # first.ks, which only makes the characters, is no failure
    assert [(s.name, s.lines, s.role) for s in result.stats.speakers] == [
        ("あかね", 2, "character"),
        ("やまと", 2, "lead"),
        ("mob", 1, "other"),
    ]
    assert [s.reply for s in result.train] == ["おはよう！今日もいい天気だね。", "海に行きたいな！"]


def prep_into(out: Path, tmp_path: Path, scripts: list[Path], **dataprep: object) -> int:
    settings = Settings(root=tmp_path, dataprep=DataprepSettings(**dataprep))  # type: ignore[arg-type]
    return run_prep(settings, scripts, out, None, SYSTEM, Console(record=True, width=1000))


def test_characters_prepared_into_one_folder_share_its_dataset_info(tmp_path: Path) -> None:
    # dataset_info.json held the last character only: ATRI's entries were gone once
    # Eileen was prepared beside her, and LLaMA-Factory could no longer find her files.
    out = tmp_path / "data"
    out.mkdir()
    (out / "dataset_info.json").write_text(
        json.dumps({"mine": {"file_name": "mine.json"}}), encoding="utf-8"
    )
    assert prep_into(out, tmp_path, [FIXTURES / "plain_zh.txt"]) == 0
    eileen = {"lead_aliases": ["Max"], "character_aliases": ["Eileen"]}
    assert prep_into(out, tmp_path, [EILEEN / "script.rpy"], **eileen) == 0
    info = json.loads((out / "dataset_info.json").read_text(encoding="utf-8"))
    assert {"mine", "atri", "atri_eval", "eileen", "eileen_eval"} <= set(info)
    assert info["atri"]["file_name"] == "atri_sharegpt.json"
    assert info["eileen_messages"]["file_name"] == "eileen_messages.jsonl"
    # ATRI again, without a held-out set: her eval entries go with her eval files.
    assert prep_into(out, tmp_path, [FIXTURES / "plain_zh.txt"], eval_ratio=0) == 0
    info = json.loads((out / "dataset_info.json").read_text(encoding="utf-8"))
    assert "atri" in info and "atri_eval" not in info and "eileen_eval" in info
    assert info["mine"] == {"file_name": "mine.json"}
    ours = [entry["file_name"] for name, entry in info.items() if name != "mine"]
    assert all((out / name).is_file() for name in ours)


# A run from before stats were named after the character left ATRI's as stats.json; one
# from before they named her (s66: kept beside hers after an upgrade) has `atri_lines`.
@pytest.mark.parametrize("earlier", [{"character": "ATRI"}, {"atri_lines": 3}])
def test_characters_prepared_into_one_folder_keep_their_own_stats(
    tmp_path: Path, earlier: dict[str, object]
) -> None:
    # stats.json and stats.png were one per folder: Eileen's run replaced ATRI's report.
    out = tmp_path / "data"
    out.mkdir()
    (out / "stats.json").write_text(json.dumps(earlier), encoding="utf-8")
    (out / "stats.png").write_bytes(b"an old picture")
    eileen = {"lead_aliases": ["Max"], "character_aliases": ["Eileen"]}
    assert prep_into(out, tmp_path, [EILEEN / "script.rpy"], **eileen) == 0
    assert (out / "stats.json").is_file()  # ATRI's, not Eileen's to replace
    assert prep_into(out, tmp_path, [FIXTURES / "plain_zh.txt"]) == 0
    assert not (out / "stats.json").exists() and not (out / "stats.png").exists()
    for stem, name in (("atri", "ATRI"), ("eileen", "Eileen")):
        stats = json.loads((out / f"{stem}_stats.json").read_text(encoding="utf-8"))
        assert stats["character"] == name
        assert (out / f"{stem}_stats.png").read_bytes()[:4] == b"\x89PNG"


def test_a_character_prepared_while_another_run_writes_keeps_its_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ATRI's run reads dataset_info.json at its start; Eileen's, started later, finishes
    first. ATRI's run then adds her entries to the file as it is now, not as it was."""
    from dataprep import output_folder

    out = tmp_path / "data"
    out.mkdir()
    eileen = {"lead_aliases": ["Max"], "character_aliases": ["Eileen"]}
    write_outputs = output_folder.write_outputs
    runs: list[str] = []

    def meanwhile_eileen(*args: object, **kwargs: object) -> list[Path]:
        written = write_outputs(*args, **kwargs)  # type: ignore[arg-type]
        runs.append("written")
        if len(runs) == 1:  # ATRI's files are staged: Eileen's whole run happens now
            assert prep_into(out, tmp_path, [EILEEN / "script.rpy"], **eileen) == 0
        return written

    monkeypatch.setattr(output_folder, "write_outputs", meanwhile_eileen)
    assert prep_into(out, tmp_path, [FIXTURES / "plain_zh.txt"]) == 0
    info = json.loads((out / "dataset_info.json").read_text(encoding="utf-8"))
    assert runs == ["written", "written"]
    assert {"atri", "atri_eval", "eileen", "eileen_eval"} <= set(info)
    assert all((out / entry["file_name"]).is_file() for entry in info.values())


def test_a_run_in_another_process_moves_its_files_in_only_after_the_one_moving_now(
    tmp_path: Path,
) -> None:
    import os
    import subprocess
    import sys
    import time

    out = tmp_path / "data"
    out.mkdir()
    child = (
        "import sys; from pathlib import Path; from atri.config import DataprepSettings;"
        "from dataprep.pipeline import prepare;"
        "prepare(DataprepSettings(lead_aliases=['Max'], character_aliases=['Eileen']),"
        " [Path(sys.argv[1])], Path(sys.argv[2]), system_prompt='You are Eileen.')"
    )
    repo = Path(__file__).resolve().parents[2]
    with exclusive_folder(out):  # the lock `atri prep` moves files in under
        run = subprocess.Popen(
            [sys.executable, "-c", child, str(EILEEN / "script.rpy"), str(out)],
            cwd=repo,
            env={**os.environ, "PYTHONPATH": str(repo)},
        )
        try:
            deadline = time.monotonic() + 60
            # Its stats.png is the last file it stages; then it would move them in.
            while not list(tmp_path.glob(".data.tmp-*/eileen_stats.png")):
                assert run.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            time.sleep(2)  # drawn in full by now: only the lock holds the run back
            assert not (out / "dataset_info.json").exists()
            assert not list(out.iterdir())
        except BaseException:
            run.kill()
            raise
    assert run.wait(timeout=60) == 0
    info = json.loads((out / "dataset_info.json").read_text(encoding="utf-8"))
    assert {"eileen", "eileen_eval"} <= set(info)
