"""Session 73 (secrets audit): `atri adapters list` and `prune` ask the worker's /status
with the admin token, and urllib followed a redirect with every header: a worker URL
that redirected (a proxy, a moved host) handed ATRI_ADMIN_TOKEN to another host. A
redirect is now an answer, said as such. Real HTTP servers on this machine."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler

from pydantic import SecretStr

from atri.config import Secrets
from model.adapters.inventory import _status
from tests.atri.test_adapters_list_prune_s53 import http_server


def test_a_redirected_status_request_takes_the_admin_token_nowhere() -> None:
    heard: list[str | None] = []

    class Elsewhere(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            heard.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    with http_server(Elsewhere) as elsewhere:

        class Redirecting(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(302)
                self.send_header("Location", f"{elsewhere}/status")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        with http_server(Redirecting) as worker:
            said = _status(worker, Secrets(admin_token=SecretStr("s3cret-admin")))

    assert said == "it answered /status with HTTP 302"
    assert heard == []  # the other host was never asked, the token never sent there
