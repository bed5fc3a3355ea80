"""`GET /status` without the token names no folder of the worker's machine: a refused
reload's `reason_details` (an eval's path, a base model's folder) go with its `reason`;
its `reason_code` stays, as `code` does. `POST /reload` answers with both fields."""

from __future__ import annotations

import httpx

from model.protocol import ReloadResult
from model.service import ChatService
from tests.model.server.conftest import ADMIN_TOKEN

REFUSED = {
    "when": "2026-01-01T00:00:00+00:00",
    "kind": "reload",
    "ok": False,
    "version": "20260102-000000",
    "message": "Version 20260102-000000 has no eval.json yet …",
    "code": "refused",
    "reason": "Version 20260102-000000 has no eval.json yet …",
    "reason_code": "eval_missing",
    "reason_details": {"path": "/srv/atri/adapters/20260102-000000"},
}


async def test_open_status_drops_the_reason_details_and_keeps_the_code(
    echo_worker: tuple[ChatService, str],
) -> None:
    service, url = echo_worker
    service.last_reload = dict(REFUSED)
    async with httpx.AsyncClient(base_url=url) as client:
        open_view = (await client.get("/status")).json()["last_reload"]
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        admin_view = (await client.get("/status", headers=admin)).json()["last_reload"]
        answer = (await client.post("/reload", headers=admin)).json()
    assert open_view["reason_code"] == "eval_missing"
    assert "reason_details" not in open_view and "/srv/atri" not in str(open_view)
    assert admin_view["reason_details"] == REFUSED["reason_details"]
    # The HTTP API keeps its English sentence and adds the code beside it.
    result = ReloadResult.model_validate(answer)
    assert result.message and result.code == "no_adapters" and result.reason_code == ""
    assert {"reason_code", "reason_details"} <= answer.keys()
