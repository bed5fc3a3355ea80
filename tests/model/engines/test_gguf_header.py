"""The GGUF header walker against gguf's own reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.adapters.gguf_lora import gguf_facts
from model.adapters.versions import AdapterError
from model.engines.gguf_header import gguf_header
from model.engines.offline_gguf import OFFLINE_GGUF, offline_gguf_dir


def test_every_value_of_the_offline_gguf_is_what_ggufs_reader_reads() -> None:
    import gguf

    path = offline_gguf_dir() / OFFLINE_GGUF
    reader = gguf.GGUFReader(str(path))
    with gguf_header(path) as header:
        scalars = {
            name: field.contents()
            for name, field in reader.fields.items()
            if not name.startswith("GGUF.") and field.types[0] != gguf.GGUFValueType.ARRAY
        }
        assert header.values == pytest.approx(scalars)
        tokens = reader.fields["tokenizer.ggml.tokens"].contents()
        for index in (0, 1, 2, 1000, len(tokens) - 1):
            assert header.string_item("tokenizer.ggml.tokens", index) == tokens[index]
        assert header.string_item("tokenizer.ggml.tokens", len(tokens)) is None
        assert header.string_item("tokenizer.ggml.scores", 0) is None  # not strings


def write_small(path: Path) -> None:
    import gguf

    writer = gguf.GGUFWriter(path, "llama")
    writer.add_block_count(2)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_token_list(["<unk>", "héllo"])
    writer.add_token_scores([0.0, 0.5])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()


def test_the_adapter_facts_and_a_cut_or_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "small.gguf"
    write_small(path)
    assert gguf_facts(path) == {"arch": "llama", "blocks": 2, "heads": 4, "kv_heads": 2}
    whole = path.read_bytes()
    path.write_bytes(whole[:40])  # cut inside the first key
    with pytest.raises(AdapterError, match="not a readable GGUF file"):
        gguf_facts(path)
    path.write_bytes(b"PK\x03\x04" + whole[4:])  # a zip's magic
    with pytest.raises(AdapterError, match="not a readable GGUF file"):
        gguf_facts(path)
    path.write_bytes(b"")
    with pytest.raises(AdapterError, match="not a readable GGUF file"):
        gguf_facts(path)
