"""Session 71, /metrics under load as an SRE read it: an overloaded worker looked idle (no
rows in flight, no prompt tokens, a row cut by its deadline uncounted), refusals and
timeouts filled the latency histogram, failed memory writes and summaries were counted
nowhere, restarts and the live adapter were invisible, and a first failure made its
series at 1, which increase() does not see."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from atri.config import GenerationSettings, Secrets, Settings
from model.character.prompt import ChatMessages
from model.engines.base import Generation
from model.protocol import ChatRequest
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.model.test_dberrors_qa38 import fill_the_disk, heard, hello
from tests.model.test_summaries import RamblingEngine, chat, english

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of a scrape, by name and its labels (sorted)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scraped: Samples, name: str, **labels: str) -> float:
    return scraped[(name, tuple(sorted(labels.items())))]


async def scrape(service: ChatService) -> Samples:
    async with (
        serving(create_app(service, Secrets()), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        response = await client.get("/metrics")
    assert response.status_code == 200
    return samples(response.text)


async def test_known_label_sets_are_exported_at_zero_from_the_start(
    echo_settings: Settings,
) -> None:
    async with await ChatService.open(echo_settings) as service:
        scraped = await scrape(service)
    for api in ("chat", "openai"):
        for status in ("ok", "busy", "error", "rate_limited", "refused", "heard", "recalled"):
            assert value(scraped, "atri_requests_total", api=api, status=status) == 0
        assert value(scraped, "atri_requests_total", api=api, status="cancelled") == 0
    for kind in ("reload", "rollback"):
        for result in ("ok", "failed"):
            assert value(scraped, "atri_reloads_total", kind=kind, result=result) == 0
    for what in ("reply", "room_line", "edit", "retention", "command"):
        assert value(scraped, "atri_memory_write_failures_total", what=what) == 0
    assert value(scraped, "atri_rows_in_flight") == 0
    assert value(scraped, "atri_prompt_tokens_total") == 0


async def test_the_live_adapter_and_the_process_are_exported(echo_settings: Settings) -> None:
    async with await ChatService.open(echo_settings) as service:
        scraped = await scrape(service)
    info = [labels for name, labels in scraped if name == "atri_adapter_info"]
    assert info == [(("base", service.engine.base_id), ("engine", "echo"), ("version", ""))]
    assert (
        value(scraped, "atri_adapter_info", base=service.engine.base_id, engine="echo", version="")
        == 1
    )
    if sys.platform == "linux":  # read from /proc: nothing elsewhere
        assert value(scraped, "process_start_time_seconds") > 0
        assert value(scraped, "process_resident_memory_bytes") > 0
        assert ("process_cpu_seconds_total", ()) in scraped


async def test_only_replies_the_model_made_are_latencies(echo_settings: Settings) -> None:
    echo_settings.worker.rate_limit_per_minute = 2
    echo_settings.worker.request_timeout_seconds = 300
    async with await ChatService.open(echo_settings) as service:
        statuses = [(await service.chat(hello(text=f"hi {i}"))).status for i in range(3)]
        statuses.append((await service.chat(heard())).status)
        scraped = await scrape(service)
    assert statuses == ["ok", "ok", "rate_limited", "heard"]
    assert value(scraped, "atri_request_latency_seconds_count", api="chat") == 2
    bounds = sorted(
        float(dict(labels)["le"])
        for name, labels in scraped
        if name == "atri_request_latency_seconds_bucket"
    )
    # Seconds to minutes, the top past the deadline: no reply made lands in +Inf only.
    assert bounds[0] == 0.5
    assert 300 < bounds[-2] < float("inf")


async def test_failed_memory_writes_are_counted(echo_settings: Settings) -> None:
    async with await ChatService.open(echo_settings) as service:
        assert (await service.chat(hello())).status == "ok"
        await fill_the_disk(service)
        for i in range(40):  # past the free room left in the last pages
            assert (await service.chat(hello(text=f"message {i} " * 40))).status == "ok"
        scraped = await scrape(service)
    assert value(scraped, "atri_memory_write_failures_total", what="reply") >= 1


class SummariesFail(RamblingEngine):
    """Replies as ever; every summary's generation fails."""

    async def generate(
        self, batch: list[ChatMessages], gen: GenerationSettings
    ) -> list[Generation]:
        if any(self.is_summary(m) for m in batch):
            raise RuntimeError("the summary's generation failed")
        return await super().generate(batch, gen)


async def test_failed_summaries_are_counted_and_shown_in_status(settings: Settings) -> None:
    english(settings, budget=300)
    engine: Any = SummariesFail("Stay tuned!")  # a scripted engine, as test_summaries'
    async with await ChatService.open(settings, engine=engine) as service:
        summarizer = service.summarizer
        assert summarizer is not None
        for _ in range(4):
            await service.chat(chat("My cat is called Mochi, and the sea is calm today."))
        await summarizer.idle()
        scraped = await scrape(service)
        details = (await service.status()).details
    assert summarizer.failed >= 1
    assert value(scraped, "atri_summary_failures_total") == summarizer.failed
    assert details["summary_failures"] == summarizer.failed
    assert details["summaries_overdue"] == summarizer.overdue


async def test_a_row_cut_by_its_deadline_counts_what_it_generated(
    tiny_settings: Settings,
) -> None:
    """The tiny local model, rows joining its decode loop: a reply longer than the
    deadline allows is cut (busy), and the tokens it generated are counted, as /status
    counts them."""
    # The prompt (about 1,460 tokens) is read well within the deadline, and 2,500 new
    # tokens take the tiny model far longer: the row is cut while it generates.
    tiny_settings.generation.max_new_tokens = 2_500
    # 4 s: the prompt is read in time on a loaded machine too (2 s was not, at times).
    tiny_settings.worker.request_timeout_seconds = 4.0
    async with await ChatService.open(tiny_settings) as service:
        # Each step 20 ms at least: the reply is capped by the tiny model's window (some
        # hundreds of tokens), which an idle fast machine wrote within the 4 s (s73 CI).
        service.engine.model.register_forward_pre_hook(  # type: ignore[attr-defined]
            lambda *_: time.sleep(0.02)
        )
        reply = await service.chat(ChatRequest(platform="p", user_id="u1", text="hello"))
        assert reply.status == "busy"
        stats = service.engine.stats
        for _ in range(100):  # the row ends at the engine's next step
            if stats.generated_tokens:
                break
            await asyncio.sleep(0.05)
        scraped = await scrape(service)
        details = (await service.status()).details
    assert details["generated_tokens"] > 0
    assert value(scraped, "atri_generated_tokens_total") == details["generated_tokens"]
    assert value(scraped, "atri_prompt_tokens_total") == details["prompt_tokens"] > 0


def test_requests_help_says_what_it_counts() -> None:
    from model.metrics import WorkerMetrics

    (family,) = [
        f
        for f in text_string_to_metric_families(WorkerMetrics().render().decode())
        if f.name == "atri_requests"
    ]
    assert "heard" in family.documentation and "recalled" in family.documentation
    assert "decided" in family.documentation
