"""Long-term memory: a conversation's oldest exchanges folded into a rolling summary.

When a scope's earlier messages no longer all fit its prompt, `Summarizer.request` queues
the scope. A background task then asks the engine, through the batcher's low-priority lane
and only while no live reply is being answered, to rewrite the scope's summary with its
oldest exchanges folded in. Old facts are not put at risk at every fold: the model
summarizes only the newly folded exchanges, and that is added to the summary; only when
the whole passes `summary_max_tokens` is it rewritten as one (compressed). The summary
is stored in the memory database with the last
message it covers and the adapter version that wrote it; from then on those messages are
shown to the model through the summary only (`character.prompt.fit_prompt` puts it first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from atri.config import GenerationSettings
from model.batching import Batcher
from model.character.prompt import (
    TEMPLATE_OVERHEAD_TOKENS,
    ChatMessages,
    clean_reply,
    keep_end,
)
from model.memory import Memory, Message, Summary

log = logging.getLogger(__name__)

# How often the background task looks whether live replies are still being answered.
IDLE_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class Labels:
    """The summary request's own words, in the language she speaks."""

    previous: str
    conversation: str
    nothing_yet: str
    colon: str


LABELS = {
    "zh": Labels("【之前的摘要】", "【之后的对话】", "（还没有）", "："),
    "en": Labels("[Summary so far]", "[Next part of the conversation]", "(none yet)", ": "),
    "ja": Labels("【これまでの要約】", "【その後の会話】", "（まだない）", "："),
}


@dataclass(frozen=True)
class FoldPlan:
    """One summary request: the prompt, and the last message id it folds in."""

    messages: ChatMessages
    covers_up_to: int
    exchanges: int


def split_exchanges(messages: Sequence[Message]) -> list[list[Message]]:
    """Whole exchanges, oldest first: a user message and the replies after it (replies
    before the first user message go with it)."""
    out: list[list[Message]] = []
    for message in messages:
        if message.role == "user" or not out:
            if out and all(m.role != "user" for m in out[-1]):
                out[-1].append(message)
            else:
                out.append([message])
        else:
            out[-1].append(message)
    return out


def transcript(exchanges: Sequence[Sequence[Message]], char_name: str, labels: Labels) -> str:
    lines = []
    for exchange in exchanges:
        for m in exchange:
            who = char_name if m.role == "assistant" else (m.display_name or m.user_id or "?")
            lines.append(f"{who}{labels.colon}{m.content}")
    return "\n".join(lines)


def plan_fold(
    previous: Summary | None,
    unsummarized: Sequence[Message],
    fold_exchanges: int,
    instruction: str,
    char_name: str,
    labels: Labels,
    count: Callable[[str], int],
    max_prompt_tokens: int,
) -> FoldPlan | None:
    """The oldest `fold_exchanges` exchanges (fewer if they do not fit
    `max_prompt_tokens`; never the newest exchange) folded into the previous summary.
    None when there is nothing to fold."""
    exchanges = split_exchanges(unsummarized)
    take = exchanges[: min(fold_exchanges, len(exchanges) - 1)]
    if not take:
        return None
    head = f"{labels.previous}\n{previous.text if previous else labels.nothing_yet}\n\n"
    head += f"{labels.conversation}\n"
    room = max_prompt_tokens - count(instruction) - count(head) - 2 * TEMPLATE_OVERHEAD_TOKENS
    body = transcript(take, char_name, labels)
    while len(take) > 1 and count(body) > room:
        take = take[:-1]
        body = transcript(take, char_name, labels)
    if count(body) > room:  # one exchange alone is too long: its end is what was said last
        body = keep_end(body, max(room, 0), count)
    return FoldPlan(
        messages=[
            {"role": "system", "content": instruction},
            {"role": "user", "content": head + body},
        ],
        covers_up_to=take[-1][-1].id,
        exchanges=len(take),
    )


class Summarizer:
    """Writes summaries in the background, one scope at a time, never ahead of a reply."""

    def __init__(
        self,
        memory: Memory,
        batcher: Batcher,
        gen: GenerationSettings,
        instruction: str,
        char_name: str,
        language: str,
        count: Callable[[str], int],
        context_window: int,
        fold_exchanges: int,
        busy: Callable[[], bool],
    ) -> None:
        self.memory = memory
        self.batcher = batcher
        self.gen = gen
        self.instruction = instruction
        self.char_name = char_name
        self.labels = LABELS.get(language, LABELS["en"])
        self.count = count
        self.max_prompt_tokens = context_window - gen.max_new_tokens
        self.fold_exchanges = fold_exchanges
        self.busy = busy
        self.written = 0
        self.compactions = 0
        self._pending: dict[str, None] = {}  # scopes to fold, in the order asked
        self._wake = asyncio.Event()
        self._working = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="atri-summaries")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def request(self, scope: str) -> None:
        """Fold the scope's oldest exchanges when the engine has time (at most once queued)."""
        self._pending[scope] = None
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._pending) + self._working

    async def idle(self) -> None:
        """Return once every requested summary is written (or given up)."""
        while self.pending:
            await asyncio.sleep(IDLE_POLL_SECONDS)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                scope = next(iter(self._pending))
                del self._pending[scope]
                self._working = True
                try:
                    await self.fold(scope)
                except Exception:
                    log.exception("the memory summary of %s was not written", scope)
                finally:
                    self._working = False

    def compact_prompt(self, text: str) -> ChatMessages:
        """Rewrite a summary that grew past its size as one shorter summary."""
        room = self.max_prompt_tokens - self.count(self.instruction) - 2 * TEMPLATE_OVERHEAD_TOKENS
        body = keep_end(f"{self.labels.previous}\n{text}", max(room, 0), self.count)
        return [
            {"role": "system", "content": self.instruction},
            {
                "role": "user",
                "content": f"{body}\n\n{self.labels.conversation}\n{self.labels.nothing_yet}",
            },
        ]

    async def fold(self, scope: str) -> bool:
        """Write the scope's next summary; False when there was nothing to fold or a
        reset ended the context meanwhile."""
        previous = await self.memory.summary(scope)
        unsummarized = await self.memory.messages_after(
            scope, previous.covers_up_to if previous else 0
        )
        plan = plan_fold(
            None,  # the new exchanges alone: the summary so far is kept as written
            unsummarized,
            self.fold_exchanges,
            self.instruction,
            self.char_name,
            self.labels,
            self.count,
            self.max_prompt_tokens,
        )
        if plan is None:
            return False
        while self.busy():  # replies being answered come first
            await asyncio.sleep(IDLE_POLL_SECONDS)
        generation = await self.batcher.submit_low(plan.messages, self.gen)
        # Nothing worth keeping in those exchanges is an answer too: they count as
        # folded, so they are not offered again at every message.
        text = clean_reply(generation.text, self.char_name)
        if previous is not None:
            text = f"{previous.text}\n{text}".strip()
        if self.count(text) > self.gen.max_new_tokens:  # too long: rewritten as one
            while self.busy():
                await asyncio.sleep(IDLE_POLL_SECONDS)
            generation = await self.batcher.submit_low(self.compact_prompt(text), self.gen)
            text = clean_reply(generation.text, self.char_name) or text
            self.compactions += 1
        stored = await self.memory.add_summary(
            scope, text, plan.covers_up_to, generation.adapter_version
        )
        self.written += stored
        return stored
