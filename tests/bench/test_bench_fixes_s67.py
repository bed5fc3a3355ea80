"""What the benches compute and print, without running one: the engine bench's reload row
when no reply fit the steady phase, its bare `Llama` opened with the engine's context
settings, the relay's flat-out clock and "× raw" cells, the dump bench's summary line,
and `--mb` meaning the MB every figure counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import dataprep_speed, dump_speed, engine_speed, relay
from bench.synthetic_gguf import SHAPES, write_synthetic_gguf
from model.engines.llamacpp import SPARE_SEQUENCES, LlamaCppEngine, context_settings
from model.engines.offline_gguf import OFFLINE_GGUF, offline_gguf_dir
from model.service import ChatService

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}]


def test_no_reply_inside_a_short_steady_phase_gives_a_row_not_a_crash() -> None:
    # Every reply started before the steady phase or ended after the reload began.
    latencies = [(0.5, 2.5, "ok"), (1.5, 4.5, "ok"), (3.5, 5.0, "ok")]
    steady, reloading = engine_speed.longest_replies(latencies, 1.0, 3.0, 6.0)
    assert (steady, reloading) == (0.0, 3.0)
    row = engine_speed.reload_row(steady, reloading, 0, synthetic=False)
    assert row[1] == "no reply finished inside the steady phase; raise --phase"
    assert row[2:4] == ["", ""]


def test_the_reload_row_compares_the_longest_replies_when_both_phases_have_one() -> None:
    latencies = [(1.2, 1.8, "ok"), (1.5, 2.5, "ok"), (2.8, 3.6, "ok"), (4.0, 5.5, "busy")]
    steady, reloading = engine_speed.longest_replies(latencies, 1.0, 3.0, 6.0)
    assert steady == pytest.approx(1.0)
    assert reloading == pytest.approx(1.5)
    row = engine_speed.reload_row(steady, reloading, 1, synthetic=False)
    assert row[0] == "longest reply in a reload vs steady (ms, 1 failed)"
    assert row[1:] == ["1500", "1000", "1.50x", "<= 1.5x"]
    assert engine_speed.reload_row(0.0, 0.0, 0, synthetic=True)[1] == "skipped: synthetic"


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tokenizer = offline_gguf_dir() / OFFLINE_GGUF
    return write_synthetic_gguf(
        SHAPES["tiny"], tokenizer, tmp_path_factory.mktemp("tiny") / "tiny.gguf"
    )


def test_the_bare_llama_opens_its_context_as_the_engine_does(tiny_gguf: Path) -> None:
    engine = LlamaCppEngine(tiny_gguf, "synthetic", "", max_batch=4, threads=1)
    try:
        settings = engine.context_settings
        rows = engine.rows_per_pass + SPARE_SEQUENCES
        assert settings == context_settings(engine.kv_cells, rows, engine.threads)
        assert settings["flash_attn"] and settings["kv_unified"]
        ll = engine._ll
        assert ll.llama_n_ctx(engine._ctx) == settings["n_ctx"] == engine.kv_cells
        assert ll.llama_n_seq_max(engine._ctx) == settings["n_seq_max"]
        history = engine.text.encode(CHAT * 20)
    finally:
        engine._free()

    bare = engine_speed.load_bare(tiny_gguf, settings)
    try:
        assert {name: getattr(bare.context_params, name) for name in settings} == settings
        assert ll.llama_n_ctx(bare._ctx.ctx) == settings["n_ctx"]
        assert ll.llama_n_seq_max(bare._ctx.ctx) == settings["n_seq_max"]
        assert bare.n_batch == settings["n_batch"]  # what `Llama.eval` reads at a time
        assert engine_speed.bare_read_s(bare, history) > 0
        assert bare.n_tokens == len(history)
    finally:
        bare.close()

    defaults = engine_speed.load_bare(tiny_gguf, {}, threads=1)
    try:
        assert not defaults.context_params.flash_attn
        assert ll.llama_n_ctx(defaults._ctx.ctx) == engine_speed.BARE_DEFAULT_N_CTX
    finally:
        defaults.close()


async def test_a_flat_out_run_is_timed_from_its_first_message(tmp_path: Path) -> None:
    async with await ChatService.open(relay.settings_in(tmp_path, "flat")) as service:
        wall, latencies = await relay.drive(service.chat, users=2, messages=2, rate=0.0)
    # Each message is sent after the run began and answered before it ended: the clock
    # started 50 ms after the first send before, and a short run's wall came out negative.
    assert len(latencies) == 4
    assert 0 < max(latencies) <= wall


def test_fixed_rate_rows_show_no_ratio_to_raw() -> None:
    assert relay.times_raw(1000.0, 4000.0, offered=1000.0) == ""
    assert relay.times_raw(2000.0, 4000.0, offered=0.0) == "0.50"


def test_the_dump_summary_does_not_call_different_utterances_the_same_lines() -> None:
    line = dump_speed.comparison(2.0, 0.8, (0.02, 0.02, 14434), (0.08, 0.08, 13199))
    assert "same translated lines" not in line
    assert "by time to read the same translated side" in line
    assert "13199 and 14434 utterances" in line
    assert "0.23 by utterances/s" in line  # (13199 / 0.08) / (14434 / 0.02)


@pytest.mark.parametrize("bench", [dataprep_speed, dump_speed])
def test_mb_asked_is_the_mb_printed(bench: Any) -> None:
    assert bench.MB == 1_000_000  # what the titles and MB/s divide by
    size = bench.target_bytes(0.5)
    if bench is dump_speed:
        text = dump_speed.generate_dump(size, 0.01)[0]
    else:
        text = dataprep_speed.generate_script(size)
    assert f"{len(text.encode('utf-8')) / bench.MB:.2f}" == "0.50"
