"""The recall probe set on a scripted engine that records its prompts: the summary is
what carries each early fact into the prompt of the late question."""

from __future__ import annotations

from atri.config import GenerationSettings, Settings
from model.character.prompt import ChatMessages
from model.engines.base import Generation
from model.evaluation.recall import load_recall_probes, run_recall
from model.service import ChatService
from tests.model.test_summaries import ScriptedEngine, english


class AnsweringEngine(ScriptedEngine):
    """Answers a chat message with the facts its prompt holds (the summary's "- " lines)
    and the message itself: a model that reads its prompt."""

    async def generate(
        self, batch: list[ChatMessages], gen: GenerationSettings
    ) -> list[Generation]:
        out = await super().generate(batch, gen)
        for messages, generation in zip(batch, out, strict=True):
            if not self.is_summary(messages):
                facts = [
                    line
                    for m in messages[1:]
                    for line in m["content"].splitlines()
                    if line.startswith("- ")
                ]
                generation.text = " ".join([*facts, generation.text])
        return out


def question_prompts(engine: ScriptedEngine, asked: list[str]) -> list[str]:
    """The whole prompt (every message) of each question, in the order asked (the
    question ends its last message, which the summary leads when no exchange is shown)."""
    found = []
    for question in asked:
        prompt = next(
            p
            for p in engine.prompts
            if not engine.is_summary(p) and p[-1]["content"].endswith(question)
        )
        found.append("\n".join(m["content"] for m in prompt))
    return found


async def test_every_early_fact_reaches_the_late_question_through_the_summary(
    settings: Settings,
) -> None:
    engine = AnsweringEngine()
    async with await ChatService.open(english(settings, budget=400), engine=engine) as service:
        probes = load_recall_probes("en")
        report = await run_recall(service, probes, filler_exchanges=20)
        assert len(report.results) == len(probes.probes) == 4
        assert report.carried_rate == 1.0 and report.recall_rate == 1.0
        prompts = question_prompts(engine, [p.asked for p in probes.probes])
        for probe, result, prompt in zip(probes.probes, report.results, prompts, strict=True):
            assert probe.said in result.summary
            # In the prompt through the summary, not as the message it was told in.
            assert f"- {probe.said}" in prompt and f"\n{probe.said}" not in prompt
            assert prompt.startswith(service.system_prompt)
        # Each probe ran in a scope of its own, purged afterwards.
        assert await service.memory.scopes() == []


async def test_without_summaries_the_early_facts_fall_out_of_the_prompt(
    settings: Settings,
) -> None:
    english(settings, budget=400).memory.summaries = False
    engine = AnsweringEngine()
    async with await ChatService.open(settings, engine=engine) as service:
        probes = load_recall_probes("en")
        report = await run_recall(service, probes, filler_exchanges=20)
        assert report.recall_rate == 0.0
        for probe, prompt in zip(
            probes.probes, question_prompts(engine, [p.asked for p in probes.probes]), strict=True
        ):
            assert probe.answer not in prompt


def test_the_chinese_probes_follow_her_language() -> None:
    probes = load_recall_probes("zh")
    assert probes.probes[0].answer == "年糕" and len(probes.filler) == 8
    assert load_recall_probes("ja").probes[0].answer == "モチ"
    assert load_recall_probes("ko").probes[0].answer == "Mochi"  # no Korean set: English
