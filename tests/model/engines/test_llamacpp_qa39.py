"""QA round 39 on `[model] engine = "llamacpp"` as a fan runs it: a CPU and the GGUF of a
Chinese chat model. Tiny random-weight GGUFs of other shapes and templates are written
here (the offline GGUF's tokenizer, `bench/synthetic_gguf.py`'s way), nothing downloaded."""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from atri.config import GenerationSettings, Settings
from model.character.prompt import ChatMessages
from model.engines.chat_template import ChatTemplateError
from model.engines.gguf_files import gguf_config_hash, gguf_path
from model.engines.llamacpp import LlamaCppEngine
from model.engines.loading import config_hash
from model.engines.offline_gguf import OFFLINE_GGUF, ModelNotFoundError, offline_gguf_dir

GREEDY = GenerationSettings(max_new_tokens=24, do_sample=False, repetition_penalty=1.0)
HELLO: ChatMessages = [
    {"role": "system", "content": "你是亚托莉。"},
    {"role": "user", "content": "你好！"},
]
# The tiny shape every synthetic GGUF here has (as bench/synthetic_gguf.py's "tiny").
HIDDEN, LAYERS, HEADS, KV_HEADS, FFN = 64, 2, 4, 2, 128
KEEP = object()  # the tokenizer's own chat template
# A Qwen2.5-0.5B-Instruct-like config.json of the tiny shape: what `atri train` hashes.
QWEN_CONFIG = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "hidden_size": HIDDEN,
    "intermediate_size": FFN,
    "num_hidden_layers": LAYERS,
    "num_attention_heads": HEADS,
    "num_key_value_heads": KV_HEADS,
    "max_position_embeddings": 2048,
    "max_window_layers": 21,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "sliding_window": 32768,
    "use_sliding_window": False,
    "tie_word_embeddings": True,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "bfloat16",
}


@pytest.fixture(scope="module")
def tokenizer_fields() -> Any:
    """The offline GGUF's tokenizer metadata (read once: a few seconds)."""
    import gguf

    reader = gguf.GGUFReader(str(offline_gguf_dir() / OFFLINE_GGUF))
    return {k: f for k, f in reader.fields.items() if k.startswith("tokenizer.")}


@pytest.fixture(scope="module")
def write_gguf(tokenizer_fields: Any) -> Callable[..., Path]:
    def write(target: Path, arch: str = "llama", template: Any = KEEP) -> Path:
        """A random `arch` model of the tiny shape with the offline tokenizer and
        `template` as its chat template (None: none)."""
        import gguf

        vocab = len(tokenizer_fields["tokenizer.ggml.tokens"].data)
        writer = gguf.GGUFWriter(str(target), arch)
        writer.add_context_length(2048)
        writer.add_embedding_length(HIDDEN)
        writer.add_block_count(LAYERS)
        writer.add_feed_forward_length(FFN)
        writer.add_head_count(HEADS)
        writer.add_head_count_kv(KV_HEADS)
        writer.add_rope_freq_base(1_000_000.0)
        writer.add_layer_norm_rms_eps(1e-6)  # stored in 32 bits, as llama.cpp's converter does
        writer.add_vocab_size(vocab)
        for key, field in tokenizer_fields.items():
            if key == "tokenizer.chat_template" and template is not KEEP:
                continue
            kind = field.types[0]
            sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(key, field.contents(), kind, sub)
        if template is not KEEP and template is not None:
            writer.add_chat_template(template)
        head = HIDDEN // HEADS
        rng = np.random.default_rng(0)
        tensors: list[tuple[str, tuple[int, ...]]] = [("token_embd.weight", (vocab, HIDDEN))]
        for i in range(LAYERS):
            tensors += [
                (f"blk.{i}.attn_norm.weight", (HIDDEN,)),
                (f"blk.{i}.attn_q.weight", (HIDDEN, HIDDEN)),
                (f"blk.{i}.attn_k.weight", (head * KV_HEADS, HIDDEN)),
                (f"blk.{i}.attn_v.weight", (head * KV_HEADS, HIDDEN)),
                (f"blk.{i}.attn_output.weight", (HIDDEN, HIDDEN)),
                (f"blk.{i}.ffn_norm.weight", (HIDDEN,)),
                (f"blk.{i}.ffn_gate.weight", (FFN, HIDDEN)),
                (f"blk.{i}.ffn_up.weight", (FFN, HIDDEN)),
                (f"blk.{i}.ffn_down.weight", (HIDDEN, FFN)),
            ]
            if arch == "qwen2":
                tensors += [
                    (f"blk.{i}.attn_q.bias", (HIDDEN,)),
                    (f"blk.{i}.attn_k.bias", (head * KV_HEADS,)),
                    (f"blk.{i}.attn_v.bias", (head * KV_HEADS,)),
                ]
        tensors.append(("output_norm.weight", (HIDDEN,)))
        for name, dims in tensors:
            if len(dims) == 1:
                data = np.ones(dims, np.float32) if "norm" in name else np.zeros(dims, np.float32)
            else:
                data = (rng.standard_normal(dims, np.float32) / np.sqrt(dims[1])).astype(np.float16)
            writer.add_tensor(name, data)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return target

    return write


def llamacpp_settings(root: Path, gguf: str, base: str = "") -> Settings:
    settings = Settings(root=root)
    settings.model.engine = "llamacpp"
    settings.model.gguf = gguf
    settings.model.base = base
    return settings


async def test_a_folder_a_foreign_file_and_a_cut_gguf_are_one_sentence_each(
    tmp_path: Path, write_gguf: Callable[..., Path]
) -> None:
    """Each stopped the worker with transformers' traceback from its GGUF reader (or,
    for a folder, said there was no such file)."""
    (tmp_path / "models").mkdir()
    whole = write_gguf(tmp_path / "models" / "qwen.gguf").read_bytes()
    (tmp_path / "notes.gguf").write_text("not a model\n")
    (tmp_path / "header-cut.gguf").write_bytes(whole[:100])
    (tmp_path / "download-cut.gguf").write_bytes(whole[: len(whole) // 2])
    cases = {
        "models": r'"models" is a folder \(it holds qwen\.gguf\); point it at the GGUF file',
        "notes.gguf": r"is not a GGUF file llama\.cpp can load \(it does not start with GGUF's",
        "header-cut.gguf": r"is not a GGUF file llama\.cpp can load \(its header is cut short\)",
        "download-cut.gguf": rf"is cut short: {len(whole) // 2:,} bytes of the {len(whole):,}",
    }
    for name, sentence in cases.items():
        with pytest.raises(ModelNotFoundError, match=sentence):
            await LlamaCppEngine.load(llamacpp_settings(tmp_path, name))


async def test_a_gguf_of_another_model_than_the_base_is_refused_at_start(
    tmp_path: Path, write_gguf: Callable[..., Path]
) -> None:
    """The worker served it, and every adapter version was then refused by its config
    hash alone (or, with the same hash rules, loaded into the wrong model)."""
    write_gguf(tmp_path / "tiny.gguf")
    # Against the offline default (the base when none is named): its shape is SmolLM2's.
    with pytest.raises(ModelNotFoundError, match=r"layers 2 \(the base: 30\), hidden size 64"):
        await LlamaCppEngine.load(llamacpp_settings(tmp_path, "tiny.gguf"))
    # Against a local base folder whose config.json is another size of the model.
    base = tmp_path / "Qwen2.5-7B-Instruct"
    base.mkdir()
    (base / "config.json").write_text(json.dumps({**QWEN_CONFIG, "hidden_size": 3584}))
    with pytest.raises(
        ModelNotFoundError,
        match=r'is not a GGUF of \[model\] base = ".*Qwen2.5-7B-Instruct": hidden size 64 \(the '
        r"base: 3,584\)",
    ):
        await LlamaCppEngine.load(llamacpp_settings(tmp_path, "tiny.gguf", str(base)))


async def test_versions_trained_on_the_hf_base_are_accepted_by_its_gguf(
    tmp_path: Path, write_gguf: Callable[..., Path], caplog: pytest.LogCaptureFixture
) -> None:
    """`atri train` records the hash of the Hugging Face base's config; transformers reads
    another config from the GGUF converted from it (rms_norm_eps in 32 bits, no
    max_window_layers), so every version trained on a real Qwen was refused."""
    from transformers import AutoConfig

    path = write_gguf(tmp_path / "qwen2.5-0.5b-instruct-q4_0.gguf", arch="qwen2")
    base = tmp_path / "Qwen2.5-0.5B-Instruct"
    base.mkdir()
    (base / "config.json").write_text(json.dumps(QWEN_CONFIG))
    trained_on = config_hash(types.SimpleNamespace(config=AutoConfig.from_pretrained(base)))
    assert gguf_config_hash(path) != trained_on  # why the GGUF's own hash is not enough
    engine = await LlamaCppEngine.load(llamacpp_settings(tmp_path, path.name, str(base)))
    try:
        assert engine.accepts_config_hash(trained_on)
        assert engine.accepts_config_hash(gguf_config_hash(path))  # as before
        assert not engine.accepts_config_hash("0123456789abcdef")
        assert engine.config_hash == trained_on  # what a refusal names
        (reply,) = engine.generate_sync([HELLO], GREEDY)
        assert reply.new_tokens > 0
    finally:
        await engine.close()
    # A base not on this machine (trained elsewhere, adapters copied here): the GGUF's
    # hash is no test of them, llama.cpp's shape checks are.
    settings = llamacpp_settings(tmp_path, path.name, "atri-qa39/never-downloaded-0.5B")
    with caplog.at_level("WARNING", logger="model.engines.llamacpp"):
        engine = await LlamaCppEngine.load(settings)
    try:
        assert engine.accepts_config_hash(trained_on)
        assert "not by their config hash" in caplog.text
    finally:
        await engine.close()


async def test_a_gguf_transformers_cannot_read_still_serves(
    tmp_path: Path, write_gguf: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GGUF of an architecture transformers has no GGUF reader for (GLM-4's, which
    llama.cpp serves) stopped the worker with transformers' ValueError."""
    import transformers

    path = write_gguf(tmp_path / "glm-4-9b-chat-q4_0.gguf")

    def unsupported(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("GGUF model with architecture glm4 is not supported yet.")

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", unsupported)
    base = tmp_path / "glm-4-9b-chat"
    base.mkdir()
    config = {"model_type": "glm4", "hidden_size": HIDDEN, "num_hidden_layers": LAYERS}
    (base / "config.json").write_text(json.dumps(config))
    engine = await LlamaCppEngine.load(llamacpp_settings(tmp_path, path.name, str(base)))
    try:
        # No hash known: versions are checked by their base's name and llama.cpp's shapes.
        assert engine.accepts_config_hash("0123456789abcdef")
        (reply,) = engine.generate_sync([HELLO], GREEDY)
        assert reply.new_tokens > 0
    finally:
        await engine.close()


async def test_a_gguf_template_that_refuses_atris_chats_is_one_sentence_at_start(
    tmp_path: Path, write_gguf: Callable[..., Path]
) -> None:
    """The worker started, then every request failed with a traceback in the log and her
    error line to the user."""
    template = "{% for m in messages %}{{ m.content | nosuchfilter }}{% endfor %}"
    write_gguf(tmp_path / "odd.gguf", template=template)
    settings = llamacpp_settings(tmp_path, "odd.gguf")
    settings.model.base = "builtin:smollm2-135m"
    with pytest.raises(ChatTemplateError, match=r"No filter named 'nosuchfilter'.*\[model\] chat"):
        LlamaCppEngine(gguf_path(settings), "x", "")
    write_gguf(tmp_path / "none.gguf", template=None)
    with pytest.raises(ModelNotFoundError, match="the GGUF holds no chat template"):
        LlamaCppEngine(gguf_path(llamacpp_settings(tmp_path, "none.gguf")), "x", "")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppEngine]:
    settings = Settings(root=tmp_path_factory.mktemp("qa39"))
    engine = LlamaCppEngine(gguf_path(settings), "builtin:smollm2-135m", "", max_batch=4)
    yield engine
    engine._free()


def test_a_reply_cut_inside_a_character_shows_no_replacement_character(
    engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token is bytes and a Chinese character three of them: a reply cut by its token
    cap in the middle of one ended in U+FFFD, and so could a stop check's window."""
    text = "你好，我是亚托莉！"
    tokens = engine.text.tokenize(text)
    for end in range(1, len(tokens) + 1):
        part = engine.text.detokenize(tokens[:end])
        assert "\ufffd" not in part and text.startswith(part)
    assert engine.text.detokenize(tokens) == text

    # End to end: the model writes the text, its cap ends it inside a character.
    def replaced(n: int) -> str:  # how the first n tokens read before
        return b"".join(engine.text._piece(t) for t in tokens[:n]).decode("utf-8", "replace")

    cut = max(n for n in range(1, len(tokens)) if "\ufffd" in replaced(n))
    script = iter(tokens)
    monkeypatch.setattr(engine, "_sample", lambda *_: next(script))
    gen = GenerationSettings(max_new_tokens=cut, do_sample=False, repetition_penalty=1.0)
    (reply,) = engine.generate_sync([HELLO], gen)
    assert reply.new_tokens == cut and "\ufffd" not in reply.text
    assert reply.text and text.startswith(reply.text)


def cgroup_files(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_cgroup_cpu_quota_caps_the_threads(tmp_path: Path) -> None:
    """`docker run --cpus=2` on a 16-core host: affinity shows 16 CPUs, and llama.cpp ran
    8 threads that spun against a quota of 2 CPUs' time."""
    from model.engines.cpu_threads import cpu_quota

    v2 = cgroup_files(
        tmp_path / "v2",
        {
            "own": "0::/system.slice/atri.service\n",
            "fs/system.slice/atri.service/cpu.max": "150000 100000\n",
            "fs/system.slice/cpu.max": "max 100000\n",
        },
    )
    assert cpu_quota(v2 / "fs", v2 / "own") == 1.5
    (v2 / "fs/system.slice/cpu.max").write_text("50000 100000\n")  # a parent's applies too
    assert cpu_quota(v2 / "fs", v2 / "own") == 0.5
    # cgroup v1 in a container: its own cgroup is mounted at the controller's folder.
    v1 = cgroup_files(
        tmp_path / "v1",
        {
            "own": "5:cpu,cpuacct:/docker/0123abcd\n4:memory:/docker/0123abcd\n",
            "fs/cpu,cpuacct/cpu.cfs_quota_us": "200000\n",
            "fs/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
        },
    )
    assert cpu_quota(v1 / "fs", v1 / "own") == 2.0
    (v1 / "fs/cpu,cpuacct/cpu.cfs_quota_us").write_text("-1\n")  # no quota
    assert cpu_quota(v1 / "fs", v1 / "own") is None
    assert cpu_quota(tmp_path / "none", tmp_path / "none" / "own") is None


def test_the_engine_runs_no_more_threads_than_its_quota(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from model.engines import cpu_threads

    monkeypatch.setattr(cpu_threads, "physical_cores", lambda: 8)
    monkeypatch.setattr(cpu_threads, "usable_cpus", lambda: list(range(16)))
    monkeypatch.setattr(cpu_threads, "cpu_quota", lambda: 1.5)
    engine = LlamaCppEngine(gguf_path(Settings(root=tmp_path)), "builtin:smollm2-135m", "")
    try:
        assert engine.threads == 1 == engine._ll.llama_n_threads(engine._ctx)
        assert engine._governor is not None and engine._governor.cpus == 1
    finally:
        engine._free()


async def test_a_conversion_the_disk_refused_is_tried_again_at_the_next_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while converting a version's adapter.gguf refused the version for as
    long as its files stayed the same: once room was made, the job never tried it
    again (a restart did). The live adapter answers meanwhile."""
    import errno

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from atri.config import ReloadSettings
    from model.adapters import gguf_lora
    from model.adapters.reload import Reloader
    from model.engines.offline_gguf import offline_default_folder
    from tests.conftest import _model_cache_dir
    from tests.model.engines.test_llamacpp import V1, write_version

    model = AutoModelForCausalLM.from_pretrained(offline_default_folder(_model_cache_dir()))
    peft = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    peft.save_pretrained(str(tmp_path / "peft"))
    path = gguf_path(Settings(root=tmp_path))
    config_hash = gguf_config_hash(path)
    adapters = tmp_path / "adapters"
    adapters.mkdir()
    write_version(adapters, V1, tmp_path / "peft", config_hash)
    real_write, full = gguf_lora._write, [True]

    def write(*args: Any) -> Any:
        if full[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(*args)

    monkeypatch.setattr(gguf_lora, "_write", write)
    engine = LlamaCppEngine(path, "builtin:smollm2-135m", config_hash, max_batch=2)
    try:
        reloader = Reloader(ReloadSettings(), adapters, tmp_path, engine, "You are ATRI.", "Hi!")
        refused = await reloader.check()
        assert refused is not None and not refused.ok
        assert "(No space left on device); free some disk space." in refused.message
        assert reloader.live == "" and not (adapters / V1 / "adapter.gguf").exists()
        (reply,) = await engine.generate([HELLO], GREEDY)  # the live one answers
        assert reply.new_tokens > 0
        assert await reloader.check() is not None  # still full: tried, refused again
        full[0] = False  # room made
        loaded = await reloader.check()
        assert loaded is not None and loaded.ok and reloader.live == V1
        assert (adapters / V1 / "adapter.gguf").is_file()
    finally:
        await engine.close()
