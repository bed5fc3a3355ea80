"""An adapter.gguf is used only while it matches the record its conversion wrote: one cut
short, corrupt, left from other peft files, or without a record is converted again (saying
why), and a folder where that cannot be written gets one sentence, not a broken file."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from model.adapters.gguf_lora import ADAPTER_GGUF, GGUF_RECORD, ensure_gguf_adapter
from model.adapters.versions import AdapterError, sha256_file
from tests.model.adapters.make_versions import gguf_facts_of, write_version

V1 = "20250101-000001"


def cut_short(folder: Path) -> None:
    """A copy that stopped half-way."""
    data = (folder / ADAPTER_GGUF).read_bytes()
    (folder / ADAPTER_GGUF).write_bytes(data[: len(data) // 2])


def corrupt(folder: Path) -> None:
    """Bytes in the middle of the tensors overwritten, the size unchanged."""
    data = bytearray((folder / ADAPTER_GGUF).read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    (folder / ADAPTER_GGUF).write_bytes(bytes(data))


def without_record(folder: Path) -> None:
    """Converted before records were written, or copied without it."""
    (folder / GGUF_RECORD).unlink()


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (cut_short, r"is \d+ bytes where its conversion wrote \d+ \(cut short\?\)"),
        (corrupt, r"is corrupt \(its sha256 differs from its conversion's\)"),
        (without_record, r"has no record of its conversion \(adapter\.gguf\.json\)"),
    ],
)
def test_a_damaged_adapter_gguf_is_converted_again_saying_why(
    tmp_path: Path,
    tiny_model_dir: Path,
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[Path], None],
    why: str,
) -> None:
    import gguf

    version = write_version(tmp_path, V1, tiny_model_dir, base_model="tiny", config_hash="")
    facts = gguf_facts_of(tiny_model_dir)
    written = ensure_gguf_adapter(version, facts)
    whole = written.read_bytes()
    # A whole conversion is used as it is, not written again.
    inode = written.stat().st_ino
    assert ensure_gguf_adapter(version, facts) == written
    assert written.stat().st_ino == inode
    damage(version)
    with caplog.at_level("WARNING", logger="model.adapters.gguf_lora"):
        assert ensure_gguf_adapter(version, facts) == written
    # Before: the damaged file was handed to llama.cpp, which called it a LoRA that
    # "does not fit the base model"; only deleting it by hand helped.
    assert written.read_bytes() == whole
    assert len(gguf.GGUFReader(str(written)).tensors) > 0
    assert re.search(rf"{re.escape(str(written))} {why}; converting the peft", caplog.text)
    assert [p.name for p in version.iterdir() if p.name.startswith(".")] == []
    record = json.loads((version / GGUF_RECORD).read_text(encoding="utf-8"))
    assert record["size"] == len(whole) and record["sha256"] == sha256_file(written)


def test_an_adapter_gguf_older_than_the_peft_files_is_converted_again(
    tmp_path: Path, tiny_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    version = write_version(tmp_path / "a", V1, tiny_model_dir, base_model="tiny", config_hash="")
    other = write_version(
        tmp_path / "b", V1, tiny_model_dir, base_model="tiny", config_hash="", seed=2
    )
    facts = gguf_facts_of(tiny_model_dir)
    stale = ensure_gguf_adapter(version, facts).read_bytes()
    fresh = ensure_gguf_adapter(other, facts).read_bytes()
    assert stale != fresh
    # The version's weights replaced (retrained into the same folder, copied over).
    shutil.copy(other / "adapter_model.safetensors", version / "adapter_model.safetensors")
    with caplog.at_level("WARNING", logger="model.adapters.gguf_lora"):
        written = ensure_gguf_adapter(version, facts)
    assert written.read_bytes() == fresh  # before: the old weights' LoRA was served
    assert "older than the peft files beside it" in caplog.text


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[str]:
    """`folder` made unwritable; yields what writing there fails with. Root writes through
    any mode bits, so as root it is a read-only bind mount (a volume mounted `:ro`)."""
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield "Permission denied"
        finally:
            folder.chmod(mode)
        return
    mounted = subprocess.run(
        ["mount", "--bind", "-o", "ro", str(folder), str(folder)], capture_output=True, text=True
    )
    if mounted.returncode:
        pytest.skip(f"root without a read-only bind mount here ({mounted.stderr.strip()})")
    try:
        yield "Read-only file system"
    finally:
        # Lazily: the conversion's tensors may still map the peft weights from there.
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


def test_a_read_only_folder_serves_a_whole_conversion_and_refuses_a_damaged_one_in_a_sentence(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    version = write_version(tmp_path, V1, tiny_model_dir, base_model="tiny", config_hash="")
    facts = gguf_facts_of(tiny_model_dir)
    written = ensure_gguf_adapter(version, facts)
    with read_only(version):
        assert ensure_gguf_adapter(version, facts) == written  # whole: nothing to write
    cut_short(version)
    files = {p.name: p.read_bytes() for p in version.iterdir()}
    with read_only(version) as error, pytest.raises(AdapterError) as refused:
        ensure_gguf_adapter(version, facts)
    # Before: the half file was returned and llama.cpp said it did not fit the base.
    whole = json.loads(files[GGUF_RECORD])["size"]
    assert str(refused.value) == (
        f"{written} is {len(files[ADAPTER_GGUF])} bytes where its conversion wrote {whole} "
        f"(cut short?), and no new one can be converted from the peft files: writing in "
        f"{version} failed ({error}); make the folder writable."
    )
    assert {p.name: p.read_bytes() for p in version.iterdir()} == files  # nothing half-written


def test_a_short_write_of_the_conversion_says_to_free_disk_space(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # numpy's tofile (gguf's writer) on a full disk raises an OSError with no errno; the
    # advice was to make the folder writable.
    from model.adapters import gguf_lora

    version = write_version(tmp_path, V1, tiny_model_dir, base_model="tiny", config_hash="")

    def short_write(*args: object, **kwargs: object) -> None:
        raise OSError("24576 requested and 14320 written")

    monkeypatch.setattr(gguf_lora, "_write", short_write)
    with pytest.raises(AdapterError) as refused:
        ensure_gguf_adapter(version, gguf_facts_of(tiny_model_dir))
    assert str(refused.value).endswith("(24576 requested and 14320 written); free some disk space.")
    assert not (version / ADAPTER_GGUF).exists()
