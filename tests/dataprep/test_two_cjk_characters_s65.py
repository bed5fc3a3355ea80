"""Two heroines named in Chinese or Japanese only both write `character_*` files: the
second run into the same folder replaced the first's dataset with no word. It is refused
before any work, the first's files left byte for byte; a run for the same character
replaces them as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.errors import DataprepError
from dataprep.pipeline import prepare

SYSTEM = "你是{{char}}，正在和{{user}}说话。"


def script(tmp_path: Path, lead: str, heroine: str) -> Path:
    path = tmp_path / f"{heroine}.txt"
    lines = []
    for scene in range(4):
        lines.append(f"第{scene + 1}章")
        for n in range(6):
            lines += [
                f"{lead}：今天第{scene}-{n}次见面呢。",
                f"{heroine}：是啊，我很高兴第{n}次见到你。",
            ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_another_cjk_characters_dataset_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "data"
    xiaoyu = DataprepSettings(lead_aliases=["天明"], character_aliases=["小雨"])
    prepare(xiaoyu, [script(tmp_path, "天明", "小雨")], out, system_prompt=SYSTEM)
    assert (out / "character_sharegpt.json").is_file()
    before = snapshot(out)
    nanami = DataprepSettings(lead_aliases=["悠真"], character_aliases=["七海"])
    with pytest.raises(DataprepError, match="already holds 小雨's dataset") as refused:
        prepare(nanami, [script(tmp_path, "悠真", "七海")], out, system_prompt=SYSTEM)
    assert "give 七海 a folder of their own" in str(refused.value)
    assert snapshot(out) == before
    again = prepare(xiaoyu, [script(tmp_path, "天明", "小雨")], out, system_prompt=SYSTEM)
    assert again.problem is None
