"""Two-person turns: exchanges in which the lead speaks and ATRI answers, as samples."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from dataprep.records import Role, Sample, Turn, Utterance

# Joins consecutive lines of one speaker: each stays its own line (a chat "bubble").
TURN_JOINER = "\n"


@dataclass(frozen=True)
class TurnRules:
    context_turns: int = 6
    narration: str = "skip"  # or "stage": short narration kept as （…） before the next turn
    stage_direction_max_chars: int = 40


def build_samples(
    lines: Iterable[tuple[Utterance, Role]], rules: TurnRules, dropped_lines: Counter[str]
) -> list[Sample]:
    """Group lines into exchanges and turn each ATRI turn into a sample.

    An exchange ends at a third party's line or a scene change. An ATRI turn with no
    lead turn before it in its exchange cannot be a sample; its lines are counted in
    `dropped_lines["no_lead_before"]`.
    """
    samples: list[Sample] = []
    exchange: list[Turn] = []
    stage: list[str] = []
    where = ("", "")

    def close() -> None:
        samples.extend(_samples_of(exchange, where, rules.context_turns, dropped_lines))
        exchange.clear()
        stage.clear()

    for utterance, role in lines:
        here = (utterance.source, utterance.scene)
        if here != where:
            close()
            where = here
        if role is Role.NARRATION:
            if rules.narration == "stage" and exchange:
                stage.append(utterance.text)
            continue
        if role is Role.OTHER:
            close()
            continue
        text = utterance.text
        if stage:
            direction = "".join(stage)
            if len(direction) <= rules.stage_direction_max_chars:
                text = f"（{direction}）{text}"
            stage.clear()
        if exchange and exchange[-1].role is role:
            last = exchange[-1]
            last.text = f"{last.text}{TURN_JOINER}{text}"
            last.lines.append((utterance.source, utterance.line))
        else:
            exchange.append(Turn(role, text, [(utterance.source, utterance.line)]))
    close()
    return samples


def _samples_of(
    turns: list[Turn], where: tuple[str, str], context: int, dropped_lines: Counter[str]
) -> list[Sample]:
    out: list[Sample] = []
    for i, turn in enumerate(turns):
        if turn.role is not Role.ATRI:
            continue
        if i == 0:
            dropped_lines["no_lead_before"] += len(turn.lines)
            continue
        window = turns[max(0, i - context) : i + 1]
        # sharegpt needs human first: drop a leading ATRI turn the window cut into.
        if window[0].role is Role.ATRI:
            window = window[1:]
        out.append(
            Sample(
                turns=[(t.role, t.text) for t in window],
                source=where[0],
                scene=where[1],
                reply_lines=list(turn.lines),
            )
        )
    return out
