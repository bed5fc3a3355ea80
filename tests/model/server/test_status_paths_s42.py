"""Session 42 on the worker's `GET /status`: a base model read from a folder is named by
its absolute path to callers holding the worker's token (the bots, which show it to
their owners), and by its folder's name alone to everyone else."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from atri.config import Secrets, Settings
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.model.server.conftest import ADMIN_TOKEN

TOKEN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.mark.parametrize("written", ["absolute", "relative"])
async def test_status_names_a_base_folder_by_its_name_without_the_token(
    echo_worker: tuple[ChatService, str], echo_settings: Settings, written: str
) -> None:
    """Without the token, `/status` gave the base model's path on the worker's machine
    (`[model] base`, or vLLM's model path), which the bots already hid from all but their
    owners; a relative one (`models/qwen`, beside config.toml) was given as written, to
    owners too, though it is read from the config file's folder."""
    service, url = echo_worker
    folder = echo_settings.root / "models" / "qwen"
    folder.mkdir(parents=True)
    service.engine.base_id = str(folder) if written == "absolute" else "models/qwen"  # type: ignore[misc]
    async with httpx.AsyncClient(base_url=url) as client:
        stranger = (await client.get("/status")).json()
        admin = (await client.get("/status", headers=TOKEN)).json()
    assert stranger["base_model"] == "qwen" and stranger["base_is_folder"]
    assert str(echo_settings.root) not in str(stranger)
    assert admin["base_model"] == str(folder) and Path(admin["base_model"]).is_absolute()


async def test_status_shows_a_hub_id_to_anyone(echo_worker: tuple[ChatService, str]) -> None:
    service, url = echo_worker
    service.engine.base_id = "Qwen/Qwen2.5-7B-Instruct"  # type: ignore[misc]
    async with httpx.AsyncClient(base_url=url) as client:
        stranger = (await client.get("/status")).json()
    assert stranger["base_model"] == "Qwen/Qwen2.5-7B-Instruct"
    assert not stranger["base_is_folder"]


async def test_a_worker_without_a_token_names_its_base_folder_to_nobody(
    echo_service: ChatService, echo_settings: Settings
) -> None:
    """No ATRI_ADMIN_TOKEN on the worker: no caller holds it, so none sees the path."""
    folder = echo_settings.root / "models" / "qwen"
    folder.mkdir(parents=True)
    echo_service.engine.base_id = str(folder)  # type: ignore[misc]
    app = create_app(echo_service, Secrets())
    async with (
        serving(app, bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        stranger = (await client.get("/status")).json()
        guess = (await client.get("/status", headers=TOKEN)).json()
    assert stranger["base_model"] == guess["base_model"] == "qwen"


async def test_the_openai_models_route_names_a_base_folder_by_its_name(
    echo_worker: tuple[ChatService, str], echo_settings: Settings
) -> None:
    """`/v1/models` (open by default) gave the folder's absolute path as `root`."""
    service, url = echo_worker
    folder = echo_settings.root / "models" / "qwen"
    folder.mkdir(parents=True)
    service.engine.base_id = "models/qwen"  # type: ignore[misc]
    async with httpx.AsyncClient(base_url=url) as client:
        listed = (await client.get("/v1/models")).json()["data"]
        one = (await client.get("/v1/models/atri")).json()
    assert {m["root"] for m in listed} == {"qwen"} and one["parent"] == "qwen"
    assert str(echo_settings.root) not in str(listed) + str(one)
