"""A worker whose reloads are recorded, not run: which version a bot command asked for."""

from __future__ import annotations

import pytest

from model.protocol import ReloadResult
from model.service import ChatService


def record_reloads(monkeypatch: pytest.MonkeyPatch, service: ChatService) -> list[str]:
    """The versions `service.reload` is asked for from now on ("" for the newest)."""
    versions: list[str] = []

    async def reload(version: str = "") -> ReloadResult:
        versions.append(version)
        return ReloadResult(ok=True, message="", code="switched", version=version or "x")

    monkeypatch.setattr(service, "reload", reload)
    return versions
