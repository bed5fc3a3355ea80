"""Session 68: training tokenizes a conversation as the worker tokenizes a prompt, the
whole chat in one call, on SentencePiece-style tokenizers too (Llama, Mistral), which
start every call with "▁": tokenized piece by piece, each reply began with a token the
worker never shows (Mistral v0.2's "▁Good" where the worker reads "Go", "od"; an extra
"▁" before every reply with the older `Prepend("▁")` normalizer)."""

from __future__ import annotations

from typing import Any

import pytest
from transformers.tokenization_python import PythonBackend

from model.engines.local import LocalEngine
from model.training.dataset import IGNORE, pack, tokenize_conversation, tokenize_dataset
from model.training.sharegpt import Conversation
from tests.model.chat_templates import LLAMA2, MISTRAL_V02, QWEN25, RealTemplate
from tests.model.chat_templates import template_tokenizer as byte_level_tokenizer

SYSTEM = "You are ATRI."
TURNS = (
    ("user", "Are you awake?"),
    ("assistant", "Good morning!"),
    ("user", "Really?"),
    ("assistant", "Of course!"),
)
TEXT = [
    "[INST] Are you awake? [/INST] Good morning! I am high-performance.",
    "<<SYS>> You are ATRI. <</SYS>> Really? Tell me more. Of course!",
] * 50
TEMPLATES = {"mistral-v0.2": MISTRAL_V02, "llama-2": LLAMA2}


def trained_bpe(pre_tokenizer: Any, normalizer: Any = None) -> Any:
    """A small byte-fallback BPE, as Llama's and Mistral's are, trained on TEXT."""
    from tokenizers import Tokenizer, models, trainers

    raw = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    raw.normalizer = normalizer
    raw.pre_tokenizer = pre_tokenizer
    alphabet = [chr(c) for c in range(32, 127)] + ["▁"]
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"], initial_alphabet=alphabet
    )
    raw.train_from_iterator(TEXT, trainer)
    return raw


def metaspace() -> Any:
    """The newer SentencePiece style: a Metaspace pre-tokenizer that puts "▁" first."""
    from tokenizers import decoders, pre_tokenizers

    raw = trained_bpe(pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first"))
    raw.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    return raw


def legacy(merge_across_words: bool = False) -> Any:
    """The older style (Llama-2's, Mistral v0.2's tokenizer.json): a normalizer that puts
    "▁" before every text between special tokens, and no pre-tokenizer. Its merges stop
    at "▁" as SentencePiece's do (it is trained on words), unless `merge_across_words`."""
    from tokenizers import decoders, normalizers, pre_tokenizers

    words = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never")
    spaces = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    raw = trained_bpe(None if merge_across_words else words, spaces)
    raw.pre_tokenizer = None
    raw.decoder = decoders.Sequence(
        [
            decoders.Replace("▁", " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            decoders.Strip(" ", 1, 0),
        ]
    )
    return raw


STYLES = {"metaspace": metaspace, "legacy": legacy}


def with_template(raw: Any, real: RealTemplate) -> Any:
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.pad_token = "<unk>"
    tokenizer.chat_template = real.template
    return tokenizer


@pytest.fixture(
    scope="module",
    params=[(s, t) for s in STYLES for t in TEMPLATES],
    ids=lambda param: "-".join(param),
)
def sp_tokenizer(request: pytest.FixtureRequest) -> Any:
    style, template = request.param
    return with_template(STYLES[style](), TEMPLATES[template])


def served_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """The ids the local worker generates from for `messages` (LocalEngine._encode)."""
    engine = LocalEngine.__new__(LocalEngine)
    engine.tokenizer = tokenizer
    return engine._encode([messages])[0]


def chat_before(conv: Conversation, reply: int) -> list[dict[str, str]]:
    """The chat the worker answers with turn `reply`: everything before it."""
    return conv.messages()[: len(conv.messages()) - len(conv.turns) + reply]


def labelled_runs(labels: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for i, label in enumerate(labels):
        if label == IGNORE:
            continue
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


def assert_trained_as_served(tokenizer: Any, conv: Conversation, sample: Any) -> None:
    """Before each reply the sample holds exactly the worker's ids for the chat up to
    it, and the labels cover that reply's tokens to its end token, nothing else."""
    replies = [i for i in range(len(conv.turns)) if conv.learns(i)]
    runs = labelled_runs(sample.labels)
    assert len(runs) == len(replies)
    for (start, stop), reply in zip(runs, replies, strict=True):
        prompt = served_ids(tokenizer, chat_before(conv, reply))
        assert sample.input_ids[:start] == prompt
        said = tokenizer.decode(sample.input_ids[start:stop], skip_special_tokens=True)
        assert said.strip() == conv.turns[reply][1]
        assert sample.input_ids[stop - 1] == tokenizer.eos_token_id
    assert sample.labels == [
        token if any(a <= i < b for a, b in runs) else IGNORE
        for i, token in enumerate(sample.input_ids)
    ]


def test_each_reply_is_trained_after_the_ids_the_worker_serves(sp_tokenizer: Any) -> None:
    conv = Conversation(SYSTEM, TURNS)
    assert_trained_as_served(sp_tokenizer, conv, tokenize_conversation(sp_tokenizer, conv))


def test_a_reply_kept_as_context_stays_unlabelled_and_served_alike(sp_tokenizer: Any) -> None:
    conv = Conversation(SYSTEM, TURNS, untrained=frozenset({1}))
    sample = tokenize_conversation(sp_tokenizer, conv)
    assert_trained_as_served(sp_tokenizer, conv, sample)
    assert len(labelled_runs(sample.labels)) == 1


def test_a_truncated_conversation_keeps_its_newest_exchange_as_served(
    sp_tokenizer: Any,
) -> None:
    turns = (*TURNS, ("user", "Tell me more."), ("assistant", "I am high-performance."))
    conv = Conversation(SYSTEM, turns)
    whole = tokenize_conversation(sp_tokenizer, conv)
    result = tokenize_dataset(sp_tokenizer, [conv], len(whole) - 1)
    assert result.truncated == 1
    sample = result.samples[0]
    kept = len(turns) - len(labelled_runs(sample.labels)) * 2
    assert kept > 0
    assert_trained_as_served(sp_tokenizer, conv.since(kept), sample)
    (row,) = pack([sample, whole], len(sample) + len(whole))
    assert row.input_ids in (
        sample.input_ids + whole.input_ids,
        whole.input_ids + sample.input_ids,
    )


def test_a_token_that_crosses_into_a_reply_is_cut_there() -> None:
    """Merges across words (a tokenizer trained without pre-tokenizing) put the prompt's
    end and the reply's start in one token ("wake?▁[/INST]▁Good▁"): the reply still
    starts on a token of its own, after the worker's ids for its prompt."""
    tokenizer = with_template(legacy(merge_across_words=True), LLAMA2)
    conv = Conversation(SYSTEM, TURNS[:2])
    rendered = tokenizer.apply_chat_template(conv.messages(), tokenize=False)
    tokens = tokenizer.tokenize(rendered)
    assert any("[/INST]" in token and "Good" in token for token in tokens)
    assert_trained_as_served(tokenizer, conv, tokenize_conversation(tokenizer, conv))


class SlowTokenizer(PythonBackend):
    """A Python ("slow") tokenizer, which gives no character offsets, on the tiny
    byte-level tokenizer's vocabulary."""

    def __init__(self, fast: Any) -> None:
        self.fast = fast
        super().__init__(eos_token=fast.eos_token, pad_token=fast.pad_token)
        self.chat_template = fast.chat_template

    @property
    def vocab_size(self) -> int:
        return int(self.fast.vocab_size)

    def get_vocab(self) -> dict[str, int]:
        return dict(self.fast.get_vocab())

    def _tokenize(self, text: str, **kwargs: Any) -> list[str]:
        return list(self.fast.backend_tokenizer.encode(text, add_special_tokens=False).tokens)

    def _convert_token_to_id(self, token: str) -> int:
        return int(self.fast.convert_tokens_to_ids(token))

    def _convert_id_to_token(self, index: int) -> str:
        return str(self.fast.convert_ids_to_tokens(index))


def test_a_tokenizer_without_offsets_is_tokenized_piece_by_piece() -> None:
    fast = byte_level_tokenizer(QWEN25)
    slow = SlowTokenizer(fast)
    assert not slow.is_fast
    conv = Conversation(SYSTEM, TURNS)
    assert tokenize_conversation(slow, conv) == tokenize_conversation(fast, conv)
