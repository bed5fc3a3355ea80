"""A version records whom it was trained as: a worker serving another character keeps
its live version, and `atri eval` picks the configured character's newest by default.

README's second character, Eileen, was trained into ATRI's adapters folder: ATRI's
worker went live with Eileen's version on its next reload."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.config import Settings
from model.adapters.versions import AdapterError, CharacterId, trained_as
from model.evaluation.default_version import version_to_evaluate
from model.protocol import ChatRequest
from model.service import ChatService
from tests.cli_output import says
from tests.model.conftest import V1, V2, V3, MakeVersion

# The packaged card as the worker serves it on the tiny model (its main language, zh),
# and as the same card records itself when served in English.
EILEEN = {"character": "Eileen", "character_names": ["Eileen", "艾琳"]}
ATRI_IN_ENGLISH = {"character": "ATRI", "character_names": ["ATRI", "アトリ", "Atri", "亚托莉"]}


async def test_another_characters_newest_version_is_passed_over_and_hers_kept(
    reload_settings: Settings, make_version: MakeVersion, caplog: pytest.LogCaptureFixture
) -> None:
    make_version(V1)  # a manifest from before the field: no character recorded
    async with await ChatService.open(reload_settings) as service:
        first = await service.reloader.check()
        assert first is not None and first.ok, first
        assert service.engine.adapter_version == V1  # the old manifest loads

        make_version(V2, seed=2, **EILEEN)
        with caplog.at_level(logging.WARNING, logger="model.adapters.reload"):
            assert await service.reloader.check() is None  # nothing new of hers
            assert await service.reloader.check() is None
        warned = [r.getMessage() for r in caplog.records if "trained as Eileen" in r.getMessage()]
        assert warned == [
            f"adapter version {V2} was trained as Eileen, not 亚托莉: passed over (give each "
            "character its own [model] adapters_dir)"
        ]  # once, not every interval
        assert service.engine.adapter_version == V1
        reply = await service.chat(ChatRequest(platform="test", user_id="u", text="hello"))
        assert reply.status == "ok" and reply.adapter_version == V1
        # /reload without a version: her own newest, already live (and Eileen's passed over).
        again = await service.reloader.reload()
        assert again.message.startswith(f"Already serving adapter version {V1}. The newer")
        assert again.skipped == V2
        # Named explicitly, Eileen's version is refused with why.
        refused = await service.reloader.reload(V2)
        assert refused.ok is False
        assert refused.message == (
            f"Version {V2} was trained as Eileen, but this worker serves 亚托莉: give each "
            "character its own [model] adapters_dir (set one in Eileen's config and move her "
            f"versions there). Still serving adapter version {V1}."
        )
        assert service.engine.adapter_version == V1

        # Her own version trained while she spoke English: the same card, so taken.
        make_version(V3, seed=3, **ATRI_IN_ENGLISH)
        taken = await service.reloader.check()
        assert taken is not None and taken.ok, taken
        assert service.engine.adapter_version == V3


async def test_a_worker_starting_beside_another_characters_newer_version_serves_her_own(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1, **ATRI_IN_ENGLISH)
    make_version(V2, seed=2, **EILEEN)
    async with await ChatService.open(reload_settings) as service:
        first = await service.reloader.check()
        assert first is not None and first.ok, first
        assert service.engine.adapter_version == V1


async def test_a_rollback_passes_over_another_characters_version(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1)
    make_version(V2, seed=2, **EILEEN)
    make_version(V3, seed=3, **ATRI_IN_ENGLISH)
    async with await ChatService.open(reload_settings) as service:
        assert (await service.reloader.reload(V3)).ok
        back = await service.reloader.rollback()
        assert back.ok, back
        assert service.engine.adapter_version == V1


def test_eval_picks_the_newest_version_of_the_configured_character(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    atri = CharacterId.of("亚托莉", ["ATRI", "アトリ", "Atri"])
    eileen = CharacterId.of("Eileen")
    said: list[str] = []

    def newest_of(character: CharacterId, given: Path | None = None) -> str:
        return version_to_evaluate(reload_settings, given, character, said.append).name

    make_version(V1, seed=1)  # before the field: anyone's
    assert newest_of(eileen) == V1
    make_version(V2, seed=2, **ATRI_IN_ENGLISH)
    make_version(V3, seed=3, **EILEEN)
    assert newest_of(atri) == V2
    # Her older version's figures are not taken for the newest's without a word.
    assert said == [
        f'{V2} is 亚托莉\'s newest version on [model] base "{reload_settings.model.base}"; '
        f"the newer version {V3} (trained as Eileen) passed over (evaluate it with the "
        "config it was trained with, --config)."
    ]
    assert newest_of(eileen) == V3
    assert len(said) == 1  # nothing passed over
    # A version named on the command line is the one evaluated (evaluate() checks it).
    assert newest_of(atri, Path(V3)) == V3


def test_eval_says_when_the_folder_holds_only_another_characters_versions(
    reload_settings: Settings, make_version: MakeVersion, adapters_dir: Path
) -> None:
    make_version(V1, **EILEEN)
    atri = CharacterId.of("亚托莉", ["ATRI"])
    with pytest.raises(AdapterError) as caught:
        version_to_evaluate(reload_settings, None, atri, print)
    assert str(caught.value) == (
        f"{adapters_dir} holds no adapter version of 亚托莉, only {V1} (trained as Eileen): "
        "give each character its own [model] adapters_dir, and run `atri train` with "
        "亚托莉's config."
    )


def _config(tmp_path: Path, model_dir: Path) -> Path:
    probes = tmp_path / "probes.toml"
    probes.write_text(
        '[[probe]]\ncategory = "identity"\nzh = "你是谁？"\nen = "Who are you?"\n', encoding="utf-8"
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f'[model]\nbase = "{model_dir}"\n[eval]\nmax_new_tokens = 1\nprobes = "probes.toml"\n',
        encoding="utf-8",
    )
    return config


def test_atri_eval_evaluates_her_version_not_the_newer_one_of_another_character(
    tmp_path: Path, make_version: MakeVersion, tiny_model_dir: Path
) -> None:
    config = _config(tmp_path, tiny_model_dir)
    hers = make_version(V1)
    eileens = make_version(V2, seed=2, **EILEEN)
    result = CliRunner().invoke(app, ["--config", str(config), "eval"])
    assert result.exit_code == 0, result.output
    assert (hers / "eval.json").is_file()
    assert not (eileens / "eval.json").exists()
    # Named on the command line, hers is refused: ATRI's card would judge her replies.
    named = CliRunner().invoke(app, ["--config", str(config), "eval", str(eileens)])
    assert named.exit_code == 1, named.output
    assert says(named.output, f"{V2} was trained as Eileen, but the configured character is 亚托莉")
    assert not (eileens / "eval.json").exists()


def test_a_trained_version_records_whom_it_was_trained_as() -> None:
    manifest = {"character": "ATRI", "character_names": ["ATRI", "亚托莉"]}
    assert trained_as(manifest) == CharacterId("ATRI", ("ATRI", "亚托莉"))
    assert trained_as({}) is None  # before the field
    assert trained_as(json.loads('{"character": ""}')) is None
    # Two characters sharing a nickname are still two.
    assert not CharacterId.of("Eileen", ["Sis"]).is_same(CharacterId.of("Lucy", ["Sis"]))
    assert CharacterId.of("atri").is_same(CharacterId.of("ATRI"))
