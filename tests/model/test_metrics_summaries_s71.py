"""Session 71: /metrics lacked the background summarizer's counts that /status shows, so
an operator graphing memory health could not see summaries refused or compacted."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from atri.config import Secrets, Settings
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.model.test_summaries import RamblingEngine, chat, english

SUMMARY_COUNTERS = (
    "atri_summaries_written",
    "atri_summaries_overdue",
    "atri_summary_compactions",
    "atri_summary_answers_not_taken",
)


def counters(text: str) -> dict[str, float]:
    """Each counter family's value, by the name its HELP and TYPE lines give."""
    return {
        family.name: family.samples[0].value
        for family in text_string_to_metric_families(text)
        if family.type == "counter" and family.samples
    }


async def test_metrics_export_the_summarizers_counts(settings: Settings) -> None:
    # A model that never summarises, and a summary small enough to be rewritten: folds
    # are written from the person's own lines, rewrites refused, both counted.
    english(settings, budget=300).memory.summary_max_tokens = 60
    async with (
        await ChatService.open(
            settings, engine=RamblingEngine("Stay tuned, everybody!")
        ) as service,
        serving(create_app(service, Secrets()), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        summarizer = service.summarizer
        assert summarizer is not None
        for fact in ("My cat is called Mochi.", "My sister is Minamo.", "My town is flooded."):
            await service.chat(chat(fact))
            for _ in range(3):
                await service.chat(chat("Is it raining?"))
            await summarizer.idle()
        response = await client.get("/metrics")
        details = (await service.status()).details
    assert summarizer.written >= 1 and summarizer.compactions >= 1
    assert summarizer.not_summaries >= 1
    for name in SUMMARY_COUNTERS:
        assert f"# TYPE {name}_total counter" in response.text
    assert {name: v for name, v in counters(response.text).items() if "summar" in name} == {
        "atri_summaries_written": summarizer.written,
        "atri_summaries_overdue": summarizer.overdue,
        "atri_summary_compactions": summarizer.compactions,
        "atri_summary_answers_not_taken": summarizer.not_summaries,
        "atri_summary_failures": summarizer.failed,
    }
    # The same counts /status shows.
    assert details["summary_compactions"] == summarizer.compactions
    assert details["summary_answers_not_taken"] == summarizer.not_summaries


async def test_without_summaries_metrics_leave_them_out(echo_settings: Settings) -> None:
    """Absent, not 0: a summarizer that is off has failed nothing."""
    echo_settings.memory.summaries = False
    async with await ChatService.open(echo_settings) as service:
        assert service.summarizer is None
        text = service.metrics.render().decode()
    assert "# TYPE atri_requests_total counter" in text
    assert "summar" not in text
