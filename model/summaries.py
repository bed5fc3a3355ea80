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
A fold that leaves the scope still behind (exchanges neither summarized nor in her prompt,
after a burst) asks for the next one at once, so the gap closes while the room is quiet
rather than one fold per new message.

A small model asked to summarise often does something else: it continues the transcript,
or writes words that were never said ("Stay tuned for another exciting update!"). Such a
summary would replace what was said with what was not, so it is checked (`is_summary_of`):
one that holds a transcript line, or whose words mostly do not come from what it
summarises (or an empty answer), is replaced by the person's own statements (`notes`),
which lose no fact; their questions only when they said nothing else and nothing is
remembered yet. A rewrite of the whole summary (past `summary_max_tokens`) must also keep
most of its names and numbers (`keeps_facts_of`): else its newest lines are kept, and a
log line says how many older ones were dropped. An empty summary is never stored: it
would hide those exchanges from the model with nothing in their place.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from atri.config import GenerationSettings
from model.batching import Batcher
from model.character.prompt import (
    MIN_MESSAGE_TOKENS,
    SUMMARY_SHARE,
    TEMPLATE_OVERHEAD_TOKENS,
    UNNAMED,
    ChatMessages,
    clean_reply,
    keep_end,
    said_line,
    shown_name,
    told_apart,
)
from model.engines.base import EngineRequestFailed, Generation
from model.memory import FailureLog, Memory, Message, Summary
from model.tasks import stop_task

log = logging.getLogger(__name__)

# How often the background task looks whether live replies are still being answered.
IDLE_POLL_SECONDS = 0.02
# A summary is taken as one when at least this share of its distinct words (Latin words
# of four letters or more that are not function words, numbers, CJK character pairs)
# occur in what it summarises (not counting the instruction, whose words "the next part
# of the conversation" rambles are made of): a paraphrase keeps the names, things and
# verbs it is about (0.4-0.8 on real summaries), an invented continuation keeps almost
# none (0-0.15). Counted with "the" and its repeats, invented English prose passed.
GROUNDED_SHARE = 0.3
_MIN_WORD_LETTERS = 4
# Words any English text holds, whatever it is about.
# fmt: off
_FUNCTION_WORDS = frozenset({
    "about", "above", "after", "again", "also", "because", "been", "before", "being", "below",
    "between", "both", "could", "does", "doing", "down", "during", "each", "from", "further",
    "have", "having", "here", "into", "just", "more", "most", "much", "once", "only", "other",
    "over", "same", "should", "some", "such", "than", "that", "their", "theirs", "them", "then",
    "there", "these", "they", "this", "those", "through", "under", "until", "very", "were",
    "what", "when", "where", "which", "while", "will", "with", "would", "your", "yours", "ours",
    "against",
})
# fmt: on
# A rewrite of the whole summary keeps at least this share of its names and numbers
# (`facts`): one that keeps fewer is something else, and would replace every fact.
KEPT_FACTS_SHARE = 0.5
# A question mostly tells nothing to remember ("What is your favourite food?") and, kept,
# would fill the summary; it is a note only where the person said nothing else.
_QUESTION_ENDS = ("?", "？", "吗", "嗎", "か")
NOTE_MAX_CHARS = 200
# A fold reads this many messages per exchange it takes, and more only where exchanges
# are longer (a question answered in several replies).
FIRST_READ_MESSAGES_PER_EXCHANGE = 4
_CJK_CHARS = "\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff"
_WORDS = re.compile(rf"[{_CJK_CHARS}]+|(?:(?![{_CJK_CHARS}])[^\W\d_]){{{_MIN_WORD_LETTERS},}}|\d+")
# A name: a capitalised Latin word after another word (not one that starts a sentence).
_NAME_AFTER_WORD = re.compile(
    rf"(?:(?<=[^\W_] )|(?<=[^\W_][,;] )|(?<=[{_CJK_CHARS}]))[A-Z][^\W\d_]+"
)
_NUMBER = re.compile(r"\d+")
# A notes line's speaker ("Yuki: …"): who said it, not a fact a rewrite must repeat.
_LINE_LABEL = re.compile(r"^[^\n:：]{1,40}[:：]\s*", re.MULTILINE)
_LIST_MARK = re.compile(r"^\s*(?:\d+[.)、]|[-*•·])?\s*")
_CJK = re.compile(f"[{_CJK_CHARS}]")
_LABEL_MARKS = re.compile(r"[*_`#>【】\[\]「」]+")


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
    transcript: str  # the exchanges folded in, as the model was shown them
    speakers: tuple[str, ...]
    notes: str  # what is kept if the model's answer is not a summary of them
    asked: str  # the person's questions: the notes when there are none and nothing before


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


# Each (id, name) of the exchanges' people and the label the transcript gives them.
Names = dict[tuple[str, str], str]


def names_in(
    exchanges: Sequence[Sequence[Message]],
    char_name: str = "",
    others: Collection[tuple[str, str]] = (),
) -> Names:
    """How the people of these exchanges are named, by her prompt's rule (`told_apart`):
    two of one name, or one named after her (`char_name`: a member named after her does
    not speak as her in her memory), get their ids. A person goes by the name of each
    message, as they were called when they said it. `others`: (id, name) of the rest of
    the conversation, whose names count for collisions too: two members called 小明 each
    in a fold of their own were both plain 小明 in the summary, which led every prompt
    after it with one 小明 who owed money and never borrowed any."""
    people = {(m.user_id, _name(m)) for exchange in exchanges for m in exchange if m.role == "user"}
    everyone = told_apart(people | set(others), [char_name] if char_name else [])
    return {person: everyone[person] for person in people}


def people_named(speakers: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
    """(id, name) of each (id, display name), as `names_in` names a message's speaker."""
    return {(user_id, _named(name, user_id)) for user_id, name in speakers}


def speaker(message: Message, char_name: str, names: Names | None = None) -> str:
    """The name a message goes by in a summary request's transcript: its label in
    `names` (`names_in`), or its bare name without them."""
    if message.role == "assistant":
        return char_name
    # On one line and without a colon, as her prompt names people: a name cannot forge a
    # line of the transcript.
    name = _name(message)
    return names.get((message.user_id, name), name) if names else name


def _name(message: Message) -> str:
    return _named(message.display_name, message.user_id)


def _named(display_name: str, user_id: str) -> str:
    return shown_name(display_name, user_id) or UNNAMED


def transcript(
    exchanges: Sequence[Sequence[Message]],
    char_name: str,
    labels: Labels,
    names: Names | None = None,
) -> str:
    """The exchanges as the model is shown them; `names`: `names_in(exchanges)`, when
    already known."""
    names = names_in(exchanges, char_name) if names is None else names
    lines = []
    for exchange in exchanges:
        for m in exchange:
            # A message's own lines are indented under it: none reads as another's.
            lines.append(said_line(speaker(m, char_name, names), m.content, labels.colon))
    return "\n".join(lines)


def _units(text: str) -> list[str]:
    """Words of a text for the grounding check: Latin-script words of four letters or
    more that are not function words, and numbers, lower-cased; a run of CJK characters
    as its character pairs."""
    units = []
    for run in _WORDS.findall(text.lower()):
        if _CJK.match(run):
            units += [run[i : i + 2] for i in range(max(len(run) - 1, 1))]
        elif run not in _FUNCTION_WORDS:
            units.append(run)
    return units


def facts(text: str, speakers: Collection[str] = ()) -> set[str]:
    """The names and numbers of a summary: numbers, capitalised words inside a sentence
    ("my cat is called Mochi"), and the people of `speakers` it mentions, leaving out
    each line's speaker label."""
    body = _LINE_LABEL.sub("", text)
    found = set(_NUMBER.findall(body)) | set(_NAME_AFTER_WORD.findall(body))
    return found | {who for who in speakers if who and who in body}


def keeps_facts_of(rewrite: str, old: str, speakers: Collection[str] = ()) -> bool:
    """Whether a rewrite of the summary `old` keeps at least `KEPT_FACTS_SHARE` of its
    names and numbers: an invented story that passes for a summary keeps none."""
    wanted = facts(old, speakers)
    if not wanted:
        return True
    return len([f for f in wanted if f in rewrite]) / len(wanted) >= KEPT_FACTS_SHARE


def _label_text(text: str) -> str:
    """A line or a name without the marks a model dresses a label in (bold, brackets,
    a quote mark), to find a transcript line it copied."""
    return _LABEL_MARKS.sub("", text).strip()


def is_summary_of(text: str, sources: str, speakers: Sequence[str]) -> bool:
    """Whether `text` reads as a summary of `sources` rather than a continuation of the
    transcript (a line starting "Name:"), something made up (few of its words said), or
    one in another language than a Chinese or Japanese talk (no CJK character in it: its
    names and numbers alone can pass for said)."""
    labels = [_label_text(who) for who in speakers if _label_text(who)]
    for line in text.splitlines():
        # "3. Name: …", "**Name**: …", "【Name】：…" are transcript lines too.
        head = _LIST_MARK.sub("", _label_text(line))
        if any(re.match(rf"{re.escape(who)}\s*[:：]", head) for who in labels):
            return False
    units = set(_units(text))  # distinct: a word repeated is not more grounded
    if not units:
        return False
    said = _units(sources)
    if 2 * sum(bool(_CJK.match(u)) for u in said) > len(said) and not _CJK.search(text):
        return False  # a Chinese or Japanese talk summed up in another language
    return len(units.intersection(said)) / len(units) >= GROUNDED_SHARE


def notes(
    exchanges: Sequence[Sequence[Message]],
    labels: Labels,
    questions: bool = False,
    char_name: str = "",
    names: Names | None = None,
) -> str:
    """The people's own statements in these exchanges, one line each: what a summary
    keeps when the model could not write one. With `questions`, their questions instead
    ("do you remember my cat Mochi?" holds a fact too): kept when they asked only. A
    member named after her (`char_name`) goes by their id too; `names`:
    `names_in(exchanges, char_name)`, when already known."""
    names = names_in(exchanges, char_name) if names is None else names
    lines = []
    for exchange in exchanges:
        for m in exchange:
            said = " ".join(m.content.split())
            if m.role != "user" or not said or said.endswith(_QUESTION_ENDS) != questions:
                continue
            if len(said) > NOTE_MAX_CHARS:
                said = said[: NOTE_MAX_CHARS - 1] + "…"
            lines.append(f"{speaker(m, '', names)}{labels.colon}{said}")
    return "\n".join(dict.fromkeys(lines))


def exchanges_shown(
    exchanges: Sequence[Sequence[Message]], budget: int, count: Callable[[str], int]
) -> int:
    """How many of the newest `exchanges` fit `budget` tokens, a whole exchange at a time,
    as her prompt fits them (each message with its template overhead)."""
    used = 0
    for shown, exchange in enumerate(reversed(exchanges)):
        used += sum(count(m.content) + TEMPLATE_OVERHEAD_TOKENS for m in exchange)
        if used > budget:
            return shown
    return len(exchanges)


def newest_lines(text: str, max_tokens: int, count: Callable[[str], int]) -> str:
    """The whole lines at the end of `text` that fit `max_tokens`."""
    kept = keep_end(text, max_tokens, count)
    if kept != text and not text[: len(text) - len(kept)].endswith("\n") and "\n" in kept:
        kept = kept.split("\n", 1)[1]  # not half a line
    return kept.strip()


def plan_fold(
    previous: Summary | None,
    unsummarized: Sequence[Message],
    fold_exchanges: int,
    instruction: str,
    char_name: str,
    labels: Labels,
    count: Callable[[str], int],
    max_prompt_tokens: int,
    others: Collection[tuple[str, str]] = (),
) -> FoldPlan | None:
    """The oldest `fold_exchanges` exchanges (fewer if they do not fit
    `max_prompt_tokens`; never the newest exchange) folded into the previous summary.
    None when there is nothing to fold. `others`: the conversation's other people
    (`names_in`)."""
    exchanges = split_exchanges(unsummarized)
    take = exchanges[: min(fold_exchanges, len(exchanges) - 1)]
    if not take:
        return None
    head = f"{labels.previous}\n{previous.text if previous else labels.nothing_yet}\n\n"
    head += f"{labels.conversation}\n"
    room = max_prompt_tokens - count(instruction) - count(head) - 2 * TEMPLATE_OVERHEAD_TOKENS
    names = names_in(take, char_name, others)
    body = transcript(take, char_name, labels, names)
    while len(take) > 1 and count(body) > room:
        take = take[:-1]
        names = names_in(take, char_name, others)
        body = transcript(take, char_name, labels, names)
    if count(body) > room:
        body = _shortened_exchange(take[0], char_name, labels, names, max(room, 0), count)
    speakers = {char_name} | {speaker(m, char_name, names) for exchange in take for m in exchange}
    speakers |= {speaker(m, char_name) for exchange in take for m in exchange}  # bare names
    return FoldPlan(
        messages=[
            {"role": "system", "content": instruction},
            {"role": "user", "content": head + body},
        ],
        covers_up_to=take[-1][-1].id,
        exchanges=len(take),
        transcript=body,
        speakers=tuple(sorted(w for w in speakers if w)),
        notes=notes(take, labels, char_name=char_name, names=names),
        asked=notes(take, labels, questions=True, char_name=char_name, names=names),
    )


def _shortened_exchange(
    exchange: Sequence[Message],
    char_name: str,
    labels: Labels,
    names: Names,
    room: int,
    count: Callable[[str], int],
) -> str:
    """One exchange too long for `room` tokens. Her replies give way first (each keeps its
    start, what answered the message), since what the person told her is what the summary
    is for, but only down to a quarter of the room: the person's messages (each keeps its
    end, as a new message too long for her prompt does) take what her replies leave. A
    short reply of hers beside a long message stays whole. A message cut to nothing is
    left out with its label: an empty turn invited the summary to invent one."""
    hers = [i for i, m in enumerate(exchange) if m.role == "assistant"]
    theirs = [i for i, m in enumerate(exchange) if m.role != "assistant"]
    contents = ["" for _ in exchange]
    labels_alone = "\n".join(
        said_line(speaker(m, char_name, names), "", labels.colon) for m in exchange
    )
    spare = room - count(labels_alone)
    theirs_whole = sum(count(exchange[i].content) for i in theirs)
    hers_whole = sum(count(exchange[i].content) for i in hers)
    # Counted once the person's side is cut, not while their whole text is still in:
    # what theirs leave, never under a quarter, and never more than hers take whole.
    her_room = min(hers_whole, max(spare - theirs_whole, spare // 4))
    hers_used = her_room - _share_out(exchange, hers, contents, her_room, _keep_start, count)
    _share_out(exchange, theirs, contents, spare - hers_used, keep_end, count)
    text = "\n".join(
        said_line(speaker(m, char_name, names), said, labels.colon)
        for m, said in zip(exchange, contents, strict=True)
        if said
    )
    # Counted apart, the pieces may tokenize a little longer together.
    return text if count(text) <= room else keep_end(text, room, count)


def _share_out(
    exchange: Sequence[Message],
    side: Sequence[int],
    contents: list[str],
    room: int,
    keep: Callable[[str, int, Callable[[str], int]], str],
    count: Callable[[str], int],
) -> int:
    """Sets `contents[i]` for each message of `side` to what `keep` leaves of it within a
    share of `room` tokens, shared out in turn: what one message does not use goes to the
    next. Returns the tokens left unused."""
    for n, i in enumerate(side):
        share = max(room // (len(side) - n), 0)
        contents[i] = keep(exchange[i].content, share, count)
        room -= count(contents[i])
    return room


def _keep_start(text: str, max_tokens: int, count: Callable[[str], int]) -> str:
    """The longest start of `text` that counts at most `max_tokens`, with "…" where it was cut."""
    if count(text) <= max_tokens:
        return text
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if count(text[:mid] + "…") <= max_tokens:
            low = mid
        else:
            high = mid - 1
    return text[:low] + "…" if low else ""


class RepeatedFailures:
    """When a failure of a kind is logged: the first at once, the same kind again at most
    every `every` seconds (as `FailureLog` logs the database's), so an engine that fails
    every summary does not fill the log with one traceback per fold."""

    def __init__(self, every: float, clock: Callable[[], float]) -> None:
        self.every = every
        self.clock = clock
        self._last: dict[str, float] = {}
        self._unsaid: dict[str, int] = {}

    def due(self, kind: str) -> int | None:
        """How many of `kind` went unlogged since it last was, if it is to be logged now;
        None while it was logged under `every` seconds ago (this one is counted)."""
        now = self.clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.every:
            self._unsaid[kind] = self._unsaid.get(kind, 0) + 1
            return None
        self._last[kind] = now
        return self._unsaid.pop(kind, 0)

    def logged_before(self, kind: str) -> bool:
        return kind in self._last


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
        max_wait_seconds: float,
        failures: FailureLog | None = None,
        turn_markers: Sequence[str] = (),
        history_tokens: int = 0,
        history_messages: int = 0,
    ) -> None:
        """`failures`: where a database error is logged (one line per kind every few
        minutes, as the service's own; an engine's failures are logged as often);
        without it, one line each time. `turn_markers`: the served template's
        `user_turn_markers`, which an answer is cut at as a reply is: what follows is a
        turn the model wrote for the person, not the summary. `history_tokens`,
        `history_messages`: what her prompt shows of a conversation (`[memory]
        max_history_tokens`, `max_history_messages`), to tell a scope still behind after
        a fold (`_still_behind`); 0: each fold waits for its request."""
        self.memory = memory
        self.batcher = batcher
        self.gen = gen
        self.instruction = instruction
        self.char_name = char_name
        self.labels = LABELS.get(language, LABELS["en"])
        self.count = count
        self.context_window = context_window
        self.max_prompt_tokens = context_window - gen.max_new_tokens
        self.fold_exchanges = fold_exchanges
        self.busy = busy
        self.max_wait = max_wait_seconds
        self.failures = failures or FailureLog(memory.path, log, every=0)
        self.engine_failures = RepeatedFailures(self.failures.every, self.failures.clock)
        self.turn_markers = tuple(turn_markers)
        self.history_tokens = history_tokens
        self.history_messages = history_messages
        self.overdue = 0  # summaries written between replies after waiting `max_wait`
        self.written = 0
        self.compactions = 0
        self.not_summaries = 0  # model answers not taken as summaries (see is_summary_of)
        self.failed = 0  # folds not written: the database or the model failed
        self._pending: dict[str, None] = {}  # scopes to fold, in the order asked
        self._wake = asyncio.Event()
        self._working = False
        self._task: asyncio.Task[None] | None = None

    def leaves_no_room(self) -> str | None:
        """Why no summary request fits the context window beside a `summary_max_tokens`
        answer (its instruction, headings and the least of a transcript), as one
        sentence; None when one does. Said at start: else every fold was cut to an empty
        transcript, and the model asked to summarise nothing."""
        head = f"{self.labels.previous}\n{self.labels.nothing_yet}\n\n{self.labels.conversation}\n"
        request = self.count(self.instruction) + self.count(head) + 2 * TEMPLATE_OVERHEAD_TOKENS
        needed = request + MIN_MESSAGE_TOKENS
        if self.max_prompt_tokens >= needed:
            return None
        most = self.context_window - needed
        fix = f"lower it to {most} or less" if most > 0 else "shorten the card's summary_prompt"
        return (
            f"[memory] summary_max_tokens = {self.gen.max_new_tokens} leaves no room for a "
            f"summary request ({needed} tokens) in the model's {self.context_window}-token "
            f"context window; {fix}."
        )

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="atri-summaries")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
        self._pending.clear()  # never folded now: `idle` does not wait for them

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
                    await self._fold_then_catch_up(scope)
                except sqlite3.Error as exc:
                    self.failed += 1
                    self.failures.report(exc, None, "A memory summary was not written.")
                except Exception as exc:
                    self.failed += 1
                    self._report_failure(scope, exc)
                finally:
                    self._working = False

    async def _fold_then_catch_up(self, scope: str) -> None:
        """One fold; after a whole one, the next is asked for while the scope is still
        behind. It goes to the back of the queue and waits for replies as any fold does;
        a fold that fails (raises) or is not stored ends the catching up."""
        whole = await self._fold_counted(scope) >= self.fold_exchanges
        if whole and await self._still_behind(scope):
            self.request(scope)

    def _report_failure(self, scope: str, exc: Exception) -> None:
        """Log a failed fold: each kind at most every few minutes (an engine that fails
        every summary would log one per fold), the first with its traceback."""
        kind = type(exc).__name__
        first = not self.engine_failures.logged_before(kind)
        unsaid = self.engine_failures.due(kind)
        if unsaid is None:
            return
        since = f" It happened {unsaid} more times since it was last logged." if unsaid else ""
        often = (
            f" While it lasts, this is logged at most every {self.failures.every / 60:g} minutes."
        )
        # The server's sentence (vLLM's 400) says it all; anything else is a bug to trace.
        trace = first and not isinstance(exc, EngineRequestFailed)
        log.error(
            "The memory summary of %s was not written: %s.%s%s",
            scope,
            str(exc).rstrip(".") or kind,
            since,
            often if self.failures.every else "",
            exc_info=exc if trace else None,
        )

    async def _still_behind(self, scope: str) -> bool:
        """Whether some of the scope's exchanges are neither in its summary nor among
        the newest her prompt shows: within `history_tokens` less the summary's share,
        and `history_messages` (as the service finds when it asks for a fold). The
        estimate leaves out room lines and labels, so it errs towards "shown": a fold
        too few waits for the next message's request, one too many would hide exchanges
        she still sees."""
        if not self.history_tokens or not self.history_messages:
            return False
        found = await self.memory.conversation(scope, self.history_messages)
        covered = found.summary.covers_up_to if found.summary else 0
        unsummarized = [m for m in found.messages if m.id > covered]
        capped = len(found.messages) >= self.history_messages - 1
        if unsummarized and capped and len(unsummarized) == len(found.messages):
            return True  # the read ended before the summary did: older ones wait too
        budget = self.history_tokens
        if found.summary is not None:
            budget -= min(self.count(found.summary.text), int(budget * SUMMARY_SHARE))
        exchanges = split_exchanges(unsummarized)
        return exchanges_shown(exchanges, budget, self.count) < len(exchanges)

    async def _generate(self, messages: ChatMessages) -> Generation:
        """Replies being answered come first. Under load that never pauses, the summary
        goes between two batches after `max_wait` seconds anyway, or a busy room would
        never get one; one scope is folded at a time, so that is at most one summary's
        generation per `max_wait` taken from replies."""
        deadline = time.monotonic() + self.max_wait
        while self.busy() and time.monotonic() < deadline:
            await asyncio.sleep(IDLE_POLL_SECONDS)
        overdue = self.busy()
        self.overdue += overdue
        return await self.batcher.submit_low(messages, self.gen, overdue=overdue)

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

    async def _oldest_unsummarized(self, scope: str, after_id: int) -> list[Message]:
        """The oldest live messages after `after_id` that hold the exchanges one fold
        takes and the start of the one after them (or all there are): a conversation
        with thousands of messages not summarized yet (summaries turned on, or one
        rebuilt after a purge) is not read whole at every fold."""
        limit = FIRST_READ_MESSAGES_PER_EXCHANGE * (self.fold_exchanges + 1)
        while True:
            found = await self.memory.messages_after(scope, after_id, limit)
            if len(found) < limit or len(split_exchanges(found)) > self.fold_exchanges:
                return found
            limit *= 4

    @staticmethod
    def _rewrites(shorter: str, text: str, speakers: Sequence[str]) -> bool:
        """Whether `shorter` may replace the whole summary `text`: a summary of it that
        keeps its names and numbers."""
        return bool(shorter) and (
            is_summary_of(shorter, text, speakers) and keeps_facts_of(shorter, text, speakers)
        )

    def _newest_lines_of(self, scope: str, text: str) -> str:
        """The newest lines of a summary whose rewrite was refused, saying so: the facts
        of the lines dropped are forgotten (their text is logged at DEBUG only)."""
        kept = newest_lines(text, self.gen.max_new_tokens, self.count)
        lines, left = len(text.splitlines()), len(kept.splitlines())
        log.info(
            "The summary of %s outgrew summary_max_tokens and its rewrite was refused, so "
            "its %d oldest of %d lines were dropped.",
            scope,
            lines - left,
            lines,
        )
        dropped = text[: text.rindex(kept)] if kept else text
        log.debug("lines dropped from the summary of %s: %r", scope, dropped.strip())
        return kept

    async def fold(self, scope: str) -> bool:
        """Write the scope's next summary; False when there was nothing to fold or a
        reset ended the context or an exchange was taken back meanwhile."""
        return await self._fold_counted(scope) > 0

    async def _fold_counted(self, scope: str) -> int:
        """`fold`, saying how many exchanges the stored summary folded in (0: none)."""
        with self.memory.folding(scope):  # what is taken back from now on is counted
            return await self._fold(scope)

    async def _fold(self, scope: str) -> int:
        taken_back = self.memory.taken_back(scope)
        previous = await self.memory.summary(scope)
        unsummarized = await self._oldest_unsummarized(
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
            others=people_named(await self.memory.speakers_of(scope)),
        )
        if plan is None:
            return 0
        generation = await self._generate(plan.messages)
        # Her name is left on (as it is not on a reply): a line led by it is her next
        # line of the transcript, which `is_summary_of` must see to refuse.
        text = clean_reply(generation.text, turn_markers=self.turn_markers)
        # An empty answer is no summary either: stored, it would hide those exchanges
        # from the model with nothing in their place.
        if not text or not is_summary_of(text, plan.transcript, plan.speakers):
            # Questions only from someone who has told nothing yet: else they would fill
            # the summary with "What is your favourite food?" and push out recent turns.
            text = plan.notes or ("" if previous else plan.asked)
            self.not_summaries += 1
        if previous is not None:  # a line already remembered is not added twice
            lines = [*previous.text.splitlines(), *text.splitlines()]
            text = "\n".join(dict.fromkeys(line for line in lines if line.strip()))
        if self.count(text) > self.gen.max_new_tokens:  # too long: rewritten as one
            generation = await self._generate(self.compact_prompt(text))
            shorter = clean_reply(generation.text, turn_markers=self.turn_markers)
            if self._rewrites(shorter, text, plan.speakers):
                text = shorter
            else:  # the newest lines that fit: an older fact is lost, not replaced
                text = self._newest_lines_of(scope, text)
                self.not_summaries += 1
            self.compactions += 1
        if not text.strip():  # nothing to keep (no words in them): the earlier one stays
            log.debug("no summary of %s: the exchanges held no words to keep", scope)
            return 0
        stored = await self.memory.add_summary(
            scope, text, plan.covers_up_to, generation.adapter_version, taken_back, extends=previous
        )
        self.written += stored
        if not stored and self.memory.taken_back(scope) != taken_back:
            self.request(scope)  # written again from the exchanges still kept
        return plan.exchanges if stored else 0
