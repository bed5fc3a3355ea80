"""Engine "openai": generation on a remote OpenAI-compatible server (vLLM, another worker).

Each row of a batch becomes one `/chat/completions` request, all sent at once: the
server (vLLM's continuous batching, replicas behind a balancer) batches them its own
way. Adapter versions are registered with vLLM's runtime LoRA API
(`/load_lora_adapter`, `/unload_lora_adapter`; vLLM runs with `--enable-lora` and
`VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`); the live one is asked for by name.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from pathlib import Path
from typing import Any

import httpx

from atri.config import ConfigError, GenerationSettings, Secrets, Settings
from model.character.prompt import ChatMessages
from model.engines.base import EngineStats, Generation

log = logging.getLogger(__name__)

DEFAULT_CONTEXT_WINDOW = 4096
CONNECT_TIMEOUT_SECONDS = 5.0
# Generation may queue behind other users' on the server; the worker's own request
# timeout still bounds what a user waits.
READ_TIMEOUT_SECONDS = 600.0
_WIDE = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef\uac00-\ud7af]")


class RemoteEngineError(Exception):
    """The remote server refused or failed a request; str() says which and why."""


def approx_tokens(text: str) -> int:
    """Without the server's tokenizer: a CJK character is about one token, other text
    about four characters per token. Used only for history and context budgets."""
    wide = len(_WIDE.findall(text))
    return wide + math.ceil((len(text) - wide) / 4)


class OpenAIEngine:
    name = "openai"

    def __init__(
        self,
        settings: Settings,
        client: httpx.AsyncClient,
        context_window: int,
        base_id: str,
    ) -> None:
        self.base_url = settings.model.openai_base_url.rstrip("/")
        self.model_name = settings.model.openai_model
        self.base_id = base_id
        self.config_hash = f"openai:{base_id}"
        self.context_window = context_window
        self.stats = EngineStats()
        self.live_lora = ""
        self.loaded_loras: dict[str, str] = {}
        self._client = client

    @classmethod
    async def open(cls, settings: Settings, secrets: Secrets | None = None) -> OpenAIEngine:
        """Connect and ask the server for its models; an unreachable server is a config
        problem reported in one sentence."""
        secrets = secrets or Secrets.from_env()
        headers = {}
        if secrets.openai_api_key is not None:
            headers["Authorization"] = f"Bearer {secrets.openai_api_key.get_secret_value()}"
        base_url = settings.model.openai_base_url.rstrip("/")
        client = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(READ_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
        )
        try:
            response = await client.get("/models")
            response.raise_for_status()
            listed = response.json().get("data", [])
        except (httpx.HTTPError, ValueError) as exc:
            await client.aclose()
            raise ConfigError(
                f"Cannot reach the OpenAI-compatible server at {base_url} ({exc}); start it "
                "or fix [model] openai_base_url (and ATRI_OPENAI_API_KEY if it needs one)."
            ) from None
        model = settings.model.openai_model
        entry: dict[str, Any] = next((m for m in listed if m.get("id") == model), {})
        window = settings.model.context_window or int(
            entry.get("max_model_len") or DEFAULT_CONTEXT_WINDOW
        )
        return cls(settings, client, window, str(entry.get("root") or model))

    @property
    def adapter_version(self) -> str:
        return self.live_lora

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    async def generate(
        self, batch: list[ChatMessages], gen: GenerationSettings
    ) -> list[Generation]:
        model = self.live_lora or self.model_name
        results = list(await asyncio.gather(*(self._one(m, gen, model) for m in batch)))
        self.stats.generate_calls += 1
        self.stats.generated_rows += len(batch)
        self.stats.generated_tokens += sum(r.new_tokens for r in results)
        self.stats.batch_sizes.append(len(batch))
        return results

    async def _one(self, messages: ChatMessages, gen: GenerationSettings, model: str) -> Generation:
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "max_tokens": gen.max_new_tokens,
            "temperature": gen.temperature if gen.do_sample else 0.0,
            "top_p": gen.top_p if gen.do_sample else 1.0,
            # vLLM's sampling extensions; OpenAI-compatible servers ignore what they lack.
            "top_k": gen.top_k if gen.do_sample and gen.top_k > 0 else -1,
            "repetition_penalty": gen.repetition_penalty,
        }
        data = await self._post("/chat/completions", body)
        try:
            text = data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise RemoteEngineError(f"{self.base_url}: a completion without a message.") from None
        usage = data.get("usage") or {}
        tokens = int(usage.get("completion_tokens") or approx_tokens(text))
        return Generation(text=text, new_tokens=tokens, adapter_version=self.live_lora)

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        try:
            response = await self._client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise RemoteEngineError(f"{self.base_url}{path}: {type(exc).__name__} {exc}") from None
        if response.status_code >= 400:
            raise RemoteEngineError(
                f"{self.base_url}{path} answered HTTP {response.status_code}: {response.text[:300]}"
            )
        try:
            return response.json()
        except ValueError:
            return response.text  # vLLM answers the LoRA routes in plain text

    async def load_adapter(self, path: Path | str, name: str) -> None:
        """Register an adapter version with vLLM. `path` must exist on the vLLM host (share
        the adapters folder at the same path)."""
        await self._post("/load_lora_adapter", {"lora_name": name, "lora_path": str(path)})
        self.loaded_loras[name] = str(path)

    def accepts_config_hash(self, value: str) -> bool:
        """The remote base's config is not visible from here; vLLM itself refuses an
        adapter that does not fit its base when it loads it, and the reload keeps the
        live version then."""
        return True

    async def smoke_test(self, name: str, messages: ChatMessages, max_new_tokens: int) -> str:
        """One short greedy reply from the registered adapter `name`."""
        gen = GenerationSettings(max_new_tokens=max_new_tokens, do_sample=False)
        return (await self._one(messages, gen, name)).text

    async def activate(self, name: str) -> None:
        """Ask for `name` from the next batch on ("" = the base model)."""
        if name and name not in self.loaded_loras:
            raise RemoteEngineError(f"LoRA adapter {name!r} is not loaded on {self.base_url}.")
        self.live_lora = name

    async def unload_adapter(self, name: str) -> None:
        """Drop a registered version from vLLM; the live one is never dropped."""
        if not name or name == self.live_lora or name not in self.loaded_loras:
            return
        await self._post("/unload_lora_adapter", {"lora_name": name})
        del self.loaded_loras[name]

    async def close(self) -> None:
        await self._client.aclose()
