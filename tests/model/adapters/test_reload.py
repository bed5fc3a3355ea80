"""Hot reload on the tiny model: new versions go live, bad ones never do, nothing is lost."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import pytest

from atri.config import Settings
from atri.errors import ConfigError
from bot import commands
from bot.commands import Actor
from bot.lines import lines_for
from model.adapters.gguf_lora import ADAPTER_GGUF, ensure_gguf_adapter
from model.adapters.validation import ADAPTER_WEIGHTS
from model.protocol import ChatRequest
from model.service import ChatService
from tests.model.adapters.make_versions import gguf_facts_of
from tests.model.conftest import V1, V2, V3, MakeVersion

PROMPT = "hello ATRI"


def req(text: str = PROMPT, user: str = "u1") -> ChatRequest:
    return ChatRequest(platform="test", user_id=user, text=text)


async def answer(service: ChatService, user: str) -> tuple[str, str]:
    """(text, adapter version) of a first message in a fresh conversation: greedy
    decoding makes the text a fingerprint of the adapter serving it."""
    reply = await service.chat(req(user=user))
    assert reply.status == "ok"
    return reply.text, reply.adapter_version


async def live_logits(service: ChatService) -> list[float]:
    """The live adapter's next-token scores for a fixed input, read on the engine thread:
    a fingerprint of the weights that two adapters never share (unlike the tiny model's
    few greedy tokens)."""
    import torch

    engine = service.engine

    def read() -> list[float]:
        ids = torch.tensor([[3, 14, 15, 92, 65]])
        with torch.inference_mode(), engine._adapter_scope():  # type: ignore[attr-defined]
            return [round(x, 4) for x in engine.model(input_ids=ids).logits[0, -1, :8].tolist()]  # type: ignore[attr-defined]

    result: list[float] = await engine.thread.run(read)  # type: ignore[attr-defined]
    return result


async def test_new_version_is_picked_up_within_one_interval(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    reload_settings.reload.enabled = True
    interval = reload_settings.reload.interval_seconds
    async with await ChatService.open(reload_settings) as service:
        assert (await service.status()).details["reload_job"] is True
        _base_text, base_version = await answer(service, "before")
        base_logits = await live_logits(service)
        assert base_version == ""
        make_version(V1)
        written = time.monotonic()
        # The status shows V1 and its record together (test_reload_status_s46.py).
        while (status := await service.status()).last_reload.get("version") != V1:
            # One interval, plus room for the load on a busy CI machine.
            assert time.monotonic() - written < interval + 3, "the job did not pick up V1"
            await asyncio.sleep(0.05)
        assert status.adapter_version == V1
        assert status.last_reload["ok"] is True
        assert status.last_reload["version"] == V1
        assert status.last_reload["when"]
        reply = await service.chat(req(user="after"))
        assert reply.adapter_version == V1
        assert await live_logits(service) != base_logits  # the adapter is the one serving
        stored = await service.memory.history(reply.scope)
        assert [m.adapter_version for m in stored] == ["", V1]
    assert service.reloader.running is False


def truncate(folder: Path) -> None:
    weights = folder / ADAPTER_WEIGHTS
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def set_manifest(folder: Path, **fields: object) -> None:
    path = folder / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | fields))


def set_adapter_config(folder: Path, **fields: object) -> None:
    path = folder / "adapter_config.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | fields))


CORRUPTIONS = {
    "truncated safetensors": ("truncated", lambda f: truncate(f)),
    "wrong base model": ("was trained on", lambda f: set_manifest(f, base_model="other-org/other-model")),
    "wrong base config": ("config hash", lambda f: set_manifest(f, base_config_hash="0" * 16)),
    "missing manifest": ("no manifest.json", lambda f: (f / "manifest.json").unlink()),
    "manifest names another version": ("names version", lambda f: set_manifest(f, version=V1)),
    "broken adapter config": ("adapter_config.json", lambda f: (f / "adapter_config.json").write_text("{")),
    "config of another rank": ("says rank r = 8", lambda f: set_adapter_config(f, r=8)),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
async def test_corrupt_version_is_rejected_and_live_keeps_answering(
    reload_settings: Settings, make_version: MakeVersion, kind: str
) -> None:
    reason, corrupt = CORRUPTIONS[kind]
    make_version(V1)
    async with await ChatService.open(reload_settings) as service:
        assert (await service.reloader.check()) is not None
        live_text, live_version = await answer(service, "before")
        assert live_version == V1
        corrupt(make_version(V2, seed=2))
        if kind == "missing manifest":
            # Not a complete version: the job never even considers it.
            assert await service.reloader.check() is None
        else:
            result = await service.reloader.check()
            assert result is not None and not result.ok
            assert reason in result.message
        result = await service.reload(V2)  # on demand, by name: refused with the reason
        assert not result.ok
        assert reason in result.message and f"Still serving adapter version {V1}" in result.message
        status = await service.status()
        assert status.adapter_version == V1
        assert status.last_reload["ok"] is False and reason in status.last_reload["message"]
        assert status.details["loaded_adapters"] == [V1]
        assert await answer(service, "after") == (live_text, V1)


async def test_adapter_of_another_model_size_is_rejected_before_loading(
    reload_settings: Settings, make_version: MakeVersion, wide_model_dir: Path
) -> None:
    make_version(V1)
    make_version(V2, model_dir=wide_model_dir)  # manifest claims our base: only shapes differ
    async with await ChatService.open(reload_settings) as service:
        await service.reload(V1)
        live = await answer(service, "before")
        result = await service.reload(V2)
        assert not result.ok
        assert "another model size" in result.message
        assert V2 not in getattr(service.engine.model, "peft_config", {})  # type: ignore[attr-defined]
        assert await answer(service, "after") == live


async def test_nan_adapter_fails_the_smoke_generation(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1)
    make_version(V2, scale=float("nan"))
    async with await ChatService.open(reload_settings) as service:
        await service.reload(V1)
        live = await answer(service, "before")
        result = await service.reload(V2)
        assert not result.ok and "NaN" in result.message
        assert V2 not in service.engine.model.peft_config  # type: ignore[attr-defined]
        assert await answer(service, "after") == live


@pytest.mark.parametrize(
    "name", ["../outside", "20250101-000009/../../outside", "latest", "/etc", V3 + "x"]
)
async def test_version_names_outside_the_adapters_folder_are_refused(
    reload_settings: Settings, make_version: MakeVersion, name: str
) -> None:
    make_version(V1)
    async with await ChatService.open(reload_settings) as service:
        await service.reload(V1)
        result = await service.reload(name)
        assert not result.ok and "not an adapter version name" in result.message
        assert (await service.status()).adapter_version == V1


async def test_symlinked_version_leaving_the_adapters_folder_is_refused(
    reload_settings: Settings, make_version: MakeVersion, adapters_dir: Path, tmp_path: Path
) -> None:
    make_version(V1)
    outside = make_version(V2, seed=2)
    moved = shutil.move(outside, tmp_path / "elsewhere")
    (adapters_dir / V2).symlink_to(moved, target_is_directory=True)
    async with await ChatService.open(reload_settings) as service:
        await service.reload(V1)
        result = await service.reloader.check()  # the symlink looks complete to a listing
        assert result is not None and not result.ok
        assert "outside the adapters folder" in result.message
        assert (await service.status()).adapter_version == V1


async def test_ooc_rate_margin_against_the_live_version(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    reload_settings.reload.max_ooc_rate_increase = 0.05
    make_version(V1, eval_rates=(0.10, 0.30))
    make_version(V2, seed=2, eval_rates=(0.20, 0.30))  # 10 points worse: refused
    make_version(V3, seed=3, eval_rates=(0.14, 0.30))  # 4 points worse: within the margin
    async with await ChatService.open(reload_settings) as service:
        assert (await service.reload(V1)).ok
        refused = await service.reload(V2)
        assert not refused.ok and "20.0%" in refused.message and "10.0%" in refused.message
        assert (await service.reload(V3)).ok
        assert (await service.status()).adapter_version == V3


def with_probes(version: Path, adapter: float, base: float, probes: int) -> None:
    report = {"adapter": {"ooc_rate": adapter}, "base": {"ooc_rate": base}, "probes": probes}
    (version / "eval.json").write_text(json.dumps(report), encoding="utf-8")


async def test_ooc_margin_allows_for_the_noise_of_a_few_probes(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    """4 of 21 probe replies more (19% → 38%) may be chance; 19% → 76% is not."""
    reload_settings.reload.max_ooc_rate_increase = 0.05
    with_probes(make_version(V1, eval_rates=(0.38, 0.19)), 0.38, 0.19, 21)
    with_probes(make_version(V2, seed=2, eval_rates=(0.76, 0.19)), 0.76, 0.19, 21)
    async with await ChatService.open(reload_settings) as service:
        assert (await service.reload(V1)).ok
        refused = await service.reload(V2)
        assert not refused.ok and "76.0%" in refused.message and "38.0%" in refused.message
        assert "cannot tell apart" in refused.message
        assert (await service.status()).adapter_version == V1


async def test_rollback_walks_back_and_the_job_does_not_undo_it(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1)
    make_version(V2, seed=2)
    async with await ChatService.open(reload_settings) as service:
        base = await answer(service, "base")
        assert (await service.reloader.check()) is not None  # newest first: V2
        at_v2 = await answer(service, "v2")
        v2_logits = await live_logits(service)
        assert at_v2[1] == V2
        result = await service.rollback()
        assert result.ok and result.adapter_version == V1
        assert f"Rolled back to adapter version {V1}" in result.message
        at_v1 = await answer(service, "v1")
        assert at_v1[1] == V1 and await live_logits(service) != v2_logits
        assert await service.reloader.check() is None  # V2 stays rolled back
        assert (await service.rollback()).adapter_version == ""
        assert await answer(service, "base-again") == base
        nothing = await service.rollback()
        assert not nothing.ok and "nothing to roll back to" in nothing.message
        # keep_previous = 1: V1 stays loaded beside the base model; V2 was freed.
        assert service.reloader.loaded == [V1]
        # A reload naming it takes the newest again, rolled back or not.
        assert (await service.reload(V2)).adapter_version == V2
        assert await answer(service, "v2-again") == at_v2
        assert await live_logits(service) == v2_logits
        status = await service.status()
        assert status.last_reload["kind"] == "reload" and status.last_reload["ok"] is True


# What an admin is told at each step of `test_admins_are_told_each_step_in_the_cards_language`.
TOLD = {
    "zh": [
        "{folder} 里还没有完整的模型版本。",
        f"已换上版本 {V1}（之前是基础模型）。",
        f"现在用的已经是版本 {V1}了。",
        f"没有换上版本 {V2}：这个版本训练时的基础模型配置和现在加载的不同（配置哈希 {{recorded}}，"
        f"现在的是 {{loaded}}）。仍在使用版本 {V1}。",
        f"已退回到基础模型（之前是版本 {V1}）。",
        "现在用的就是基础模型，没有可以退回的版本。",
    ],
    "en": [
        "No complete adapter version in {folder}.",
        f"Now serving adapter version {V1} (was the base model).",
        f"Already serving adapter version {V1}.",
        f"Did not switch to adapter version {V2}: it was trained on a base model of another "
        f"config (hash {{recorded}}; the loaded one's is {{loaded}}). Still serving adapter "
        f"version {V1}.",
        f"Rolled back to the base model (was adapter version {V1}).",
        "Already serving the base model; nothing to roll back to.",
    ],
    "ja": [
        "{folder} に完全なバージョンがありません。",
        f"バージョン {V1}に切り替えました（以前はベースモデル）。",
        f"すでにバージョン {V1}を使っています。",
        f"バージョン {V2}には切り替えませんでした：このバージョンは設定の違うベースモデルで学習されました"
        f"（設定ハッシュ {{recorded}}、読み込み中のものは {{loaded}}）。引き続きバージョン {V1}を使っています。",
        f"ベースモデルに戻しました（以前はバージョン {V1}）。",
        "いまはベースモデルを使っているので、戻せるバージョンはありません。",
    ],
}


async def test_admins_are_told_each_step_in_the_cards_language(
    reload_settings: Settings, make_version: MakeVersion, adapters_dir: Path
) -> None:
    """The worker's answers come in parts (what happened, to which version, and why: a
    refusal's `reason_code`) that the bots word in the card's language, with no English
    reason inside a Chinese sentence; its log and HTTP answer keep one English sentence."""
    admin = Actor("test", "boss", is_admin=True, is_owner=True)  # a rollback is the owner's
    async with await ChatService.open(reload_settings) as service:
        results = [await service.reload()]
        make_version(V1)
        results += [await service.reload(), await service.reload()]
        set_manifest(make_version(V2, seed=2), base_config_hash="0" * 16)
        results += [await service.reload(V2), await service.rollback()]
        # Through the bots' command layer, as ATRI's (Chinese) card speaks.
        told = await commands.rollback(service, admin)
        assert not told.ok and told.text == TOLD["zh"][5]
        status = await commands.status(service, admin)
        assert f"上次加载：{TOLD['zh'][5]}" in status.text
        results.append(await service.rollback())
    reason = results[3].reason
    assert "config hash" in reason and reason in results[3].message
    assert f"Still serving adapter version {V1}" in results[3].message
    assert results[3].reason_code == "other_config"
    hashes = results[3].reason_details
    assert hashes["recorded"] == "0" * 16 and hashes["loaded"] in reason
    for language, lines in TOLD.items():
        said = lines_for("亚托莉", language)
        worded = [said.reload_said(result) for result in results]
        assert worded == [line.format(folder=adapters_dir, **hashes) for line in lines]


async def test_keep_previous_bounds_the_loaded_versions(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    reload_settings.reload.keep_previous = 1
    for i, name in enumerate((V1, V2, V3)):
        make_version(name, seed=i + 1)
    async with await ChatService.open(reload_settings) as service:
        for name in (V1, V2, V3):
            assert (await service.reload(name)).ok
        assert service.reloader.loaded == [V2, V3]
        assert sorted(service.engine.model.peft_config) == [V2, V3]  # type: ignore[attr-defined]


async def test_reload_during_a_stream_of_requests_loses_none(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1)
    make_version(V2, seed=2)
    users, before_reload, after_reload = 4, 2, 2
    async with await ChatService.open(reload_settings) as service:
        await service.reload(V1)
        answered = 0
        halfway = asyncio.Event()
        reloaded = asyncio.Event()

        async def client(user: str) -> list[tuple[str, str]]:
            # Chats on until the reload is over and then some: the reload spans
            # several engine-thread jobs (the new version's prompt states, the smoke).
            nonlocal answered
            seen: list[tuple[str, str]] = []
            after = 0
            while len(seen) < before_reload or after < after_reload:
                after += reloaded.is_set()
                reply = await service.chat(req(f"message {len(seen)}", user=user))
                assert reply.status == "ok", reply
                seen.append((reply.text, reply.adapter_version))
                answered += 1
                if answered >= users * before_reload // 2:
                    halfway.set()
                await asyncio.sleep(0)
            return seen

        async def reload_midway() -> None:
            await halfway.wait()
            assert (await service.reload(V2)).ok
            reloaded.set()

        reloading = asyncio.create_task(reload_midway())
        results = await asyncio.gather(*(client(f"u{n}") for n in range(users)))
        await reloading
        versions = [v for seen in results for _, v in seen]
        assert set(versions) == {V1, V2}
        assert all(seen[-1][1] == V2 for seen in results)
        for n, seen in enumerate(results):
            history = await service.memory.all_messages(service.scope_for("test", f"u{n}"))
            assert [m.content for m in history if m.role == "user"] == [
                f"message {i}" for i in range(len(seen))
            ]
            replies = [(m.content, m.adapter_version) for m in history if m.role == "assistant"]
            assert replies == seen


async def test_engine_accepts_a_base_hash_recorded_in_another_dtype(
    reload_settings: Settings, tiny_model_dir: Path
) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from model.engines.loading import config_hash

    bf16 = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.bfloat16)
    async with await ChatService.open(reload_settings) as service:
        engine = service.engine
        assert engine.accepts_config_hash(config_hash(bf16))  # type: ignore[attr-defined]
        assert not engine.accepts_config_hash("0" * 16)  # type: ignore[attr-defined]


async def test_echo_engine_reports_it_has_no_adapters(echo_service: ChatService) -> None:
    assert echo_service.reloader.running is False
    for result in (await echo_service.reload(), await echo_service.rollback()):
        assert not result.ok
        assert "The echo engine has no adapters" in result.message
    status = await echo_service.status()
    assert status.last_reload["ok"] is False
    assert status.details["reload_job"] is False


@pytest.mark.parametrize("file", [ADAPTER_WEIGHTS, ADAPTER_GGUF])
async def test_adapter_file_linked_from_outside_the_folder_is_refused(
    reload_settings: Settings,
    make_version: MakeVersion,
    tmp_path: Path,
    tiny_model_dir: Path,
    file: str,
) -> None:
    """adapter.gguf too, the file the llama.cpp engine loads (it was exempt)."""
    make_version(V1)
    folder = make_version(V2, seed=2)
    ensure_gguf_adapter(folder, gguf_facts_of(tiny_model_dir))
    outside = tmp_path / f"elsewhere-{file}"
    shutil.move(folder / file, outside)
    (folder / file).symlink_to(outside)
    async with await ChatService.open(reload_settings) as service:
        await service.reload(V1)
        result = await service.reloader.check()
        assert result is not None and not result.ok
        assert "link to a file outside its folder" in result.message
        assert (await service.status()).adapter_version == V1


async def test_pickle_only_version_is_reported_refused_with_the_reason(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1)
    folder = make_version(V2, seed=2)
    (folder / ADAPTER_WEIGHTS).rename(folder / "adapter_model.bin")
    async with await ChatService.open(reload_settings) as service:
        await service.reload(V1)
        result = await service.reloader.check()
        assert result is not None and not result.ok
        assert "adapter_model.bin, a pickle, which ATRI never loads" in result.message
        assert (await service.status()).adapter_version == V1
        assert await service.reloader.check() is None  # reported once, not retried


async def test_a_refused_first_version_leaves_the_base_model_answering(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1, scale=float("nan"))  # loads, then fails the smoke generation
    async with await ChatService.open(reload_settings) as service:
        result = await service.reloader.check()
        assert (
            result is not None
            and not result.ok
            and "Still serving the base model" in result.message
        )
        assert (await answer(service, "after"))[1] == ""


async def test_a_version_caught_half_copied_is_tried_again_once_its_files_change(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1)
    folder = make_version(V2, seed=2)
    whole = (folder / ADAPTER_WEIGHTS).read_bytes()
    truncate(folder)  # a `cp -r` by hand, seen by the job before it finished
    async with await ChatService.open(reload_settings) as service:
        await service.reload(V1)
        refused = await service.reloader.check()
        assert refused is not None and not refused.ok and "truncated" in refused.message
        assert await service.reloader.check() is None  # unchanged: not tried again
        (folder / ADAPTER_WEIGHTS).write_bytes(whole)  # the copy finishes
        result = await service.reloader.check()
        assert result is not None and result.ok, result
        assert (await service.status()).adapter_version == V2
        assert (await answer(service, "after"))[1] == V2
        assert await service.reloader.check() is None


async def test_require_eval_holds_a_version_back_until_its_evaluation_is_written(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    # A version is published before `atri eval` writes eval.json; a reload in between
    # skipped the out-of-character check. With require_eval it waits for the file.
    reload_settings.reload.require_eval = True
    make_version(V1, eval_rates=(0.10, 0.30))
    folder = make_version(V2, seed=2)
    async with await ChatService.open(reload_settings) as service:
        await service.reload(V1)
        waiting = await service.reloader.check()
        assert waiting is not None and not waiting.ok
        assert "has no eval.json yet, and [reload] require_eval is on" in waiting.message
        assert f"atri eval {folder}" in waiting.message
        assert (await service.status()).adapter_version == V1
        assert await service.reloader.check() is None  # not evaluated yet: not tried again
        report = {"adapter": {"ooc_rate": 0.10}, "base": {"ooc_rate": 0.30}, "probes": 21}
        (folder / "eval.json").write_text(json.dumps(report), encoding="utf-8")
        result = await service.reloader.check()
        assert result is not None and result.ok, result
        assert (await service.status()).adapter_version == V2


async def test_a_worker_whose_adapters_dir_is_a_file_stops_before_loading_its_model(
    reload_settings: Settings, adapters_dir: Path
) -> None:
    reload_settings.reload.enabled = True
    adapters_dir.parent.mkdir(parents=True, exist_ok=True)
    adapters_dir.write_text("not a folder", encoding="utf-8")
    with pytest.raises(ConfigError, match="is a file, not a folder: \\[model\\] adapters_dir"):
        await ChatService.open(reload_settings)


def broken(folder: Path) -> Path:
    """A version whose adapter file was cut short (a copy that failed half way)."""
    weights = folder / ADAPTER_WEIGHTS
    weights.write_bytes(weights.read_bytes()[:1000])
    return folder


async def test_a_broken_newest_version_at_start_up_leaves_the_newest_usable_one_live(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1)
    make_version(V2, seed=2)
    broken(make_version(V3, seed=3))
    async with await ChatService.open(reload_settings) as service:
        result = await service.reloader.check()
        assert result is not None and result.ok, result
        assert service.engine.adapter_version == V2  # not the bare base model
        assert await service.reloader.check() is None  # V3 is not tried every interval


async def test_a_rollback_passes_over_a_broken_older_version(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1)
    broken(make_version(V2, seed=2))
    make_version(V3, seed=3)
    async with await ChatService.open(reload_settings) as service:
        assert (await service.reloader.check()).ok  # type: ignore[union-attr]
        assert service.engine.adapter_version == V3
        back = await service.reloader.rollback()
        assert back.ok and service.engine.adapter_version == V1, back
