"""A refused reload says why as a code with its details (`ReloadResult.reason_code`), which
the bots word in her language; `reason` and `message` stay the worker's English sentence
for the log and the HTTP API. The bots had put that English inside a Chinese sentence."""

from __future__ import annotations

from pathlib import Path

from atri.config import Settings
from bot.lines import lines_for
from model.adapters.validation import ADAPTER_WEIGHTS
from model.service import ChatService
from tests.model.adapters.test_reload import set_manifest, truncate
from tests.model.conftest import V1, V2, MakeVersion


async def test_each_refusal_names_its_reason_code_and_details(
    reload_settings: Settings, make_version: MakeVersion, adapters_dir: Path
) -> None:
    reload_settings.reload.require_eval = True
    make_version(V1, eval_rates=(0.10, 0.30))
    folder = make_version(V2, seed=2)
    async with await ChatService.open(reload_settings) as service:
        assert (await service.reload(V1)).ok
        no_eval = await service.reload(V2)
        assert no_eval.reason_code == "eval_missing"
        assert no_eval.reason_details == {"path": str(folder)}
        assert "require_eval is on" in no_eval.reason  # the English sentence stays
        set_manifest(folder, base_model="other-org/other-model")
        other_base = await service.reload(V2)
        assert other_base.reason_code == "other_base"
        assert other_base.reason_details["trained_on"] == "other-org/other-model"
        set_manifest(folder, base_model=str(service.engine.base_id))
        truncate(folder)
        broken = await service.reload(V2)
        status = await service.status()
    assert broken.reason_code == "invalid" and "truncated" in broken.reason
    # /status's last load carries them too, for a bot to word it as the answer was.
    assert status.last_reload["reason_code"] == "invalid"
    said = lines_for("亚托莉", "zh").reload_said(broken)
    first, worker_line = said.split("\n")
    assert first == f"没有换上版本 {V2}：它没有通过模型服务的检查。仍在使用版本 {V1}。"
    assert worker_line == f"模型服务的原话：{broken.reason}"
    english_reason = other_base.reason
    for language in ("zh", "ja"):
        assert english_reason not in lines_for("亚托莉", language).reload_said(other_base)


async def test_bare_peft_folders_are_a_reason_code_of_no_version(
    reload_settings: Settings, make_version: MakeVersion, adapters_dir: Path
) -> None:
    folder = make_version(V1)
    (folder / "manifest.json").unlink()
    assert (folder / ADAPTER_WEIGHTS).is_file()
    async with await ChatService.open(reload_settings) as service:
        result = await service.reload()
    assert result.code == "no_version" and result.reason_code == "bare_folders"
    assert result.reason_details == {"folders": V1, "count": "1"}
    assert lines_for("亚托莉", "zh").reload_said(result) == (
        f"{adapters_dir} 里还没有完整的模型版本。{V1} 里有 peft 适配器但没有 manifest.json"
        "（共 1 个），重新加载会跳过它们。用 atri adapters adopt 检查并发布为版本"
        "（以版本命名的文件夹若是正在复制进来的版本，复制完整后会自动加载，不要 adopt）。"
    )
