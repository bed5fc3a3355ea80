"""`trusted_proxies = ["*"]` on a worker others reach lets each client name its own
address (X-Forwarded-For) and so pass the per-address limits: said at start."""

from __future__ import annotations

from atri.cli import worker_access_notices
from atri.config import Secrets, Settings


def test_trusting_every_proxy_on_an_open_host_is_said_at_start() -> None:
    settings = Settings()
    token = Secrets.from_env({"ATRI_ADMIN_TOKEN": "t"})
    settings.worker.trusted_proxies = ["*"]
    assert worker_access_notices(settings, token) == []  # loopback: only this machine
    settings.worker.host = "0.0.0.0"
    settings.worker.openai_api_requires_token = True
    (said,) = worker_access_notices(settings, token)
    assert said.startswith('[worker] trusted_proxies = ["*"] takes X-Forwarded-For')
    settings.worker.trusted_proxies = ["10.0.0.5"]
    assert worker_access_notices(settings, token) == []
