"""A new user preparing another character than ATRI, following README.md: what the
commands say must name her, not ATRI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from atri.cli import app
from tests.atri.test_worker_start import lines_until_listening, start_worker, stop
from tests.model.training.sharegpt import conversation, write

MIO_CARD = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {"name": "Mio", "description": "A cheerful girl by the sea.", "first_mes": "Hi!"},
}

ATRI_PROMPT = "You are ATRI. Talk with {{user}} as ATRI."


def test_the_worker_of_another_character_says_it_is_hers(tmp_path: Path) -> None:
    (tmp_path / "mio.json").write_text(json.dumps(MIO_CARD), encoding="utf-8")
    config = tmp_path / "mio.toml"
    config.write_text(
        '[model]\nengine = "echo"\n[persona]\ncard = "mio.json"\n[worker]\nport = 0\n',
        encoding="utf-8",
    )
    worker = start_worker(config, tmp_path)
    try:
        listening = lines_until_listening(worker)[-1]
    finally:
        stop(worker, timeout=20)
    # It said "ATRI worker listening on …" while serving Mio.
    assert listening.startswith("Mio's worker listening on http://127.0.0.1:"), listening


def test_train_after_prep_of_a_chinese_named_character_names_the_file_prep_wrote(
    tmp_path: Path,
) -> None:
    """With only Chinese names, prep names the files `character_*`; train, left on the
    shipped [train] dataset, said "run `atri prep` first", which had just run."""
    scenes = [
        f"第{n}章\n我：今天去海边吗？{n}\n小雨：好啊，我们去捡贝壳吧！{n}\n"
        f"我：天黑了。{n}\n小雨：那我们回家做饭吧。{n}\n"
        for n in range(1, 5)
    ]
    (tmp_path / "dump.txt").write_text("".join(scenes), encoding="utf-8")
    config = tmp_path / "xiaoyu.toml"
    config.write_text(
        '[dataprep]\nlead_aliases = ["我"]\ncharacter_aliases = ["小雨"]\n', encoding="utf-8"
    )
    runner = CliRunner()
    prep = runner.invoke(app, ["--config", str(config), "prep", str(tmp_path / "dump.txt")])
    assert prep.exit_code == 0, prep.output
    assert (tmp_path / "data" / "dataset" / "character_sharegpt.json").is_file()
    train = runner.invoke(app, ["--config", str(config), "train", "--max-steps", "1"])
    said = " ".join(train.output.split())
    assert train.exit_code == 1, said
    # (the console wraps the path at its "_": "atri_ sharegpt.json")
    assert "dataset file not found; its folder holds character_sharegpt.json" in said
    assert "set [train] dataset to it, or pass --dataset" in said


def test_train_says_when_the_dataset_was_prepared_for_another_character(tmp_path: Path) -> None:
    """Mio's config left on the shipped [train] dataset, where ATRI's was prepared: the run
    trained on ATRI's lines in silence, and recorded the version as Mio's."""
    atri = [("Who are you?", "I'm ATRI, a high-performance robot!")]
    write(tmp_path / "data" / "dataset" / "atri_sharegpt.json", [conversation(atri, ATRI_PROMPT)])
    (tmp_path / "mio.json").write_text(json.dumps(MIO_CARD), encoding="utf-8")
    config = tmp_path / "mio.toml"
    # A base that is not there: the run stops once the data is read, without a model.
    config.write_text(
        f'[model]\nbase = "{tmp_path / "no-model"}"\n[persona]\ncard = "mio.json"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["--config", str(config), "train", "--max-steps", "1"])
    said = " ".join(result.output.split())
    assert f'system prompt ("{ATRI_PROMPT}") does not name Mio, the configured character' in said

    # Her own dataset, under her own prompt: nothing said.
    mio = [("Morning!", "Morning, the tide is out!")]
    write(tmp_path / "mio_sharegpt.json", [conversation(mio, "You are Mio. Talk as Mio.")])
    result = CliRunner().invoke(
        app,
        ["--config", str(config), "train", "--dataset", str(tmp_path / "mio_sharegpt.json")],
    )
    assert "does not name" not in result.output, result.output


def test_a_male_characters_prompts_do_not_call_him_her(tmp_path: Path) -> None:
    """The English system prompt and training prompt said "in her own voice" of anyone."""
    card = {"spec": "chara_card_v2", "data": {"name": "Ren", "description": "A quiet boy."}}
    (tmp_path / "ren.json").write_text(json.dumps(card), encoding="utf-8")
    config = tmp_path / "ren.toml"
    config.write_text('[persona]\ncard = "ren.json"\n', encoding="utf-8")
    shown = CliRunner().invoke(app, ["--config", str(config), "persona", "show"])
    assert shown.exit_code == 0, shown.output
    said = " ".join(shown.output.split())
    assert "Always answer as Ren, in Ren's own voice" in said and " her " not in said

    from atri.config import load_settings
    from model.character.persona import configured_persona

    settings = load_settings(config)
    prompt = configured_persona(settings).training_prompt(settings.persona.training_prompt)
    assert prompt == (
        "You are Ren. Talk with {{user}} as Ren, in Ren's own voice, and never step out of "
        "the role."
    )


def test_prep_says_when_the_aliases_name_another_character_than_the_card(
    tmp_path: Path,
) -> None:
    """Aliases changed to Mio, [persona] card left at ATRI's: every sample of Mio's lines
    said "You are ATRI." and nothing told."""
    (tmp_path / "script.txt").write_text(
        "".join(f"Ken: Morning, Mio. {n}\nMio: Morning! The tide is out. {n}\n" for n in range(3)),
        encoding="utf-8",
    )
    (tmp_path / "mio.json").write_text(json.dumps(MIO_CARD), encoding="utf-8")
    config = tmp_path / "mio.toml"
    aliases = '[dataprep]\nlead_aliases = ["Ken"]\ncharacter_aliases = ["Mio"]\n'
    config.write_text(aliases, encoding="utf-8")
    script = str(tmp_path / "script.txt")
    result = CliRunner().invoke(app, ["--config", str(config), "prep", script])
    said = " ".join(result.output.split())
    assert result.exit_code == 0, said
    assert (
        "[dataprep] character_aliases (Mio) hold none of the names of ATRI, the character of "
        "[persona] card (ATRI's packaged card)"
    ) in said

    config.write_text(f'[persona]\ncard = "mio.json"\n{aliases}', encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(config), "prep", script])
    assert result.exit_code == 0 and "hold none of the names" not in result.output
