"""A vLLM replica the openai engine talks to, and what its model list says it serves.

vLLM's model list is read as its `serving_models.py` writes it: a base card has `root` =
the model path and `max_model_len`; a LoRA card has `root` = the adapter folder and
`parent` = the base card's name. So `[model] openai_model` may name either, and LoRAs a
replica already holds (a restarted worker) count as loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from atri.config import ConfigError


class ReplicaDown(Exception):
    """A replica did not answer, or failed inside (5xx): take it out of the rotation."""


@dataclass
class Replica:
    url: str
    client: httpx.AsyncClient
    down_since: float | None = None  # time.monotonic() when it left the rotation
    reason: str = ""
    held: dict[str, str] = field(default_factory=dict)  # LoRA name -> path, as it reports
    answered_at: float = 0.0  # time.monotonic() of its last completion


def held_loras(cards: list[dict[str, Any]]) -> dict[str, str]:
    """The LoRA cards of a model list: a card whose `parent` names another card."""
    ids = {str(c.get("id")) for c in cards}
    return {
        str(c["id"]): str(c.get("root") or "")
        for c in cards
        if c.get("parent") and c.get("parent") != c.get("id") and str(c["parent"]) in ids
    }


def resolve_model(
    cards: list[dict[str, Any]], model: str, url: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(the base card, the LoRA card or None) for the model name `model`."""
    by_id = {str(c.get("id")): c for c in cards}
    card = by_id.get(model)
    if card is None:
        raise ConfigError(
            f"The server at {url} serves no model named {model!r} (it serves "
            f"{', '.join(sorted(by_id)) or 'none'}); set [model] openai_model to one of them."
        )
    parent = str(card.get("parent") or "")
    if parent and parent != model and parent in by_id:
        return by_id[parent], card
    return card, None


def base_facts(cards: list[dict[str, Any]], model: str, url: str) -> tuple[str, int]:
    """What the base under the model name `model` is (its path, vLLM's `root`) and its
    window (`max_model_len`, 0 where the card names none): what replicas must share."""
    base, _ = resolve_model(cards, model, url)
    return str(base.get("root") or base["id"]), int(base.get("max_model_len") or 0)


# A model list comes at once from a well server: one that hangs is out, not waited for
# for the client's 600 s read timeout (at start-up that held the worker for 10 minutes).
LIST_TIMEOUT_SECONDS = 15.0


async def list_models(replica: Replica) -> list[dict[str, Any]]:
    """The model cards a replica serves."""
    try:
        response = await replica.client.get("/models", timeout=LIST_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        raise ReplicaDown(f"{replica.url}/models: {type(exc).__name__} {exc}") from None
    if response.status_code != 200:
        # httpx's own text for a status adds a line and a link; the server's says why.
        hint = (
            "; does the URL end in /v1?"
            if response.status_code == 404 and not replica.url.rstrip("/").endswith("/v1")
            else ""
        )
        raise ReplicaDown(
            f"{replica.url}/models answered HTTP {response.status_code}: "
            f"{' '.join(response.text[:200].split())}{hint}"
        )
    try:
        data = response.json().get("data", [])
    except (ValueError, AttributeError) as exc:
        raise ReplicaDown(f"{replica.url}/models: {type(exc).__name__} {exc}") from None
    return [c for c in data if isinstance(c, dict) and c.get("id")]
