"""The recall probe set: a fact told early in a long conversation, asked about much later.

Each probe runs in a conversation of its own through the real `ChatService` (memory,
fitting, summaries): the fact, `filler` exchanges of small talk, then the question. Two
figures come out: whether the fact was *carried* into the prompt of the question (by the
rolling summary, or still in the history the prompt holds), which is the mechanism, and
whether the reply *recalled* it, which is what the model made of it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atri.text_files import NotUtf8Error, read_hand_written
from model.evaluation.probes import ProbeError
from model.protocol import ChatRequest, ScopeRef

PACKAGED_RECALL_PROBES = Path(__file__).with_name("recall.toml")
DEFAULT_FILLER_EXCHANGES = 20
PLATFORM = "eval"


@dataclass(frozen=True)
class RecallProbe:
    said: str
    asked: str
    answer: str


@dataclass(frozen=True)
class RecallSet:
    probes: list[RecallProbe]
    filler: list[str]


@dataclass
class RecallResult:
    probe: RecallProbe
    # The fact was in what the question's prompt is built from: the summary, or a turn
    # not folded yet (which fit_prompt may still leave out when the budget is short).
    carried: bool
    recalled: bool  # the reply holds the answer
    reply: str
    summary: str


@dataclass
class RecallReport:
    filler_exchanges: int
    results: list[RecallResult] = field(default_factory=list)
    summaries: int = 0  # summaries written
    not_summaries: int = 0  # model answers that were no summary (statements kept instead)

    @property
    def carried_rate(self) -> float:
        return sum(r.carried for r in self.results) / max(len(self.results), 1)

    @property
    def recall_rate(self) -> float:
        return sum(r.recalled for r in self.results) / max(len(self.results), 1)


def load_recall_probes(language: str, path: Path | None = None) -> RecallSet:
    """The probes in `language` ("en", "zh" or "ja"; other languages use the English ones)."""
    path = path or PACKAGED_RECALL_PROBES
    try:
        data = tomllib.loads(read_hand_written(Path(path)))
    except NotUtf8Error as exc:
        raise ProbeError(f"{path}: recall probe file {exc}.") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProbeError(f"{path}: cannot be read as a recall probe file ({exc}).") from None
    part: Any = data.get(language if language in data else "en", {})
    filler = part.get("filler", []) if isinstance(part, dict) else []
    entries = part.get("probe", []) if isinstance(part, dict) else []
    probes = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) and entry[k].strip() for k in ("said", "asked", "answer")
        ):
            raise ProbeError(f'{path}: recall probe {i} needs "said", "asked" and "answer".')
        probes.append(RecallProbe(entry["said"], entry["asked"], entry["answer"]))
    if not probes or not filler or not all(isinstance(f, str) for f in filler):
        raise ProbeError(f"{path}: needs [[{language}.probe]] entries and a filler list.")
    return RecallSet(probes, filler)


async def run_recall(
    service: Any, probes: RecallSet, filler_exchanges: int = DEFAULT_FILLER_EXCHANGES
) -> RecallReport:
    """Run every probe through `service` (a `ChatService`), each in a fresh scope. The
    background summaries are awaited after each message, as a quiet worker would have
    written them by the next one."""
    report = RecallReport(filler_exchanges)
    for i, probe in enumerate(probes.probes):
        user = f"recall-{i}"
        ref = ScopeRef(platform=PLATFORM, user_id=user)
        await service.purge(ref)  # a rerun starts from nothing

        async def say(text: str, user: str = user) -> str:
            reply = await service.chat(
                ChatRequest(platform=PLATFORM, user_id=user, text=text, display_name="Tester")
            )
            if service.summarizer is not None:
                await service.summarizer.idle()
            return str(reply.text)

        await say(probe.said)
        for n in range(filler_exchanges):
            await say(probes.filler[n % len(probes.filler)])
        before = await service.remembered(ref)  # what the question's prompt starts from
        answer = probe.answer.lower()
        carried = answer in before.summary.lower() or any(
            answer in t.content.lower() for t in before.turns if t.role == "user"
        )
        reply = await say(probe.asked)
        report.results.append(
            RecallResult(probe, carried, answer in reply.lower(), reply, before.summary)
        )
        await service.purge(ref)
    if service.summarizer is not None:
        report.summaries = service.summarizer.written
        report.not_summaries = service.summarizer.not_summaries
    return report
