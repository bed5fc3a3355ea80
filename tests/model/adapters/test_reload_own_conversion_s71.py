"""Session 71: with `engine = "llamacpp"`, a version refused after its GGUF conversion (a
NaN smoke test) was tried a second time at once, logging "refused adapter version …
changed on disk" and "still being copied?": the job's stamp of the folder was taken before
the try, and the try itself wrote adapter.gguf and its record there. The worker's own
conversion is no change to the folder; any other file changing still is."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from atri.config import Settings
from model.adapters.gguf_lora import ADAPTER_GGUF, GGUF_RECORD
from model.adapters.reload import files_stamp, with_own_conversion
from model.service import ChatService
from tests.model.conftest import V1, V2, MakeVersion


def converting_first(service: ChatService) -> list[str]:
    """The engine's load writes a GGUF conversion into the version folder first, as the
    llamacpp engine's does (`ensure_gguf_adapter`); the names it loaded, in order."""
    engine = service.engine
    load = engine.load_adapter  # type: ignore[attr-defined]
    loaded: list[str] = []

    async def load_converting(path: Path, name: str) -> None:
        loaded.append(name)
        (path / ADAPTER_GGUF).write_bytes(b"GGUF converted " + name.encode())
        (path / GGUF_RECORD).write_text('{"format": "atri-adapter-gguf"}', encoding="utf-8")
        await load(path, name)

    engine.load_adapter = load_converting  # type: ignore[attr-defined]
    return loaded


async def test_a_version_refused_after_its_conversion_is_not_tried_again(
    reload_settings: Settings, make_version: MakeVersion, caplog: pytest.LogCaptureFixture
) -> None:
    make_version(V1)
    folder = make_version(V2, scale=float("nan"))
    async with await ChatService.open(reload_settings) as service:
        await service.reload(V1)
        loaded = converting_first(service)
        with caplog.at_level(logging.INFO, logger="model.adapters.reload"):
            refused = await service.reloader.check()
            assert refused is not None and not refused.ok and "NaN" in refused.message
            assert await service.reloader.check() is None
            assert await service.reloader.check() is None
        assert loaded == [V2]
        said = [r.getMessage() for r in caplog.records]
        assert not any("changed on disk" in line for line in said), said
        assert not any("still being copied" in line for line in said), said

        # A file of the version's own changing afterwards is tried again, as before.
        (folder / "manifest.json").touch()
        (folder / "README.md").write_text("copied in later", encoding="utf-8")
        again = await service.reloader.check()
        assert again is not None and not again.ok
        assert loaded == [V2, V2]


def test_the_stamp_takes_the_conversion_as_it_is_now_and_nothing_else(tmp_path: Path) -> None:
    folder = tmp_path / V2
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}", encoding="utf-8")
    before = files_stamp(folder)
    (folder / ADAPTER_GGUF).write_bytes(b"GGUF")
    (folder / GGUF_RECORD).write_text("{}", encoding="utf-8")
    assert with_own_conversion(before, folder) == files_stamp(folder)

    (folder / "adapter_config.json").write_text('{"r": 8}', encoding="utf-8")
    assert with_own_conversion(before, folder) != files_stamp(folder)
    assert with_own_conversion((), folder) == ()
