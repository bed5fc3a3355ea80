"""Who may call the worker: the bearer token check shared by its routes and the OpenAI API."""

from __future__ import annotations

import hmac

from fastapi import Request

from atri.config import Secrets
from model.protocol import NO_TOKEN_SET, WRONG_TOKEN


class Unauthorized(Exception):
    def __init__(self, message: str, code: str = WRONG_TOKEN) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def check_token(secrets: Secrets, request: Request) -> None:
    """Raise Unauthorized unless the request carries the worker's admin token."""
    if secrets.admin_token is None:
        raise Unauthorized(
            "This worker has no ATRI_ADMIN_TOKEN set, so it refuses this route.", NO_TOKEN_SET
        )
    expected = secrets.admin_token.get_secret_value().encode()
    if not hmac.compare_digest(bearer_token(request).encode(), expected):
        raise Unauthorized("Send the worker's ATRI_ADMIN_TOKEN as 'Authorization: Bearer …'.")


def check_api_key(secrets: Secrets, request: Request) -> None:
    """Raise Unauthorized unless the request carries one of ATRI_API_KEYS (the /v1
    clients' keys) or the admin token: a chat front end's key then opens no admin route."""
    accepted = [*secrets.api_keys, *([secrets.admin_token] if secrets.admin_token else [])]
    if not accepted:
        raise Unauthorized(
            "This worker has neither ATRI_API_KEYS nor ATRI_ADMIN_TOKEN set, so its OpenAI "
            "API refuses every request (openai_api_requires_token = true).",
            NO_TOKEN_SET,
        )
    sent = bearer_token(request).encode()
    # Every key compared, none skipped: the time taken says nothing of which matched.
    if not sum(hmac.compare_digest(sent, k.get_secret_value().encode()) for k in accepted):
        raise Unauthorized("Send one of the worker's ATRI_API_KEYS as 'Authorization: Bearer …'.")
